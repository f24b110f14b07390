"""Command agents: a local process run through `sh -c` (DESIGN §3).

The process gets its own process group, so pause (SIGSTOP), resume (SIGCONT) and stop
(SIGTERM, a grace period, SIGKILL) reach its children too; on Linux it runs under an init of
its own (`procs.under_subreaper`), so what leaves the group (setsid, a double fork) stays below
it, is found there and ends with the agent. Its stdout is the agent's output, read in chunks
and streamed to the reporter (nothing grows with its size); `::progress` and `::usage` lines
are consumed. The agent's environment is ours without cowork-tui's own settings.
"""

from __future__ import annotations

import codecs
import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator, Callable

import anyio
from anyio.abc import ByteReceiveStream, Process

from ...models import Tokens
from ...procs import (
    ProcessInfo,
    all_stopped,
    descendants,
    group_members,
    kill_group,
    process_start_time,
    process_table,
    reap,
    signal_each,
    under_subreaper,
)
from .base import AgentContext, AgentOutcome, AgentReporter, AgentRun, Backend
from .output import BoundedText

CHUNK = 65_536
DRAIN_SECONDS = 0.2  # after the main process exits, how long to wait for stdout to close
MAX_REPORTED_TOKENS = 10**12  # per `::usage` line: more is a mistake (and overflows SQLite)
_DIRECTIVE = re.compile(r"^::(progress|usage)(?:[ \t]([^\n]*))?\n", re.MULTILINE)
_MAX_DIRECTIVE = 4096  # a "::" line longer than this is output, not a directive
# cowork-tui's own settings: COWORK_TUI_HOME names the archive and every session's outputs
APP_VARIABLES = "COWORK_TUI_"


def inherited_environ() -> dict[str, str]:
    """Our environment as an agent gets it: without cowork-tui's own settings (no item's trust
    prompt asks for the archive or other sessions' outputs)."""
    return {name: value for name, value in os.environ.items() if not name.startswith(APP_VARIABLES)}


class CommandBackend(Backend):
    name = "command"

    async def start(self, ctx: AgentContext, reporter: AgentReporter) -> AgentRun:
        if not ctx.spec.command:
            raise ValueError(f"agent {ctx.spec.name!r} has no command")
        env = {
            **inherited_environ(),
            "COWORK_TASK": ctx.task,
            "COWORK_SUBTASK": ctx.subtask.prompt,
            "COWORK_SESSION_ID": ctx.session_id,
            "COWORK_AGENT": ctx.spec.name,
            # where its plugin lives, by Claude Code's name (its scripts, its own files)
            **({"CLAUDE_PLUGIN_ROOT": str(ctx.item.path)} if ctx.item.path else {}),
        }
        process, pgid = await _spawn(ctx.spec.command, ctx, env)
        reporter.process(pgid, process_start_time(pgid) or 0.0)
        return CommandRun(process, pgid, ctx, reporter)


async def _spawn(command: str, ctx: AgentContext, env: dict[str, str]) -> tuple[Process, int]:
    """`sh -c command` as the leader of a new session and process group, under an init of its
    own where there can be one (`procs.under_subreaper`): the process to wait for (the init or
    the shell), and the group's id (the shell's pid, which the init reports)."""
    argv = ["sh", "-c", command]
    report, write_end = os.pipe()
    try:
        try:
            init = under_subreaper(argv, write_end, DRAIN_SECONDS, ctx.grace_seconds)
            process = await anyio.open_process(
                init or argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=ctx.cwd,
                env=env,
                start_new_session=True,
                pass_fds=(write_end,) if init else (),
            )
        finally:
            os.close(write_end)  # the init has its own
        shell = await anyio.to_thread.run_sync(os.read, report, 32) if init else b""
    finally:
        os.close(report)
    return process, int(shell) if shell.isdigit() else process.pid


