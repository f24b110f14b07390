"""One subtask's agent inside a running session: its live state, and the reporter it runs with.

The slot is mutable and private to the engine; its state moves only as `lifecycle` allows, and
`record()` turns it into the frozen `AgentRecord` that snapshots carry (rebuilt only after a
change). Its output goes to a private file, as `output_files` writes them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Literal

import anyio

from ..clock import utcnow
from ..errors import machine_cause
from ..models import (
    PREVIEW_CHARS,
    AgentRecord,
    AgentSpec,
    AgentState,
    SessionEvent,
    Subtask,
    Tokens,
)
from ..pricing import PriceTable
from .backends.base import AgentOutcome, AgentRun, Upstream
from .backends.output import LineTail
from .lifecycle import check_agent_move
from .output_files import (
    DOWNSTREAM_CHARS,
    OutputError,
    bounded,
    open_output,
    read_bounded,
    save_result,
    saved_result,
)
from .scheduler import AgentView


class AgentSlot:
    """Live state of one agent. Implements `AgentReporter` for its backend."""

    def __init__(
        self,
        subtask: Subtask,
        spec: AgentSpec | None,
        prices: PriceTable,
        output_file: Path,
        on_change: Callable[[AgentSlot, bool], None],
        on_event: Callable[[SessionEvent], None] | None = None,
    ) -> None:
        """`on_change(slot, persist)` after every change; `on_event` takes the events it
        reports (a rate limit, a stall, a message from the user)."""
        self.subtask = subtask
        self.spec = spec  # None: the in-process merge
        self.state = AgentState.PENDING
        self.run: AgentRun | None = None
        self.done = anyio.Event()  # set when the state is terminal
        self.result = ""  # what downstream agents get
        self._held = False  # paused on its own
        self._cancel_requested = False
        self._timed_out = False
        self._before_pause = AgentState.PENDING  # the state to go back to on resume
        self._pause_applied = False  # `run` is paused right now
        self._pause_lock = anyio.Lock()  # serialises pause/resume calls on `run`
        self._reported = AgentState.PENDING  # the last state `take_state_change` gave
        self._prices = prices
        self._output_file = output_file
        self._file: IO[str] | None = None
        self._output_error: str | None = None  # why its output could not be written
        self._tail = LineTail()
        self._on_change = on_change
        self._on_event = on_event
        self._record: AgentRecord | None = None
        self._view: AgentView | None = None
        # the record's live fields
        self.started_at: datetime | None = None
        self._ended_at: datetime | None = None
        self._duration_s: float | None = None
        self._active_s = 0.0  # running time before `_active_since`
        self._active_since: datetime | None = None  # running now, since then
        self.tokens = Tokens()
        self.cost_usd = 0.0
        self.model: str | None = None
        self._cost_source: str | None = None
        self._cost_note: str | None = None
        self._error: str | None = None
        self._preview = ""
        self._output_path: str | None = None
        self._progress: float | None = None
        self._step = ""
        self._pgid: int | None = None
        self._pgid_started: float | None = None
        self.conversation_id: str | None = None  # the backend's conversation, to resume it
        self._before = (Tokens(), 0.0)  # what a run this one resumes spent
        self._append = False  # the output file continues the interrupted run's

    # --- the AgentReporter protocol -------------------------------------------------------

    def progress(self, fraction: float | None, step: str) -> None:
        self._progress, self._step = fraction, step
        self._changed()

    def output(self, text: str) -> None:
        """A chunk of output, to its file and tail. Once a write has failed (a full disk) the
        agent fails: its backend gets `OutputError` and ends it (the in-process merge, with
        nothing to end, fails as it finishes)."""
        opened = False
        if self._output_error is None:
            try:
                opened = self._write(text)
            except OSError as exc:
                self._output_failed(exc)
        self._tail.add(text)
        self._record = None
        self._on_change(self, opened)  # the path persisted at once: a crash keeps the output
        if self._output_error is not None and self.spec is not None:
            raise OutputError(self._output_error)

    def usage(self, tokens: Tokens, model: str | None, cost_usd: float | None = None) -> None:
        model = model or self.model
        if cost_usd is None:
            # each increment at the model that spent it: an agent may report several models
            spent = _increase(self.tokens, tokens)
            if spent is None:  # a new running total: priced whole
                cost_usd = self._prices.cost(model, tokens)
            else:
                cost_usd = self.cost_usd + self._prices.cost(model, spent)
            self._cost_source = "pricing"
        else:
            self._cost_source = "backend"
        self.tokens, self.model, self.cost_usd = tokens, model, cost_usd
        self._changed()

    def process(self, pgid: int, started: float) -> None:
        self._pgid, self._pgid_started = pgid, started
        self._record = None
        self._on_change(self, True)  # persisted at once: crash recovery needs it

    def conversation(self, conversation_id: str) -> None:
        if conversation_id != self.conversation_id:
            self.conversation_id = conversation_id
            self._record = None
            self._on_change(self, True)  # persisted at once: a resume continues it

    def notice(self, state: str, step: str) -> None:
        self._step = step
        self._changed()
        self._event(state, step)

    # --- engine side ----------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.subtask.id

    @property
    def started(self) -> bool:
        return self.started_at is not None

    @property
    def held(self) -> bool:
        return self._held

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested

    @property
    def timed_out(self) -> bool:
        return self._timed_out

    def view(self) -> AgentView:
        """What the scheduler sees of it (rebuilt only after a change)."""
        if self._view is None:
            self._view = AgentView(
                id=self.id,
                after=self.subtask.after,
                merge=self.subtask.merge,
                state=self.state,
                started=self.started,
                held=self._held,
            )
        return self._view

    def hold(self, held: bool) -> None:
        """Pause (True) or resume (False) this agent on its own."""
        self._held, self._view = held, None

    async def steer(self, text: str) -> None:
        """The user's message to the running agent: sent, then in its output and events
        (CannotSteer from its backend, saying why, when it has no conversation)."""
        assert self.run is not None
        await self.run.steer(text)
        with contextlib.suppress(OutputError):  # a full disk: its backend fails it, saying why
            self.output(f"[you] {text}\n")
        self._event("steer", text, kind="control")

    def _event(self, state: str, reason: str, kind: Literal["agent", "control"] = "agent") -> None:
        if self._on_event is not None:
            event = SessionEvent(
                at=utcnow(), kind=kind, subtask=self.id, state=state, reason=reason
            )
            self._on_event(event)

    def request_cancel(self) -> None:
        self._cancel_requested = True

    def mark_timed_out(self) -> None:
        self._timed_out = True

    def show_paused(self) -> None:
        if self.state is not AgentState.PAUSED:
            self._before_pause = self.state
            self.set_state(AgentState.PAUSED)

    def show_unpaused(self) -> None:
        if self.state is AgentState.PAUSED:
            self.set_state(self._before_pause)

    def set_state(self, state: AgentState) -> None:
        self._move(state)
        self._changed()

    def start(self) -> None:
        if self.state is AgentState.PENDING:
            self.set_state(AgentState.QUEUED)
        self.started_at = utcnow()
        self.set_state(AgentState.RUNNING)

    def finish(self, state: AgentState, error: str | None = None, result: str = "") -> None:
        """The terminal state; a no-op once the agent has one. An agent whose output could not
        be written fails, saying why (its output is not all there)."""
        if self.state.terminal:
            return
        self.close()  # its last bytes written, or why they could not be
        if self._output_error is not None and state in (AgentState.SUCCEEDED, AgentState.FAILED):
            state, error = AgentState.FAILED, self._output_error
        self._move(state)
        self.result = result if len(result) <= DOWNSTREAM_CHARS else bounded(result)
        self._error, self._preview = error, self.result[:PREVIEW_CHARS]
        if self.started_at is not None:
            self._ended_at = utcnow()
            self._duration_s = (self._ended_at - self.started_at).total_seconds()
            self._active_s = min(self._active_s, self._duration_s)
        if state is AgentState.SUCCEEDED:
            self._progress = 1.0
            save_result(self._output_file, self.result)
        self._record = None
        self.done.set()
        self._on_change(self, True)

    def restore(self, before: AgentRecord) -> None:
        """It succeeded in the run this session resumes: its result stands, it does not run."""
        self.state = self._reported = AgentState.SUCCEEDED
        self.started_at, self._ended_at = before.started_at, before.ended_at
        self._duration_s, self._active_s = before.duration_s, before.active_s or 0.0
        self.tokens, self.cost_usd, self.model = before.tokens, before.cost_usd, before.model
        self._cost_source, self._cost_note = before.cost_source, before.cost_note
        self._output_path, self._progress = before.output_path, 1.0
        self.conversation_id = before.conversation
        self.result = saved_result(self._output_file) or before.output_preview
        self._preview = self.result[:PREVIEW_CHARS]
        self.done.set()

    def carry(self, before: AgentRecord) -> None:
        """It did not finish in the run this session resumes: it runs again, in its own
        conversation when it had one (its output goes on), and what it spent still counts."""
        self._before = (before.tokens, before.cost_usd)
        self.conversation_id, self.model = before.conversation, before.model
        self._append = before.conversation is not None and self._output_file.is_file()

    def earlier_output(self) -> str:
        """What it wrote in the conversation it continues."""
        return read_bounded(self._output_file) if self._append else ""

    def conclude(self, outcome: AgentOutcome, state: AgentState, error: str | None) -> None:
        if outcome.output_path is not None and self._output_path is None:
            self._output_path = str(outcome.output_path)
        if outcome.cost_source is not None:  # the backend says whose price list it used
            self._cost_source, self._cost_note = outcome.cost_source, outcome.cost_note
        self.finish(state, error, outcome.output)

    async def sync_pause(self, wanted: Callable[[], bool]) -> None:
        """Bring the running agent in line with what the controls want (paused or not)."""
        async with self._pause_lock:
            while self.run is not None and not self.state.terminal and not self.cancel_requested:
                want = wanted()
                if want == self._pause_applied:
                    return
                pause: Callable[[], Awaitable[None]] = self.run.pause if want else self.run.resume
                await pause()
                self._pause_applied = want

    def take_state_change(self) -> AgentState | None:
        """The state, when it changed since the last call (for the event log)."""
        if self.state is self._reported:
            return None
        self._reported = self.state
        return self.state

    def upstream(self) -> Upstream:
        path = self._output_path
        return Upstream(
            subtask=self.id,
            agent=self.subtask.agent,
            text=self.result,
            output_path=Path(path) if path else None,
        )

    def close(self) -> None:
        """Close the output file; a failure to write its last bytes fails the agent."""
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError as exc:
                self._output_failed(exc)

    def _write(self, text: str) -> bool:
        """Append to the output file, flushed (the output screen reads it while the agent
        runs); True when this opened the file."""
        opened = self._file is None
        if self._file is None:
            self._file = open_output(self._output_file, append=self._append)  # closed in `close`
            self._output_path = str(self._output_file)
        self._file.write(text)
        self._file.flush()
        return opened

    def _output_failed(self, exc: OSError) -> None:
        """Its output cannot be written: the file is dropped (what it holds stays) and the
        agent is to fail, saying why."""
        if self._output_error is None:
            kind = machine_cause(exc) or "cannot write"
            self._output_error = (
                f"{kind}: {self._output_file}: the agent's output could not be written "
                f"({exc.strerror or exc})"
            )
        if self._file is not None:
            file, self._file = self._file, None
            with contextlib.suppress(OSError):  # what could not be written is still buffered
                file.close()

    def record(self) -> AgentRecord:
        if self._record is None:
            self._record = AgentRecord(
                subtask=self.id,
                agent=self.subtask.agent,
                prompt=self.subtask.prompt,
                skills=self.subtask.skills,
                state=self.state,
                model=self.model,
                started_at=self.started_at,
                ended_at=self._ended_at,
                duration_s=self._duration_s,
                active_s=self._active_s if self.started else None,
                active_since=self._active_since,
                tokens=self.tokens + self._before[0],
                cost_usd=self.cost_usd + self._before[1],
                cost_source=self._cost_source,
                cost_note=self._cost_note,
                error=self._error,
                output_preview=self._preview,
                output_path=self._output_path,
                progress=self._progress,
                step=self._step,
                output_tail=self._tail.lines(),
                pgid=self._pgid,
                pgid_started=self._pgid_started,
                conversation=self.conversation_id,
            )
        return self._record

    def _move(self, state: AgentState) -> None:
        check_agent_move(self.state, state)
        now = utcnow()
        if self._active_since is not None:  # it stops running (paused, or ended)
            self._active_s += (now - self._active_since).total_seconds()
            self._active_since = None
        if state is AgentState.RUNNING:
            self._active_since = now
        self.state, self._view = state, None

    def _changed(self) -> None:
        self._record = None
        self._on_change(self, False)


def _increase(before: Tokens, now: Tokens) -> Tokens | None:
    """What `now` adds to `before`; None when a count went down (a new running total)."""
    added = {name: getattr(now, name) - getattr(before, name) for name in Tokens.model_fields}
    return Tokens(**added) if min(added.values()) >= 0 else None
