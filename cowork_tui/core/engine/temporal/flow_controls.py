"""A session workflow's controls (DESIGN §4's table), as Temporal updates: each validator
refuses what the engine in process refuses, with the same ControlError words (a refused update
writes no history); the handlers record the intent first, then act — a pause reaches the worker
that runs the agents (their processes stopped before PAUSED), a cancel cancels their
activities (they end as they would in process)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ...models import AgentRecord, AgentState, PausedReason, SessionState
from ..lifecycle import (
    BUDGET,
    SESSION_CONTROLS,
    Control,
    Effect,
    Stop,
    agent_effect,
    agent_refusal,
    budget_reached,
    budget_refusal,
    session_refusal,
    steer_refusal,
    usd,
)
from .flow import QUICK, Flow, FlowAgent, cause, once, refuse
from .shapes import Budget, ControlInput, ControlJob, View

S, A = SessionState, AgentState


class ControlledFlow(Flow):
    def _end_agent(
        self,
        agent: FlowAgent,
        state: AgentState,
        error: str | None,
        done: AgentRecord | None = None,
    ) -> None:
        from temporalio import workflow

        if agent.record.state.terminal:
            return
        if done is not None:  # the worker's record: what it spent, its output...
            agent.record = done.model_copy(update={"state": agent.record.state})
        now, started = workflow.now(), agent.record.started_at
        times: dict[str, Any] = {}
        if started is not None and agent.record.ended_at is None:
            times = {"ended_at": now, "duration_s": (now - started).total_seconds()}
        self._move_agent(agent, state, error=error, **times)
        self._check_budget()

    # --- controls (updates) ---------------------------------------------------------------

    def check_control(self, given: ControlInput) -> None:
        """The validator: a refused control is the engine's ControlError and writes nothing."""
        if given.subtask is None:
            refused = session_refusal(
                self._id, self._state, given.control, self._cost(), self._budget
            )
        else:
            agent = self._agents.get(given.subtask)
            state = agent.record.state if agent else None
            refused = agent_refusal(self._id, self._state, given.subtask, state, given.control)
        refuse(refused)

    async def control(self, given: ControlInput) -> None:
        if given.subtask is not None:
            await self._control_agent(given.control, self._agents[given.subtask], given.reason)
            return
        effect = SESSION_CONTROLS[self._state][given.control]
        self._event("control", state=given.control.value, reason=given.reason)
        if effect is Effect.CANCEL:
            self._stop_session(given.reason)
        elif effect in (Effect.HOLD, Effect.PAUSE) and not self._held and not self._stop:
            pausing = self._pause_session(effect, BUDGET if given.budget else "user")
            if pausing is not None:
                await pausing  # PAUSED: every process of its agents is stopped
        elif effect in (Effect.RELEASE, Effect.RESUME) and self._held and not self._stop:
            self._held, self._paused_reason = False, None
            if effect is Effect.RESUME:
                self._set_state(S.RUNNING)
                for agent in self._agents.values():
                    if agent.record.state is A.PAUSED and not agent.held:
                        self._show_unpaused(agent)
                await self._tell_paused()
        self._poke()

    async def _control_agent(self, control: Control, agent: FlowAgent, reason: str) -> None:
        effect = agent_effect(agent.record.state, agent.held, control)
        self._event("control", subtask=agent.subtask.id, state=control.value, reason=reason)
        if effect is Effect.PAUSE:
            agent.held = True
            self._show_paused(agent)
            await self._tell_paused()
        elif effect is Effect.RESUME:
            agent.held = False
            if not self._held:
                self._show_unpaused(agent)
            await self._tell_paused()
        elif effect is Effect.CANCEL and not agent.cancel_requested:
            agent.cancel_requested = True
            if agent.handle is not None:
                agent.handle.cancel()
            else:
                self._end_agent(agent, A.CANCELLED, f"cancelled ({reason})")
        self._poke()

    def check_budget(self, given: Budget) -> None:
        refuse(budget_refusal(self._id, self._state, given.budget_usd, given.spent_usd))

    def set_budget(self, given: Budget) -> None:
        self._budget = given.budget_usd
        reason = "none" if given.budget_usd is None else usd(given.budget_usd)
        self._event("control", state=BUDGET, reason=reason)

    def check_steer(self, subtask: str, text: str) -> None:
        agent = self._agents.get(subtask)
        state = agent.record.state if agent else None
        refuse(steer_refusal(self._id, self._state, subtask, state, text))

    async def steer(self, subtask: str, text: str) -> None:
        from temporalio.exceptions import ActivityError

        try:
            await self._tell(ControlJob(session_id=self._id, subtasks=(subtask,), steer=text))
        except ActivityError as exc:
            refuse(f"agent {subtask}: {cause(exc)}")
        self._event("control", subtask=subtask, state="steer", reason=text.strip())

    def view(self, since: int) -> View:
        """The session now, and its events from `since` on (the query; also the result)."""
        return View(
            record=self._record(),
            events=tuple(self._events[since:]),
            events_before=self._input.events_before,
        )

    # --- what controls do -----------------------------------------------------------------

    def _pause_session(self, effect: Effect, reason: PausedReason) -> asyncio.Task[None] | None:
        """Hold or pause the session; the pause's task, which ends once it is PAUSED."""
        self._held, self._paused_reason = True, reason
        if effect is Effect.HOLD:
            self._changed()  # held before dispatch; shows once planning is done
            return None
        self._set_state(S.PAUSING)
        for agent in self._agents.values():
            if agent.started and not agent.record.state.terminal:
                self._show_paused(agent)
        self._pausing_all = asyncio.create_task(self._pause_all())
        return self._pausing_all

    async def _pause_all(self) -> None:
        await self._tell_paused()
        if self._state is S.PAUSING and self._held:
            self._set_state(S.PAUSED)

    async def _tell_ended(self) -> None:
        """The session has ended: its worker ends what its agents left and forgets it."""
        from temporalio.exceptions import ActivityError

        with contextlib.suppress(ActivityError):  # its worker is gone: so is what it ran
            grace = self._input.grace_seconds
            await self._tell(ControlJob(session_id=self._id, ended=True, grace_seconds=grace))

    async def _tell_paused(self) -> None:
        """Bring the worker's agents in line with what the controls want, paused or not; when
        the worker is lost, so are they (they fail as their heartbeats stop)."""
        from temporalio.exceptions import ActivityError

        running = [a for a in self._agents.values() if a.started and not a.record.state.terminal]
        async with self._telling:
            for paused in (True, False):
                subtasks = tuple(a.subtask.id for a in running if self._pausing(a) is paused)
                if subtasks:
                    job = ControlJob(session_id=self._id, subtasks=subtasks, paused=paused)
                    with contextlib.suppress(ActivityError):
                        await self._tell(job, locked=True)

    async def _tell(self, job: ControlJob, locked: bool = False) -> None:
        from temporalio import workflow

        if not locked:
            async with self._telling:
                return await self._tell(job, locked=True)
        if self._queue is None:
            return
        await workflow.execute_activity("control", job, **once(QUICK, self._queue))

    def _pausing(self, agent: FlowAgent) -> bool:
        return self._held or agent.held

    def _stop_session(self, reason: str) -> None:
        if self._stop:
            return
        self._stop = Stop.CANCEL
        self._error = f"cancelled ({reason})"
        if self._state in (S.INITIALIZING, S.PLANNING):
            self._finish(S.CANCELLED, self._error)  # nothing was spawned
            return
        self._set_state(S.CANCELLING)
        for agent in self._agents.values():
            if agent.handle is not None and not agent.record.state.terminal:
                agent.handle.cancel()

    def _check_budget(self) -> None:
        """At its budget a session pauses (nothing is killed, nothing new starts)."""
        budget = self._budget
        if budget is None or self._held or self._stop or self._state.terminal:
            return
        effect = SESSION_CONTROLS[self._state][Control.PAUSE]
        if self._cost() >= budget and effect in (Effect.HOLD, Effect.PAUSE):
            self._event("control", state=Control.PAUSE.value, reason=budget_reached(budget))
            self._pause_session(effect, BUDGET)
