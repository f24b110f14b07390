"""A session's live state and the controls that change it: DESIGN §4's control table applied,
the intent recorded before anything acts, every change versioned and recorded.

Everything here runs on the engine's event loop. Controls are synchronous: they change the state
at once and leave the slow part (signalling processes) to tasks of the session's task group.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup

from ..clock import utcnow
from ..errors import ControlError, describe_error
from ..models import (
    AgentRecord,
    AgentState,
    Item,
    PausedReason,
    Plan,
    SessionEvent,
    SessionRecord,
    SessionState,
)
from ..pricing import PriceTable
from .backends.base import Backend
from .lifecycle import (
    BUDGET,
    SESSION_CONTROLS,
    Control,
    Effect,
    Stop,
    agent_effect,
    agent_refusal,
    budget_reached,
    budget_refusal,
    check_session_move,
    session_refusal,
    usd,
)
from .protocol import SessionRecorder
from .slot import AgentSlot
from .totals import tallied
from .watch import Wake

log = logging.getLogger(__name__)

S, A = SessionState, AgentState

Planner = Callable[[Item, SessionRecord], Awaitable[Plan]]  # the plan of a session about to run
Preflight = Callable[[Item], list[str]]  # the problems that keep an item from running


@dataclass(frozen=True)
class SessionSetup:
    """What a session needs from its engine."""

    backends: Mapping[str, Backend]
    backend: str  # for model agents
    prices: PriceTable
    recorder: SessionRecorder | None
    planner: Planner
    preflight: Preflight | None  # what the item lacks to run here (checked in INITIALIZING)
    grace_seconds: float
    outputs_dir: Path
    on_change: Callable[[], None]


class ControlledSession:
    """A session's live state, its record, and the controls that change it (DESIGN §4's table);
    `SessionRun` adds the running."""

    def __init__(
        self,
        session_id: str,
        record: SessionRecord,
        item: Item,
        plan: Plan | None,
        setup: SessionSetup,
        earlier: tuple[AgentRecord, ...] = (),
    ) -> None:
        """`earlier`: the agents of the run it resumes."""
        self.id = session_id
        self.done = anyio.Event()
        self._base = record  # the fields that never change while it runs
        self._item = item
        self._plan = plan
        self._setup = setup
        self._state = S.INITIALIZING
        self._error: str | None = None
        self._summary = ""
        self._slots: dict[str, AgentSlot] = {}
        self._held = False  # the whole session is (to be) paused
        self._paused_reason: PausedReason | None = None  # why, while held (kept once it ends)
        self._budget = record.budget_usd
        self._stop: Stop | None = None  # once cancelled or interrupted
        self._wake = Wake()
        self._moved = False  # something the scheduler looks at changed since its last decision
        self._planning = anyio.CancelScope()
        self._tg: TaskGroup | None = None
        self._version = record.version
        self._earlier = {agent.subtask: agent for agent in earlier}
        self._active_s = record.active_s or 0.0  # not paused, before `_active_since`
        self._active_since = record.active_since or record.started_at  # not paused, since then
        self._snapshot: SessionRecord | None = None
        self._unrecorded = False  # the archive failed to record it
        reason = "resumed" if record.resumed_at else None
        self._record(SessionEvent(at=utcnow(), kind="session", state=S.INITIALIZING, reason=reason))

    # --- reading --------------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._state

    def snapshot(self) -> SessionRecord:
        if self._snapshot is None or self._snapshot.version != self._version:
            self._snapshot = self._build()
        return self._snapshot

    def _build(self) -> SessionRecord:
        agents = tuple(slot.record() for slot in self._slots.values())
        return self._base.model_copy(
            update={
                **tallied(self._state, self._plan, agents),
                "summary": self._summary,
                "error": self._error,
                "version": self._version,
                "active_s": self._active_s,
                "active_since": self._active_since,
                "budget_usd": self._budget,
                "paused_reason": self._paused_reason,
            }
        )

    def _cost(self) -> float:
        """What the session has spent: its agents and its plan (as the record counts it)."""
        planned = self._plan.cost_usd if self._plan else 0.0
        return planned + sum(slot.record().cost_usd for slot in self._slots.values())

    # --- controls -------------------------------------------------------------------------

    def control(self, control: Control, subtask: str | None, reason: str) -> None:
        """Apply a control to the session or one of its agents (DESIGN §4's table)."""
        if subtask is not None:
            self._control_agent(control, subtask, reason)
            return
        refused = session_refusal(self.id, self._state, control, self._cost(), self._budget)
        if refused:
            raise ControlError(refused)
        effect = SESSION_CONTROLS[self._state][control]
        self._log_control(control, None, reason)
        if effect is Effect.CANCEL:
            self._stop_session(Stop.CANCEL, reason)
        elif effect in (Effect.HOLD, Effect.PAUSE) and not self._held and not self._stop:
            self._pause_session(effect, "user")
        elif effect in (Effect.RELEASE, Effect.RESUME) and self._held and not self._stop:
            self._resume_session(effect)
        self._poke()

    def set_budget(self, budget_usd: float | None) -> None:
        """A new budget (None: no cap), above what the session has spent; recorded. A session
        paused at its budget stays paused until it is resumed."""
        refused = budget_refusal(self.id, self._state, budget_usd, self._cost())
        if refused:
            raise ControlError(refused)
        self._budget = budget_usd
        reason = "none" if budget_usd is None else usd(budget_usd)
        self._notify(SessionEvent(at=utcnow(), kind="control", state=BUDGET, reason=reason))

    def _over_budget(self) -> bool:
        return self._budget is not None and self._cost() >= self._budget

    def _check_budget(self) -> None:
        """At its budget a session pauses (nothing is killed, nothing new starts), recorded
        with the reason; a session already paused or stopping is left as it is."""
        if self._held or self._stop or self._state.terminal or not self._over_budget():
            return
        assert self._budget is not None
        effect = SESSION_CONTROLS[self._state][Control.PAUSE]
        if effect not in (Effect.HOLD, Effect.PAUSE):
            return  # COMPLETING: it ends at once anyway
        self._log_control(Control.PAUSE, None, budget_reached(self._budget))
        self._pause_session(effect, BUDGET)

    def interrupt(self, reason: str) -> None:
        """The app is going away: stop everything, end INTERRUPTED."""
        if self._state.terminal:
            return
        self._notify(SessionEvent(at=utcnow(), kind="control", state="interrupt", reason=reason))
        self._stop_session(Stop.INTERRUPT, reason)
        self._poke()

    def _pause_session(self, effect: Effect, reason: PausedReason) -> None:
        self._held, self._paused_reason = True, reason
        if effect is Effect.HOLD:
            self._changed()  # held before dispatch; shows once planning is done
            return
        self._set_state(S.PAUSING)
        for slot in self._slots.values():
            if slot.started and not slot.state.terminal:
                slot.show_paused()
        self._spawn(self._pause_all)

    def _resume_session(self, effect: Effect) -> None:
        self._held, self._paused_reason = False, None
        if effect is Effect.RELEASE:
            return
        self._set_state(S.RUNNING)
        for slot in self._slots.values():
            if slot.state is A.PAUSED and not slot.held:
                slot.show_unpaused()
                self._after_pause_change(slot)

    def _control_agent(self, control: Control, subtask: str, reason: str) -> None:
        slot = self._slots.get(subtask)
        state = slot.state if slot else None
        refused = agent_refusal(self.id, self._state, subtask, state, control)
        if refused:
            raise ControlError(refused)
        assert slot is not None
        effect = agent_effect(slot.state, slot.held, control)
        self._log_control(control, subtask, reason)
        if effect is Effect.PAUSE:
            slot.hold(True)
            slot.show_paused()
            self._after_pause_change(slot)
        elif effect is Effect.RESUME:
            slot.hold(False)
            if not self._held:
                slot.show_unpaused()
            self._after_pause_change(slot)
        elif effect is Effect.CANCEL and not slot.cancel_requested:
            slot.request_cancel()
            if slot.started:
                self._spawn(self._stop_agent, slot)
            else:
                slot.finish(A.CANCELLED, f"cancelled ({reason})")
        self._poke()

    def _stop_session(self, how: Stop, reason: str) -> None:
        if self._stop:
            return
        self._stop = how
        self._error = f"cancelled ({reason})" if how is Stop.CANCEL else reason
        if self._state in (S.INITIALIZING, S.PLANNING):
            self._planning.cancel()
            self._finish(how.session_state, self._error)  # nothing was spawned
            return
        if how is Stop.CANCEL:
            self._set_state(S.CANCELLING)
        for slot in self._slots.values():
            if slot.started and not slot.state.terminal:
                self._spawn(self._stop_agent, slot)

    def _log_control(self, control: Control, subtask: str | None, reason: str) -> None:
        """Record the intent before anything acts on it."""
        self._notify(
            SessionEvent(
                at=utcnow(), kind="control", subtask=subtask, state=control.value, reason=reason
            )
        )

    def _after_pause_change(self, slot: AgentSlot) -> None:
        if slot.run is not None:
            self._spawn(self._sync_pause, slot)

    async def _pause_all(self) -> None:
        async with anyio.create_task_group() as tg:
            for slot in self._slots.values():
                if slot.run is not None and not slot.state.terminal:
                    tg.start_soon(self._sync_pause, slot)
        if self._state is S.PAUSING and self._held:
            self._set_state(S.PAUSED)

    async def _sync_pause(self, slot: AgentSlot) -> None:
        await slot.sync_pause(lambda: self._pausing(slot) and not self._stop)

    async def _stop_agent(self, slot: AgentSlot) -> None:
        if slot.run is not None:
            await slot.run.stop()

    def _pausing(self, slot: AgentSlot) -> bool:
        return self._held or slot.held

    def _spawn(self, fn: Callable[..., Coroutine[Any, Any, None]], *args: AgentSlot) -> None:
        assert self._tg is not None
        self._tg.start_soon(fn, *args)

    # --- changes --------------------------------------------------------------------------

    def _set_state(self, state: SessionState) -> None:
        if self._state is state:
            return
        check_session_move(self._state, state)
        now = utcnow()
        if self._active_since is not None and (state is S.PAUSED or state.terminal):
            self._active_s += (now - self._active_since).total_seconds()
            self._active_since = None
        elif self._state is S.PAUSED and not state.terminal:
            self._active_since = now
        self._state = state
        self._changed()
        self._record(SessionEvent(at=utcnow(), kind="session", state=state, reason=self._error))

    def _finish(self, state: SessionState, error: str | None = None) -> None:
        if self._state.terminal:
            return
        ended = utcnow()
        started = self._base.started_at or ended
        self._base = self._base.model_copy(
            update={"ended_at": ended, "duration_s": (ended - started).total_seconds()}
        )
        self._error = error if error is not None else self._error
        self._set_state(state)

    def _slot_changed(self, slot: AgentSlot, persist: bool) -> None:
        """Every change of an agent; state changes (and `persist`) also go to the recorder."""
        self._changed()
        self._check_budget()
        state = slot.take_state_change()
        if state is not None:
            reason = slot.record().error if state.terminal else None
            self._record(
                SessionEvent(at=utcnow(), kind="agent", subtask=slot.id, state=state, reason=reason)
            )
            self._poke()
        elif persist:
            self._record(None)

    def _poke(self) -> None:
        """Something the scheduler or a waiter looks at changed: let them look again."""
        self._moved = True
        self._wake.fire()

    def _changed(self) -> None:
        self._version += 1
        self._setup.on_change()

    def _notify(self, event: SessionEvent) -> None:
        self._changed()
        self._record(event)

    def _record(self, event: SessionEvent | None) -> None:
        recorder = self._setup.recorder
        if recorder is None:
            return
        try:
            recorder.record(self.snapshot(), event)
        except Exception as exc:  # the archive failing (a full disk) must not stop the agents
            if not self._unrecorded:
                log.warning(
                    "cowork-tui: warning: the archive cannot record session %s (%s)",
                    self.id,
                    describe_error(exc),
                )
            self._unrecorded = True  # said once