class CommandRun(AgentRun):
    cannot_steer = "a command agent runs a program, not a conversation: it cannot be steered"

    def __init__(
        self, process: Process, pgid: int, ctx: AgentContext, reporter: AgentReporter
    ) -> None:
        self._process = process
        self._pgid = pgid  # the shell's group; the init, if any, is outside it
        # what the agent starts stays below its first process (the init: a subreaper); its
        # start time tells it from a process that reuses its pid
        self._root = process.pid, process_start_time(process.pid) or 0.0
        self._ctx = ctx
        self._reporter = reporter
        self._grace = ctx.grace_seconds
        self._output = BoundedText()
        self._stderr = BoundedText(head=0, tail=2000)
        self._parser = _DirectiveParser(reporter)
        self._stopping = False
        self._stopped = anyio.Event()  # set once stop() has cleaned everything up
        self._reading_done = anyio.Event()  # stdout and stderr reached their end

    async def wait(self) -> AgentOutcome:
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._feed_stdin)
                tg.start_soon(self._read_all)
                code = await self._process.wait()
                # a grandchild may hold stdout open: drain briefly, end the group, drain again
                with anyio.move_on_after(DRAIN_SECONDS):
                    await self._reading_done.wait()
                await self._kill_leftovers()
                with anyio.move_on_after(DRAIN_SECONDS):
                    await self._reading_done.wait()
                tg.cancel_scope.cancel()  # the stdin writer, if the child never read its input
            self._parser.flush(self._output)
            if self._stopping:
                await self._stopped.wait()
        except BaseException:  # e.g. its output could not be written (a full disk): end it
            with anyio.CancelScope(shield=True):
                await self._kill_leftovers()
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await self._process.aclose()  # its pipes, which an escaped grandchild may hold
        if code == 0:
            return AgentOutcome(ok=True, output=self._output.text())
        return AgentOutcome(ok=False, output=self._output.text(), error=self._describe_exit(code))

    async def pause(self) -> None:
        """SIGSTOP the group; returns once the kernel has stopped it (or after a second)."""
        if kill_group(self._pgid, signal.SIGSTOP):
            members = group_members(self._pgid, after_leader=True)
            with anyio.move_on_after(1):
                while not all_stopped(members):
                    await anyio.sleep(0.001)

    async def resume(self) -> None:
        kill_group(self._pgid, signal.SIGCONT)

    async def stop(self) -> None:
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        try:
            if self._process.returncode is None:
                escaped = [p for p in await self._family() if p.pgid != self._pgid]
                for sig in (signal.SIGTERM, signal.SIGCONT):  # a stopped process must run to die
                    kill_group(self._pgid, sig)
                    signal_each(escaped, sig)
                with anyio.move_on_after(self._grace):
                    await self._process.wait()
            await self._kill_leftovers()
            await self._process.wait()
        finally:
            self._stopped.set()

    async def _family(self) -> list[ProcessInfo]:
        """The live processes below the agent's first process, whatever their group."""
        below = await anyio.to_thread.run_sync(descendants, *self._root)
        return [p for p in below if not p.zombie]

    async def _kill_leftovers(self) -> None:
        """SIGKILL what is left of the agent and wait (briefly) until it is really gone: first
        what is below its first process (whose orphans come to that init, a subreaper), then
        the group. What ended as our child (the app is a subreaper too) is reaped."""
        killed: list[ProcessInfo] = []
        with anyio.move_on_after(1):
            while family := await self._family():
                signal_each(family, signal.SIGKILL)
                killed += family
                await anyio.sleep(0.01)
        if kill_group(self._pgid, signal.SIGKILL):
            kill_group(self._pgid, signal.SIGCONT)
            with anyio.move_on_after(2):
                while group_members(self._pgid):
                    await anyio.sleep(0.01)
            table = await anyio.to_thread.run_sync(process_table)
            killed += [p for p in table.values() if p.pgid == self._pgid]
        reap(p for p in killed if p.pid != self._process.pid)  # that one is waited for

    async def _read_all(self) -> None:
        process = self._process
        assert process.stdout is not None and process.stderr is not None
        async with anyio.create_task_group() as tg:
            tg.start_soon(_pump, process.stderr, self._stderr.add)
            await _pump(process.stdout, self._on_stdout)
        self._reading_done.set()

    def _on_stdout(self, text: str) -> None:
        for chunk in self._parser.feed(text):
            self._output.add(chunk)
            self._reporter.output(chunk)

    async def _feed_stdin(self) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            async for chunk in _upstream_chunks(self._ctx):
                await stdin.send(chunk)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, BrokenPipeError):
            pass  # the child closed its stdin or exited: it did not want (all of) it
        finally:
            with anyio.CancelScope(shield=True):
                await stdin.aclose()

    def _describe_exit(self, code: int) -> str:
        if self._stopping:
            return "stopped"
        why = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        detail = self._stderr.text().strip()
        return f"{why}: {detail}" if detail else why


