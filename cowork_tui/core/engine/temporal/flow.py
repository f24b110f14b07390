"""A session's state inside its workflow (DESIGN §8): its record, its agents, its events, each
change versioned. Workflow code: time is `workflow.now()` (it must replay), nothing does I/O.
temporalio is imported in the functions, so that this module imports without the extra."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ...models import (
    AgentRecord,
    AgentState,
    PausedReason,
    SessionEvent,
    SessionRecord,
    SessionState,
    Subtask,
)
from ..lifecycle import Stop, check_agent_move, check_session_move
from ..scheduler import AgentView
from ..totals import tallied
from .shapes import CONTROL_ERROR, STARTS_WITHIN, AgentResult, SessionInput

if TYPE_CHECKING:
    from temporalio.workflow import ActivityHandle

S, A = SessionState, AgentState
QUICK = timedelta(seconds=60)  # preparing, planning, a control reaching the worker


@dataclass
class FlowAgent:
    subtask: Subtask
    record: AgentRecord
    result: str = ""
    earlier: AgentRecord | None = None  # the run it continues
    started: bool = False
    held: bool = False  # paused on its own
    cancel_requested: bool = False
    before_pause: AgentState = A.PENDING
    handle: ActivityHandle[AgentResult] | None = field(default=None, repr=False)
    waiter: asyncio.Task[None] | None = field(default=None, repr=False)

    def view(self) -> AgentView:
        return AgentView(
            id=self.subtask.id,
            after=self.subtask.after,
            merge=self.subtask.merge,
            state=self.record.state,
            started=self.started,
            held=self.held,
        )


class Flow:
    """The session's state; `ControlledFlow` adds the controls, `SessionWorkflow` the run."""

    def __init__(self, given: SessionInput) -> None:
        """Before `run`: updates that come with the start are handled before it runs."""
        from temporalio import workflow

        self._input, self._base = given, given.record
        self._state = S.INITIALIZING
        self._error: str | None = None
        self._summary = ""
        self._agents: dict[str, FlowAgent] = {}
        self._held = False
        self._paused_reason: PausedReason | None = None
        self._budget = given.record.budget_usd
        self._stop: Stop | None = None
        self._queue: str | None = None  # the worker's own task queue, once it took the session
        self._events: list[SessionEvent] = []
        self._version = 0
        self._moved = False
        self._active_s = given.record.active_s or 0.0
        self._telling = asyncio.Lock()  # one message to the worker at a time, in order
        self._pausing_all: asyncio.Task[None] | None = None
        self._active_since: datetime | None = workflow.now()
        self._event(
            "session", state=S.INITIALIZING, reason="resumed" if self._base.resumed_at else None
        )

    # --- agents' states -------------------------------------------------------------------

    def _move_agent(self, agent: FlowAgent, state: AgentState, **update: Any) -> None:
        check_agent_move(agent.record.state, state)
        agent.record = agent.record.model_copy(update={"state": state, **update})
        self._event("agent", subtask=agent.subtask.id, state=state, reason=update.get("error"))
        self._poke()

    def _show_paused(self, agent: FlowAgent) -> None:
        if agent.record.state is not A.PAUSED:
            agent.before_pause = agent.record.state
            self._move_agent(agent, A.PAUSED)

    def _show_unpaused(self, agent: FlowAgent) -> None:
        if agent.record.state is A.PAUSED:
            self._move_agent(agent, agent.before_pause)

    # --- the record -----------------------------------------------------------------------

    @property
    def _id(self) -> str:
        return self._base.id

    def _cost(self) -> float:
        plan = self._base.plan
        return (plan.cost_usd if plan else 0.0) + sum(
            a.record.cost_usd for a in self._agents.values()
        )

    def _record(self) -> SessionRecord:
        agents = tuple(a.record for a in self._agents.values())
        return self._base.model_copy(
            update={
                **tallied(self._state, self._base.plan, agents),
                "summary": self._summary,
                "error": self._error,
                "version": self._version,
                "active_s": self._active_s,
                "active_since": self._active_since,
                "budget_usd": self._budget,
                "paused_reason": self._paused_reason,
            }
        )

    def _set_state(self, state: SessionState) -> None:
        from temporalio import workflow

        if self._state is state:
            return
        check_session_move(self._state, state)
        now = workflow.now()
        if self._active_since is not None and (state is S.PAUSED or state.terminal):
            self._active_s += (now - self._active_since).total_seconds()
            self._active_since = None
        elif self._state is S.PAUSED and not state.terminal:
            self._active_since = now
        self._state = state
        self._event("session", state=state, reason=self._error)

    def _finish(self, state: SessionState, error: str | None = None) -> None:
        from temporalio import workflow

        if self._state.terminal:
            return
        ended = workflow.now()
        started = self._base.started_at or ended
        self._base = self._base.model_copy(
            update={"ended_at": ended, "duration_s": (ended - started).total_seconds()}
        )
        self._error = error if error is not None else self._error
        self._set_state(state)

    def _event(self, kind: Any, **fields: Any) -> None:
        from temporalio import workflow

        state = fields.pop("state", None)
        self._events.append(
            SessionEvent(at=workflow.now(), kind=kind, state=state and str(state), **fields)
        )
        self._changed()

    def _changed(self) -> None:
        self._version += 1

    def _poke(self) -> None:
        self._moved = True


def once(timeout: timedelta, queue: str | None) -> dict[str, Any]:
    """An activity's options: run once (the workflow decides what happens next), on `queue`
    (the worker's own; None: the session's), started within STARTS_WITHIN when it is a
    worker's own queue (else that worker is gone)."""
    from temporalio.common import RetryPolicy

    options: dict[str, Any] = {
        "start_to_close_timeout": timeout,
        "retry_policy": RetryPolicy(maximum_attempts=1),
    }
    if queue is not None:
        options |= {"task_queue": queue, "schedule_to_start_timeout": STARTS_WITHIN}
    return options


def cause(exc: BaseException) -> str:
    """An activity's failure in words: its own message, or why Temporal ended it."""
    from temporalio.exceptions import TimeoutError, TimeoutType

    cause = getattr(exc, "cause", None) or exc
    if isinstance(cause, TimeoutError):
        if cause.type in (TimeoutType.HEARTBEAT, TimeoutType.SCHEDULE_TO_START):
            return "its worker was lost (no word from it in time)"
        return f"Temporal timed it out ({cause.type.name if cause.type else 'timeout'})"
    return str(getattr(cause, "message", None) or cause)


def last_heartbeat(exc: BaseException) -> AgentRecord | None:
    """What an agent's activity last said of itself before Temporal ended it (its worker
    lost): what it spent and wrote still counts."""
    details = getattr(getattr(exc, "cause", None), "last_heartbeat_details", None)
    try:
        return AgentRecord.model_validate(details[0]) if details else None
    except ValueError:
        return None


def refuse(message: str | None) -> None:
    from temporalio.exceptions import ApplicationError

    if message:
        raise ApplicationError(message, type=CONTROL_ERROR, non_retryable=True)
