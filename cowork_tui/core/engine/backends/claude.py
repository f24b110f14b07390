"""The `claude` backend: each model agent is a real Claude Code agent (claude-agent-sdk).

One CLI process per agent, driven through `ClaudeSDKClient`: the plugin agent's Markdown body
is the system prompt, only its declared tools exist (anything else is refused: permission mode
`dontAsk`), in the session's working directory. Pause interrupts the turn and keeps the
conversation; resume sends "continue" in the same session. Cancel interrupts and closes the
CLI, and checks that its process is gone.
"""

from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ...models import AgentSpec
from ...pricing import PriceTable
from ...procs import is_same_process, process_start_time
from .base import AgentContext, AgentOutcome, AgentReporter, AgentRun, Backend, BackendUnavailable
from .claude_errors import describe_exception, describe_result_error
from .claude_usage import UsageMeter
from .output import BoundedText
from .select import INSTALL_HINT

if TYPE_CHECKING:
    from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient, Message, ResultMessage

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


def model_option(model: str | None, default: str | None = None) -> str | None:
    """The `--model` to pass: None/"inherit" → the default (the CLI's own when None).

    Aliases (sonnet, opus, haiku) are resolved by the CLI to the current model id, which
    the run records from the CLI's init message.
    """
    if model is None or model.strip().lower() in {"", "inherit", "default"}:
        return default
    return model.strip()


def tool_names(tools: tuple[str, ...]) -> list[str]:
    """Built-in tools to make available: "Bash(git *)" → "Bash" (the rule goes to allowed)."""
    return list(dict.fromkeys(t.split("(", 1)[0].strip() for t in tools if t.strip()))


def system_prompt(spec: AgentSpec) -> str:
    if spec.system_prompt.strip():
        return spec.system_prompt
    return f"You are {spec.name}. {spec.description}".strip()


def agent_input(ctx: AgentContext) -> str:
    """The agent's prompt: its subtask, the session task, then every upstream result."""
    parts = [ctx.subtask.prompt.strip() or ctx.task]
    if ctx.task.strip() and ctx.task.strip() not in parts[0]:
        parts.append(f"(The session's overall task: {ctx.task.strip()})")
    if ctx.upstream:
        parts.append("# Results of the subtasks this one builds on")
        for up in ctx.upstream:
            where = f"\n\n(full output: {up.output_path})" if up.output_path else ""
            parts.append(f"## {up.subtask} (agent {up.agent})\n\n{up.text.strip()}{where}")
    return "\n\n".join(parts)


RETRIES_VARIABLE, DEFAULT_RETRIES = "CLAUDE_CODE_MAX_RETRIES", "2"  # unless the user set it


class ClaudeBackend(Backend):
    name = "claude"

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        cli_path: str | Path | None = None,
        default_model: str | None = None,
        prices: PriceTable | None = None,
    ) -> None:
        """`env` is added to the CLI's environment (e.g. ANTHROPIC_BASE_URL); `cli_path`
        overrides the CLI bundled with the SDK; `prices` cross-checks the CLI's cost."""
        self.env = dict(env or {})
        self.cli_path = cli_path
        self.default_model = default_model
        self.prices = prices or PriceTable()

    async def start(self, ctx: AgentContext, reporter: AgentReporter) -> AgentRun:
        import_sdk()
        return ClaudeRun(ctx, reporter, self)

    def options(self, ctx: AgentContext, stderr: deque[str]) -> ClaudeAgentOptions:
        from claude_agent_sdk import ClaudeAgentOptions

        spec = ctx.spec
        # a failing API fails the agent in seconds, not after the CLI's ten retries (minutes)
        retries = {} if RETRIES_VARIABLE in os.environ else {RETRIES_VARIABLE: DEFAULT_RETRIES}
        return ClaudeAgentOptions(
            system_prompt=system_prompt(spec),
            tools=tool_names(spec.tools),
            allowed_tools=list(spec.tools),
            permission_mode="dontAsk",  # unattended: what is not allowed above is refused
            model=model_option(spec.model, self.default_model),
            max_turns=spec.max_turns,
            cwd=str(ctx.cwd),
            # the session's id marks the CLI and its tools' processes: none outlives the session
            env=retries | self.env | {"COWORK_SESSION_ID": ctx.session_id},
            cli_path=self.cli_path,
            include_partial_messages=True,
            setting_sources=["user"],  # never the project's settings: they can run hooks
            strict_mcp_config=True,
            stderr=stderr.append,
        )