async def _pump(stream: ByteReceiveStream, sink: Callable[[str], None]) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    async for chunk in _chunks(stream):
        if text := decoder.decode(chunk):
            sink(text)
    if tail := decoder.decode(b"", final=True):
        sink(tail)


async def _chunks(stream: ByteReceiveStream) -> AsyncIterator[bytes]:
    while True:
        try:
            yield await stream.receive(CHUNK)
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            return


async def _upstream_chunks(ctx: AgentContext) -> AsyncIterator[bytes]:
    """The outputs of the subtasks this one runs after, in order, read from disk when saved."""
    for up in ctx.upstream:
        if up.output_path is not None and up.output_path.is_file():
            async with await anyio.open_file(up.output_path, "rb") as f:
                while chunk := await f.read(CHUNK):
                    yield chunk
        else:
            yield up.text.encode()


class _DirectiveParser:
    """Splits `::progress` / `::usage` lines out of stdout, without ever holding a whole line
    of ordinary output (a 10 MB line streams through)."""

    def __init__(self, reporter: AgentReporter) -> None:
        self._reporter = reporter
        self._pending = ""  # an unfinished line that may still turn out to be a directive
        self._line_start = True  # the next text begins a line
        self._tokens = Tokens()

    def feed(self, text: str) -> list[str]:
        """The output part of `text`; directives are applied, an unfinished one is held."""
        text, self._pending = self._pending + text, ""
        at_start = self._line_start
        out: list[str] = []
        pos = 0
        if "::" in text:
            for m in _DIRECTIVE.finditer(text):
                if m.start() == 0 and not at_start:
                    continue  # "::" in the middle of a line that began in an earlier chunk
                out.append(text[pos : m.start()])
                self._apply(m.group(1), m.group(2) or "")
                pos = m.end()
        rest = text[pos:]
        cut = rest.rfind("\n") + 1
        last = rest[cut:]  # the unfinished last line
        if (
            last
            and (cut > 0 or pos > 0 or at_start)
            and len(last) < _MAX_DIRECTIVE
            and (last.startswith("::") or "::".startswith(last))
        ):
            self._pending, rest = last, rest[:cut]
        out.append(rest)
        if self._pending:
            self._line_start = True
        elif rest:
            self._line_start = rest.endswith("\n")
        elif pos > 0:
            self._line_start = True
        return [chunk for chunk in out if chunk]

    def flush(self, output: BoundedText) -> None:
        if self._pending:
            output.add(self._pending)
            self._reporter.output(self._pending)
            self._pending = ""

    def _apply(self, kind: str, args: str) -> None:
        if kind == "progress":
            head, _, step = args.strip().partition(" ")
            try:
                fraction: float | None = min(1.0, max(0.0, float(head)))
            except ValueError:
                fraction, step = None, args.strip()
            self._reporter.progress(fraction, step.strip())
            return
        parts = args.split()
        try:
            counts = int(parts[0]), int(parts[1])
        except (IndexError, ValueError):
            return  # a malformed usage line is dropped, like any directive
        if not all(0 <= count <= MAX_REPORTED_TOKENS for count in counts):
            return  # so is an impossible count
        self._tokens = self._tokens + Tokens(input=counts[0], output=counts[1])
        self._reporter.usage(self._tokens, parts[2] if len(parts) > 2 else None)
