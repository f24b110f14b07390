"""The `claude` backend: each model agent is a real Claude Code agent (claude-agent-sdk).

One CLI process per agent, driven through `ClaudeSDKClient`, started as `claude_options` says
(the agent's prompt and tools, its plugin loaded, its skills). Pause interrupts the turn and
keeps the conversation; resume sends "continue" in the same session, and the answer is the
whole of it. An API that goes silent shows the agent "stalled" after `stall_warn_seconds` and
fails it after `stall_seconds`. Cancel interrupts and closes the CLI, and checks that its process
is gone. Steering writes the user's message to the CLI mid-turn: Claude Code takes it into the
turn at its next request, or runs a turn of its own for it once the turn ends; the CLI echoes
each message as it takes it (`--replay-user-messages`), so the run knows which results end it.
What each message of the CLI's does to the run is `claude_messages`.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import uuid
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ...models import Item, Plan
from ...pricing import PriceTable
from ...procs import is_same_process, process_start_time
from .base import (
    STALLED,
    AgentContext,
    AgentOutcome,
    AgentReporter,
    AgentRun,
    Backend,
    BackendUnavailable,
    CannotSteer,
)
from .claude_errors import describe_exception, describe_result_error, describe_stall
from .claude_messages import ClaudeMessages
from .claude_options import ClaudeSetup, agent_input, agent_options, extras_left_out
from .claude_planner import plan_on_claude
from .claude_usage import UsageMeter
from .output import BoundedText
from .select import INSTALL_HINT

if TYPE_CHECKING:
    from claude_agent_sdk import ClaudeSDKClient, ResultMessage

CONTINUE_PROMPT = "continue"
CANCELLED = "cancelled"
_CONTROL_TIMEOUT = 10.0  # seconds an interrupt may take before we stop waiting for it
_STDERR_LINES = 20


def import_sdk() -> None:
    """Make sure claude-agent-sdk can be imported (BackendUnavailable with the fix if not)."""
    try:
        import claude_agent_sdk  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailable(
            f"the Claude backend needs the 'claude' extra ({exc}): {INSTALL_HINT}"
        ) from None


class ClaudeBackend(Backend):
    name = "claude"

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        cli_path: str | Path | None = None,
        default_model: str | None = None,
        prices: PriceTable | None = None,
        stall_seconds: float = 60.0,
        config_dir: Path | None = None,
        stall_warn_seconds: float = 20.0,
    ) -> None:
        """`env` is added to the CLI's environment (e.g. ANTHROPIC_BASE_URL); `cli_path`
        overrides the CLI bundled with the SDK; `prices` cross-checks the CLI's cost;
        `config_dir`, when set, holds Claude Code's own files (an isolated home); an API silent
        for `stall_warn_seconds` shows the agent stalled, for `stall_seconds` fails it."""
        self.setup = ClaudeSetup(
            env=dict(env or {}),
            cli_path=cli_path,
            default_model=default_model,
            stall_seconds=stall_seconds,
            config_dir=config_dir,
        )
        self.prices = prices or PriceTable()
        self.stall_warn_seconds = stall_warn_seconds

    async def start(self, ctx: AgentContext, reporter: AgentReporter) -> AgentRun:
        import_sdk()
        return ClaudeRun(ctx, reporter, self)

    async def plan(
        self, item: Item, task: str, *, max_parallel: int | None = None, session_id: str = ""
    ) -> Plan:
        """Claude's plan for `task` on `item`, else the heuristic's saying why (see
        `claude_planner`)."""
        return await plan_on_claude(
            item, task, self.setup, self.prices, max_parallel=max_parallel, session_id=session_id
        )


class ClaudeRun(ClaudeMessages, AgentRun):
    """One Claude Code agent: a CLI process, one conversation, live controls."""

    _backend: ClaudeBackend

    def __init__(self, ctx: AgentContext, reporter: AgentReporter, backend: ClaudeBackend) -> None:
        self._ctx, self._reporter, self._backend = ctx, reporter, backend
        self._meter = UsageMeter()
        self._text = BoundedText()  # what the agent said, in full messages
        self._earlier: list[str] = []  # the answers of turns a pause interrupted
        self._turn_text: list[str] = []  # this turn's messages
        self._writing = ""  # the message being streamed, for the step line
        self._stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        self._client: ClaudeSDKClient | None = None
        self._pid: tuple[int, float] | None = None  # the CLI process and its start time
        self._session_id: str | None = None
        self._model: str | None = None
        self._assistant_error: str | None = None
        self._synthetic = False  # the last message was Claude Code's own, not the model's
        self._in_turn = False  # a prompt has been sent and its result not yet received
        self._paused = False
        self._paused_in_turn = False  # a pause interrupted the turn: continue it afterwards
        self._resumed = anyio.Event()
        self._stopped = False
        self._stalled = False
        self._heard = 0.0  # when the API was last heard from (anyio's clock)
        self._tool_running = False  # a tool call is out: silence is the tool's, not the API's
        self._warned = False  # this silence was shown as a stall
        self._steers: list[str] = []  # the user's messages for the next turn
        self._untaken: set[str] = set()  # ids of messages sent that the CLI has not taken yet
        self._waiting = False
        self._finished = anyio.Event()  # wait() has returned and closed everything

    # --- controls -----------------------------------------------------------------------

    async def pause(self) -> None:
        if self._paused or self._stopped:
            return
        self._paused, self._resumed = True, anyio.Event()
        if self._in_turn:
            self._paused_in_turn = True
            await self._interrupt()

    async def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._resumed.set()

    async def stop(self) -> None:
        self._stopped = True
        self._resumed.set()
        if self._in_turn:
            await self._interrupt()
        await self._close()
        if self._waiting:  # it may be starting a CLI right now: let it wind down
            with anyio.move_on_after(3 * _CONTROL_TIMEOUT):
                await self._finished.wait()

    async def steer(self, text: str) -> None:
        if self._stopped or self._finished.is_set():
            raise CannotSteer("it has ended")
        client = self._client
        if self._in_turn and client is not None:
            await self._send(client, text)
        else:  # between turns: it goes with the next one
            self._steers.append(text)

    async def _send(self, client: ClaudeSDKClient, text: str) -> None:
        """The user's message, into the conversation now (the CLI queues it if busy)."""
        message_id = str(uuid.uuid4())
        self._untaken.add(message_id)
        conversation = self._session_id or "default"
        await client.query(_user_message(text, message_id), session_id=conversation)

    # --- the run ------------------------------------------------------------------------

    async def wait(self) -> AgentOutcome:
        self._waiting = True
        try:
            return await self._run()
        except Exception as exc:
            if self._stopped:
                return self._outcome(ok=False, error=CANCELLED)
            if self._stalled:
                return self._outcome(ok=False, error=describe_stall(self._stall_seconds))
            return self._outcome(ok=False, error=describe_exception(exc, self._stderr_tail()))
        finally:
            with anyio.CancelScope(shield=True):
                await self._close()
            self._finished.set()

    async def _run(self) -> AgentOutcome:
        prompt: str | None = agent_input(self._ctx)
        if self._ctx.conversation:  # the session resumes: its conversation goes on
            prompt, self._session_id = CONTINUE_PROMPT, self._ctx.conversation
            self._earlier = [self._ctx.earlier_output.strip()] if self._ctx.earlier_output else []
            self._reporter.output("[cowork-tui] resumed: the conversation goes on\n")
        if note := extras_left_out(self._ctx):
            self._reporter.output(note + "\n")
        while True:
            while self._paused and not self._stopped:
                await self._resumed.wait()
            if self._stopped:
                return self._outcome(ok=False, error=CANCELLED)
            result = await self._turn(prompt)
            if self._stopped:
                return self._outcome(ok=False, error=CANCELLED)
            if self._stalled:
                return self._outcome(ok=False, error=describe_stall(self._stall_seconds))
            if result is not None and not _was_interrupted(result) and self._steers:
                self._keep_answer(result)  # a message came as the turn ended: one more turn
                prompt = None
                continue
            paused_in_turn, self._paused_in_turn = self._paused_in_turn, False
            if result is None or _was_interrupted(result):
                if paused_in_turn or self._paused:  # pick the conversation up again on resume
                    if paused_in_turn and self._turn_text:
                        self._earlier.append("\n\n".join(self._turn_text))
                    prompt = CONTINUE_PROMPT if paused_in_turn else prompt
                    continue
                if result is None:
                    return self._outcome(ok=False, error="Claude Code ended without a result")
                return self._outcome(ok=False, error="interrupted")
            return self._finish(result)

    async def _turn(self, prompt: str | None) -> ResultMessage | None:
        """Send one prompt (None: only the user's messages waiting) and read until its result
        (None if it was not sent); a watchdog ends the turn when the API stays silent for
        `stall_seconds`."""
        client = await self._connect()
        if self._paused or self._stopped:
            return None
        self._in_turn, self._turn_text = True, []
        try:
            self._reporter.progress(None, "starting" if prompt != CONTINUE_PROMPT else "resuming")
            self._heard, self._warned = anyio.current_time(), False
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._watch_for_stall)
                if prompt is not None:
                    await client.query(prompt, session_id=self._session_id or "default")
                while self._steers:
                    await self._send(client, self._steers.pop(0))
                result = await self._read_turn(client)
                tg.cancel_scope.cancel()
            return result
        finally:
            self._in_turn = False

    async def _read_turn(self, client: ClaudeSDKClient) -> ResultMessage | None:
        """The turn's messages up to its result; past a result while a message of the user's
        is not taken yet (the CLI runs a turn for it next). Paused, that turn is interrupted
        as it starts."""
        from claude_agent_sdk import UserMessage

        result = None
        async for message in client.receive_messages():
            if isinstance(message, UserMessage) and message.uuid in self._untaken:
                self._untaken.discard(message.uuid)  # the CLI has taken it into the turn
                if self._paused:
                    await self._interrupt()
            found = self._handle(message)
            if found is None:
                continue
            result = found
            if self._stopped or not self._untaken:
                break
            if not _was_interrupted(found):
                self._keep_answer(found)
        return result

    def _keep_answer(self, result: ResultMessage) -> None:
        """A turn's answer that is not the last one: part of the agent's whole answer."""
        answer = (result.result or "\n\n".join(self._turn_text)).strip()
        if answer:
            self._earlier.append(answer)
        self._turn_text = []

    @property
    def _stall_seconds(self) -> float:
        return self._backend.setup.stall_seconds

    async def _watch_for_stall(self) -> None:
        """Silence past `stall_warn_seconds` shows a stall; past `stall_seconds` ends the turn."""
        warn = min(self._backend.stall_warn_seconds, self._stall_seconds)
        while True:
            if self._tool_running:
                self._heard = anyio.current_time()  # the tool's silence, not the API's
            silent = anyio.current_time() - self._heard
            if silent >= self._stall_seconds:
                break
            if silent >= warn and not self._warned:
                self._warned = True
                step = f"{STALLED}: no output, no API traffic for {warn:g} s"
                self._reporter.notice(STALLED, step)
            await anyio.sleep((self._stall_seconds if self._warned else warn) - silent)
        self._stalled = True
        await self._interrupt()
        await self._close()  # receive_response ends: the turn is over

    async def _connect(self) -> ClaudeSDKClient:
        """The CLI process of this agent, started on first use and kept while it is paused
        (so the conversation and the CLI's cumulative usage carry over)."""
        if self._client is not None:
            return self._client
        from claude_agent_sdk import ClaudeSDKClient

        options = agent_options(self._ctx, self._backend.setup, self._stderr.append)
        # the CLI echoes each message it takes: steering knows when a turn has taken it
        replay = {**options.extra_args, "replay-user-messages": None}
        client = ClaudeSDKClient(dataclasses.replace(options, extra_args=replay))
        await client.connect()
        self._client, self._pid = client, _cli_process(client)
        return client

    def _finish(self, result: ResultMessage) -> AgentOutcome:
        if result.is_error:
            error = describe_result_error(result, self._assistant_error, self._ctx.spec.max_turns)
            return self._outcome(ok=False, error=error)
        final = (result.result or "\n\n".join(self._turn_text)).strip()
        if self._synthetic and not result.num_turns:  # e.g. a /command's !`shell` failed
            return self._outcome(ok=False, error=f"Claude Code did not call the model: {final}")
        return self._outcome(ok=True, output="\n\n".join([*self._earlier, final]).strip())

    def _outcome(self, *, ok: bool, output: str = "", error: str | None = None) -> AgentOutcome:
        _, source, note = self._meter.settle(self._backend.prices)
        if not output and not ok:
            output = self._text.text().strip()
        return AgentOutcome(ok=ok, output=output, error=error, cost_source=source, cost_note=note)

    def _stderr_tail(self) -> str:
        return " | ".join(line.strip() for line in self._stderr if line.strip())[-500:]

    async def _interrupt(self) -> None:
        client = self._client
        if client is None:
            return
        with anyio.move_on_after(_CONTROL_TIMEOUT), suppress(Exception):
            await client.interrupt()

    async def _close(self) -> None:
        """Close the CLI (idempotent, safe from any task); no process of it is left."""
        client, cli = self._client, self._pid
        self._client = self._pid = None
        if client is not None:
            with anyio.CancelScope(shield=True), suppress(Exception):
                await client.disconnect()
        if cli is not None and is_same_process(*cli):  # disconnect gave up on it
            with suppress(ProcessLookupError, PermissionError):
                os.kill(cli[0], signal.SIGKILL)


async def _user_message(text: str, message_id: str) -> AsyncIterator[dict[str, Any]]:
    """One message of the user's, with an id the CLI echoes when it takes it."""
    message = {"role": "user", "content": text}
    yield {"type": "user", "message": message, "parent_tool_use_id": None, "uuid": message_id}


def _was_interrupted(result: ResultMessage) -> bool:
    return (result.terminal_reason or "").startswith("aborted")


def _cli_process(client: ClaudeSDKClient) -> tuple[int, float] | None:
    """The CLI's pid and start time (the SDK keeps the process on its transport)."""
    process = getattr(getattr(client, "_transport", None), "_process", None)
    pid = getattr(process, "pid", None)
    if not isinstance(pid, int):
        return None
    started = process_start_time(pid)
    return (pid, started) if started is not None else None
