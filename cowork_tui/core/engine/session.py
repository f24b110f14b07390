"""One cowork session from launch to its terminal state (DESIGN §4): preflight, planning, the
agents run as `scheduler` decides, then the one verdict. The controls and the record are
`ControlledSession`'s."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
from anyio.abc import TaskGroup

from ..clock import utcnow
from ..errors import ControlError, InputError
from ..models import AgentState, Plan, SessionEvent, SessionState, Subtask
from ..names import inside
from ..planning.builtin import built_in_spec
from ..planning.dag import check_plan
from .backends.base import AgentContext, Backend, CannotSteer
from .controls import ControlledSession
from .lifecycle import Stop, steer_refusal
from .resume import kept
from .scheduler import agent_end, decide, finished, verdict
from .slot import AgentSlot
from .totals import Finished, summary
from .watch import agent_error, end_escaped, merge, watched

log = logging.getLogger(__name__)

S, A = SessionState, AgentState


class SessionRun(ControlledSession):
    async def run(self) -> None:
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                await self._run()
        except Exception as exc:  # an engine bug ends this session, never the others
            log.exception("session %s crashed", self.id)
            self._finish(S.FAILED, f"internal error: {exc!r}")
        finally:
            for slot in self._slots.values():
                slot.close()
            try:
                with anyio.CancelScope(shield=True):
                    await end_escaped(self.id, self._setup.grace_seconds)
            finally:
                self.done.set()

    async def _run(self) -> None:
        if self._state.terminal:
            return  # cancelled before it began
        missing = self._setup.preflight(self._item) if self._setup.preflight else []
        if missing:
            self._finish(S.FAILED, f"{self._item.ref} cannot run here: {'; '.join(missing)}")
            return
        self._set_state(S.PLANNING)
        plan = await self._make_plan()
        if plan is None:
            return
        self._plan = plan
        self._slots = {s.id: self._new_slot(s) for s in plan.subtasks}
        self._check_budget()  # planning, or the run it resumes, may have spent it all
        self._set_state(S.PAUSED if self._held else S.RUNNING)
        async with anyio.create_task_group() as agents:
            await self._dispatch(agents)
        self._complete()

    async def _make_plan(self) -> Plan | None:
        plan = self._plan
        try:
            if plan is None:
                with self._planning:
                    plan = await self._setup.planner(self._item, self._base)
            if self._state.terminal or plan is None:  # cancelled while planning
                return None
            check_plan(self._item, plan)
        except InputError as exc:
            self._finish(S.FAILED, str(exc))
            return None
        except Exception as exc:
            self._finish(S.FAILED, f"planning failed: {exc}")
            return None
        return plan

    def _new_slot(self, subtask: Subtask) -> AgentSlot:
        spec = self._item.agent(subtask.agent) or built_in_spec(self._item, subtask.agent)
        out = inside(self._setup.outputs_dir / self.id, f"{subtask.id}.txt")
        slot = AgentSlot(subtask, spec, self._setup.prices, out, self._slot_changed, self._notify)
        before = self._earlier.get(subtask.id)
        if before is not None and kept(before):
            slot.restore(before)
        elif before is not None:
            slot.carry(before)
        return slot

    async def _dispatch(self, agents: TaskGroup) -> None:
        """Apply the scheduler's decisions until every agent has ended; wait on changes."""
        while True:
            self._moved = False
            views = [slot.view() for slot in self._slots.values()]
            decision = decide(
                views, cap=self._base.max_parallel, paused=self._held, stop=self._stop
            )
            if decision.empty:
                if finished(views):
                    return
                await self._wake.until(lambda: self._moved)
                continue
            if decision.abandon:
                assert self._stop is not None
                how = "interrupted" if self._stop is Stop.INTERRUPT else "cancelled"
                for sid in decision.abandon:
                    self._slots[sid].finish(
                        self._stop.agent_state, f"the session was {how} before it started"
                    )
            for sid, why in decision.skip:
                self._slots[sid].finish(A.SKIPPED, why)
            for sid in decision.queue:
                self._slots[sid].set_state(A.QUEUED)
            for sid in decision.start:
                if self._held:  # at its budget, as the last one started
                    break
                slot = self._slots[sid]
                slot.start()
                agents.start_soon(self._execute, slot)

    async def _execute(self, slot: AgentSlot) -> None:
        upstream = [self._slots[d].upstream() for d in slot.subtask.after]
        if slot.spec is None:
            merge(slot, [(u.subtask, u.text) for u in upstream])
            return
        ctx = AgentContext(
            session_id=self.id,
            item=self._item,
            spec=slot.spec,
            subtask=slot.subtask,
            task=self._base.task,
            cwd=Path(self._base.cwd),
            upstream=tuple(upstream),
            output_dir=self._setup.outputs_dir / self.id,
            grace_seconds=self._setup.grace_seconds,
            conversation=slot.conversation_id,
            earlier_output=slot.earlier_output(),
            budget_left_usd=None if self._budget is None else max(self._budget - self._cost(), 0),
        )
        try:
            backend = self._backend_for(slot.spec.kind)
            slot.run = await backend.start(ctx, slot)
        except Exception as exc:
            slot.finish(A.FAILED, f"could not start: {exc}")
            return
        if slot.cancel_requested or self._stop:
            self._spawn(self._stop_agent, slot)
        elif self._pausing(slot):
            slot.show_paused()
            self._spawn(self._sync_pause, slot)
        outcome = await watched(
            slot,
            self._wake,
            lambda: self._pausing(slot),
            lambda timeout: self._timed_out(slot, timeout),
        )
        state = agent_end(
            outcome.ok,
            timed_out=slot.timed_out,
            cancelled=slot.cancel_requested,
            stop=self._stop,
        )
        slot.conclude(outcome, state, agent_error(state, outcome, slot.spec.timeout))

    async def _timed_out(self, slot: AgentSlot, timeout: float) -> None:
        self._notify(
            SessionEvent(
                at=utcnow(),
                kind="control",
                subtask=slot.id,
                state="timeout",
                reason=f"no result after {timeout:g} s",
            )
        )
        await self._stop_agent(slot)

    async def steer(self, subtask: str, text: str) -> None:
        """Send the user's `text` to a running agent's conversation (DESIGN §4); ControlError
        when that agent cannot take it (not running, or no conversation: command, demo)."""
        slot = self._slots.get(subtask)
        state = slot.state if slot else None
        refused = steer_refusal(self.id, self._state, subtask, state, text)
        if refused:
            raise ControlError(refused)
        assert slot is not None
        if slot.run is None:
            raise ControlError(f"agent {subtask} is still starting: send it again in a moment")
        try:
            await slot.steer(text.strip())
        except CannotSteer as exc:
            raise ControlError(f"agent {subtask}: {exc}") from None

    def _backend_for(self, kind: str) -> Backend:
        name = "command" if kind == "command" else self._setup.backend
        backend = self._setup.backends.get(name)
        if backend is None:
            raise InputError(f"backend {name!r} is not available")
        return backend

    def _complete(self) -> None:
        """COMPLETING: the summary and the one terminal state (no await in here)."""
        if self._state.terminal:
            return
        views = [slot.view() for slot in self._slots.values()]
        if self._stop is None:
            self._set_state(S.COMPLETING)
        reason = "app shutdown" if self._stop is Stop.INTERRUPT else self._error
        end = verdict(views, self._stop, reason)
        self._summary = self._make_summary()
        self._finish(end.state, end.error)

    def _make_summary(self) -> str:
        return summary([Finished(s.subtask, s.record(), s.result) for s in self._slots.values()])
