"""One session the Temporal client follows: read every poll — the workflow's own view (a query)
and its running agents' live records (their heartbeats, from `describe`, which needs no
worker) — and, when this client records it, written to the recorder, each event once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from ...clock import utcnow
from ...models import AgentRecord, AgentState, EngineName, SessionEvent, SessionRecord, SessionState
from ..lifecycle import Control, budget_reached
from ..protocol import SessionRecorder
from ..totals import tallied
from .shapes import AGENT, ControlInput, View

if TYPE_CHECKING:
    from temporalio.client import Client, WorkflowHandle

log = logging.getLogger(__name__)
S, A = SessionState, AgentState
QUERY_TIMEOUT = timedelta(seconds=2)  # a query waits for a worker; describe does not
LIVE = (A.RUNNING, A.PAUSED)
Send = Callable[["Tracked", str, Any], None]  # an update to send it


class DurableRecorder(SessionRecorder, Protocol):
    """A recorder several clients share (the archive): who records a session, and what of it
    is recorded already."""

    def adopt(self, session_id: str) -> bool:
        """Record this session from now on: False when another live process does."""

    def event_count(self, session_id: str) -> int: ...

    def live_ids(self, engine: EngineName) -> list[str]:
        """The sessions of `engine` it holds as not ended."""

    def get(self, session_id: str) -> SessionRecord: ...


@dataclass
class Tracked:
    record: SessionRecord
    recorder: DurableRecorder | None  # None: another process records it (or nobody)
    on_change: Callable[[], None]
    send: Send
    seen: int = 0  # of the workflow's events, those recorded (or not ours to record)
    handle: WorkflowHandle[Any, View] | None = None
    started: anyio.Event = field(default_factory=anyio.Event)  # the workflow exists
    done: anyio.Event = field(default_factory=anyio.Event)
    nudge: anyio.Event = field(default_factory=anyio.Event)  # look again now
    flow_version: int = -1  # the workflow's version last seen
    budget_paused: bool = False  # a pause at the budget was asked for
    outbox: list[tuple[str, Any]] = field(default_factory=list)  # updates to send, in order
    ended_by: str | None = None  # why this client ended its workflow (a cancel)

    async def follow(self, client: Client, poll_seconds: float) -> None:
        """Until the session ends: look every `poll_seconds`, or at once when nudged."""
        while not self.done.is_set():
            await self.look(client)
            if self.done.is_set():
                return
            with anyio.move_on_after(poll_seconds):
                await self.nudge.wait()
            self.nudge = anyio.Event()

    async def look(self, client: Client) -> None:
        from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
        from temporalio.service import RPCError

        handle = self.handle
        assert handle is not None
        try:
            view = await handle.query(
                "view", self.seen, result_type=View, rpc_timeout=QUERY_TIMEOUT
            )
        except Exception:
            # no worker answers (queries need one): has Temporal itself ended it?
            try:
                status = (await handle.describe()).status
            except RPCError:
                return
            if status is WorkflowExecutionStatus.RUNNING:
                return
            try:
                view = await handle.result()
            except WorkflowFailureError as exc:
                if self.ended_by:  # a cancel no worker took
                    self.ended(self.ended_by, S.CANCELLED)
                else:
                    self.ended(f"Temporal ended its workflow: {exc.cause or exc}")
                return
            view = view.model_copy(update={"events": view.events[self.seen :]})
        live = await _heartbeats(client, handle) if _has_live(view.record) else {}
        self.seen_view(view, live)

    def seen_view(self, view: View, live: dict[str, AgentRecord]) -> None:
        """The workflow's view, its running agents as their heartbeats last said."""
        record = view.record
        if live:
            agents = tuple(
                live[a.subtask].model_copy(update={"state": a.state})
                if a.state in LIVE and a.subtask in live
                else a
                for a in record.agents
            )
            record = record.model_copy(update=tallied(record.state, record.plan, agents))
        moved = record.version != self.flow_version or bool(view.events)
        if not moved and record.agents == self.record.agents:
            return
        self.flow_version = record.version
        self.update(record, list(view.events), persist=moved)
        self._check_budget()
        if record.state.terminal:
            self.done.set()

    def update(self, record: SessionRecord, events: list[SessionEvent], persist: bool) -> None:
        """A new snapshot; recorded with its events when the workflow moved (live progress
        alone is not: the worker holds it)."""
        self.record = record.model_copy(update={"version": self.record.version + 1})
        self.on_change()
        if persist:
            stored: list[SessionEvent | None] = [*events] or [None]
            for event in stored:
                self.store(event)
        self.seen += len(events)

    def store(self, event: SessionEvent | None) -> None:
        if self.recorder is None:
            return
        try:
            self.recorder.record(self.record, event)
        except Exception as exc:  # the archive failing must not stop following it
            log.warning("cowork-tui: cannot record session %s: %s", self.record.id, exc)

    def ended(self, why: str, state: SessionState = S.FAILED) -> None:
        """Temporal ended the workflow itself (terminated, failed) or never started it."""
        if self.record.state.terminal:
            return
        now, started = utcnow(), self.record.started_at or utcnow()
        record = self.record.model_copy(
            update={
                "state": state,
                "error": why,
                "ended_at": now,
                "duration_s": (now - started).total_seconds(),
            }
        )
        self.update(record, [SessionEvent(at=now, kind="session", state=state, reason=why)],
                    persist=True)  # fmt: skip
        self.done.set()

    def _check_budget(self) -> None:
        """Running agents spend between the workflow's own checks: at the budget, it pauses."""
        budget = self.record.budget_usd
        if budget is None or self.budget_paused or self.record.state is not S.RUNNING:
            return
        if self.record.cost_usd >= budget:
            self.budget_paused = True
            pause = ControlInput(control=Control.PAUSE, reason=budget_reached(budget), budget=True)
            self.send(self, "control", pause)


async def _heartbeats(client: Client, handle: WorkflowHandle[Any, View]) -> dict[str, AgentRecord]:
    """The running agents' live records, by subtask (what their activities last said)."""
    from temporalio.service import RPCError

    try:
        found = await handle.describe()
    except RPCError:
        return {}
    live: dict[str, AgentRecord] = {}
    for pending in found.raw_description.pending_activities:
        if pending.heartbeat_details.payloads:
            (record,) = await client.data_converter.decode(
                pending.heartbeat_details.payloads, [AgentRecord]
            )
            live[pending.activity_id.removeprefix(AGENT)] = record
    return live


def _has_live(record: SessionRecord) -> bool:
    return any(a.state in LIVE for a in record.agents)