class ClaudeRun(AgentRun):
    """One Claude Code agent: a CLI process, one conversation, live controls."""

    def __init__(self, ctx: AgentContext, reporter: AgentReporter, backend: ClaudeBackend) -> None:
        self._ctx, self._reporter, self._backend = ctx, reporter, backend
        self._meter = UsageMeter()
        self._text = BoundedText()
        self._stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        self._client: ClaudeSDKClient | None = None
        self._pid: tuple[int, float] | None = None  # the CLI process and its start time
        self._session_id: str | None = None
        self._model: str | None = None
        self._assistant_error: str | None = None
        self._in_turn = False  # a prompt has been sent and its result not yet received
        self._paused = False
        self._paused_in_turn = False  # a pause interrupted the turn: continue it afterwards
        self._resumed = anyio.Event()
        self._stopped = False
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

    # --- the run ------------------------------------------------------------------------

    async def wait(self) -> AgentOutcome:
        self._waiting = True
        try:
            return await self._run()
        except Exception as exc:
            if self._stopped:
                return self._outcome(ok=False, error=CANCELLED)
            return self._outcome(ok=False, error=describe_exception(exc, self._stderr_tail()))
        finally:
            with anyio.CancelScope(shield=True):
                await self._close()
            self._finished.set()

    async def _run(self) -> AgentOutcome:
        prompt = agent_input(self._ctx)
        while True:
            while self._paused and not self._stopped:
                await self._resumed.wait()
            if self._stopped:
                return self._outcome(ok=False, error=CANCELLED)
            result = await self._turn(prompt)
            if self._stopped:
                return self._outcome(ok=False, error=CANCELLED)
            paused_in_turn, self._paused_in_turn = self._paused_in_turn, False
            if result is None or _was_interrupted(result):
                if paused_in_turn or self._paused:  # pick the conversation up again on resume
                    prompt = CONTINUE_PROMPT if paused_in_turn else prompt
                    continue
                if result is None:
                    return self._outcome(ok=False, error="Claude Code ended without a result")
                return self._outcome(ok=False, error="interrupted")
            return self._finish(result)

    async def _turn(self, prompt: str) -> ResultMessage | None:
        """Send one prompt and read until its result (None if it was not sent)."""
        client = await self._connect()
        if self._paused or self._stopped:
            return None
        self._in_turn = True
        try:
            self._reporter.progress(None, "starting" if prompt != CONTINUE_PROMPT else "resuming")
            await client.query(prompt, session_id=self._session_id or "default")
            result = None
            async for message in client.receive_response():
                result = self._handle(message) or result
            return result
        finally:
            self._in_turn = False

    async def _connect(self) -> ClaudeSDKClient:
        """The CLI process of this agent, started on first use and kept while it is paused
        (so the conversation and the CLI's cumulative usage carry over)."""
        if self._client is not None:
            return self._client
        from claude_agent_sdk import ClaudeSDKClient

        client = ClaudeSDKClient(self._backend.options(self._ctx, self._stderr))
        await client.connect()
        self._client, self._pid = client, _cli_process(client)
        return client

    def _handle(self, message: Message) -> ResultMessage | None:
        from claude_agent_sdk import (
            AssistantMessage,
            RateLimitEvent,
            ResultMessage,
            StreamEvent,
            SystemMessage,
        )

        if isinstance(message, StreamEvent):
            if message.parent_tool_use_id is None:
                self._on_stream_event(message.event)
        elif isinstance(message, SystemMessage) and message.subtype == "init":
            self._session_id = message.data.get("session_id") or self._session_id
            self._model = message.data.get("model") or self._model
            self._reporter.usage(self._meter.live_tokens(), self._model)
        elif isinstance(message, AssistantMessage):
            self._session_id = message.session_id or self._session_id
            if message.error:
                self._assistant_error = message.error
        elif isinstance(message, RateLimitEvent) and message.rate_limit_info.status == "rejected":
            self._reporter.progress(None, "rate limited: waiting")
        elif isinstance(message, ResultMessage):
            self._session_id = message.session_id or self._session_id
            self._meter.on_result(message.model_usage, message.total_cost_usd)
            cost, _, _ = self._meter.settle(self._backend.prices)
            self._reporter.usage(self._meter.tokens(), self._model_name(), cost)
            return message
        return None

    def _on_stream_event(self, event: dict[str, Any]) -> None:
        if self._meter.on_stream_event(event):
            self._reporter.usage(self._meter.live_tokens(), self._model_name())
        kind = event.get("type")
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            step = {"text": "writing…", "thinking": "thinking…"}.get(block.get("type", ""))
            if block.get("type") in {"tool_use", "server_tool_use"}:
                step = f"using {block.get('name', 'a tool')}"
            if step:
                self._reporter.progress(None, step)
        elif kind == "content_block_delta":
            text = (event.get("delta") or {}).get("text")
            if text:
                self._text.add(text)
                self._reporter.output(text)
        elif kind == "message_stop" and self._text.size:
            self._text.add("\n")
            self._reporter.output("\n")
        elif kind == "message_start":
            self._reporter.progress(None, "waiting for the model")

    def _finish(self, result: ResultMessage) -> AgentOutcome:
        if result.is_error:
            error = describe_result_error(result, self._assistant_error, self._ctx.spec.max_turns)
            return self._outcome(ok=False, error=error)
        return self._outcome(ok=True, output=(result.result or self._text.text()).strip())

    def _outcome(self, *, ok: bool, output: str = "", error: str | None = None) -> AgentOutcome:
        _, source, note = self._meter.settle(self._backend.prices)
        if not output and not ok:
            output = self._text.text().strip()
        return AgentOutcome(ok=ok, output=output, error=error, cost_source=source, cost_note=note)

    def _model_name(self) -> str | None:
        return self._meter.main_model(self._model)

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
