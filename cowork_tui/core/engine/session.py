"""One cowork session from launch to its terminal state (DESIGN §4): preflight, planning, the
agents run as `scheduler` decides, then the one verdict. The controls and the record are
`ControlledSession`'s."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import anyio
from anyio.abc import TaskGroup

from ..clock import utcnow
from ..errors import ControlError, InputError, describe_error
from ..models import AgentState, Plan, SessionEvent, SessionState, Subtask
from ..names import inside
from ..planning.builtin import built_in_spec, joined
from ..planning.dag import check_plan
from ..procs import all_gone, process_table, reap, session_processes, signal_processes
from .backends.base import AgentContext, AgentOutcome, Backend, CannotSteer
from .controls import ControlledSession
from .lifecycle import Stop
from .resume import kept
from .scheduler import agent_end, decide, finished, verdict
from .slot import AgentSlot

log = logging.getLogger(__name__)

S, A = SessionState, AgentState
SUMMARY_CHARS = 4096


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
                    await self._end_escaped_processes()
            finally:
                self.done.set()

    async def _end_escaped_processes(self) -> None:
        """Nothing outlives the session, not even what left its agent's process group (found
        by COWORK_SESSION_ID): SIGTERM, the grace period, then SIGKILL."""
        pids = await anyio.to_thread.run_sync(session_processes, self.id)
        if not pids:
            return
        table = process_table()
        found = [table[pid] for pid in pids if pid in table]  # with their start times
        signal_processes(pids, signal.SIGTERM)
        with anyio.move_on_after(self._setup.grace_seconds):
            while not all_gone(pids):
                await anyio.sleep(0.02)
        left = await anyio.to_thread.run_sync(session_processes, self.id)  # not a reused pid
        signal_processes(left, signal.SIGKILL)
        with anyio.move_on_after(self._setup.grace_seconds):
            while not all_gone(left):
                await anyio.sleep(0.02)
        reap(found)  # those we adopted (a subreaper) end as our zombies

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
        if slot.spec is None:  # the built-in merge, in process
            merged = joined([(u.subtask, u.text) for u in upstream])
            slot.output(merged)
            slot.finish(A.SUCCEEDED, result=merged)
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
        outcome = await self._watch(slot, slot.spec.timeout)
        state = agent_end(
            outcome.ok,
            timed_out=slot.timed_out,
            cancelled=slot.cancel_requested,
            stop=self._stop,
        )
        slot.conclude(outcome, state, self._agent_error(state, outcome, slot.spec.timeout))

    @staticmethod
    def _agent_error(state: AgentState, outcome: AgentOutcome, timeout: float | None) -> str | None:
        if state is A.SUCCEEDED:
            return None
        if state is A.TIMED_OUT:
            return f"timed out after {timeout:g} s"
        if state is A.INTERRUPTED:
            return "app shutdown"
        if state is A.CANCELLED:
            return "cancelled"
        return outcome.error or "failed"

    async def _watch(self, slot: AgentSlot, timeout: float | None) -> AgentOutcome:
        """Run the agent to its end, enforcing its timeout (paused time excluded)."""
        assert slot.run is not None
        try:
            async with anyio.create_task_group() as tg:
                if timeout is not None:
                    tg.start_soon(self._timeout, slot, timeout)
                outcome = await slot.run.wait()
                tg.cancel_scope.cancel()
        except Exception as exc:  # e.g. its output could not be written: the disk is full
            outcome = AgentOutcome(ok=False, error=describe_error(exc))
            with anyio.CancelScope(shield=True):
                await slot.run.stop()
        return outcome

    async def _timeout(self, slot: AgentSlot, timeout: float) -> None:
        remaining = timeout
        while True:
            await self._wake.until(lambda: not self._pausing(slot))
            began = anyio.current_time()
            with anyio.move_on_after(remaining) as clock:
                await self._wake.until(lambda: self._pausing(slot))
            if clock.cancelled_caught:
                break
            remaining -= anyio.current_time() - began
        slot.mark_timed_out()
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
        if slot is None:
            raise ControlError(f"session {self.id} has no subtask {subtask!r}")
        if not text.strip():
            raise ControlError("nothing to send: the message is empty")
        refused = "only a running agent can be steered"
        if self._state is not S.RUNNING:
            raise ControlError(f"session {self.id} is {self._state.value}: {refused}")
        if slot.state is not A.RUNNING:
            raise ControlError(f"agent {subtask} is {slot.state.value}: {refused}")
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
        """The last results (each under its heading when several): the sinks', or for a sink
        that gave none (a cancelled merge) its upstreams'; then a Markdown list of the agents
        that did not succeed, one line each wherever it is shown."""
        slots = list(self._slots.values())
        needed = {d for slot in slots for d in slot.subtask.after}

        def results(slot: AgentSlot) -> list[AgentSlot]:
            if slot.result:
                return [slot]
            return [r for d in slot.subtask.after for r in results(self._slots[d])]

        found = [r for s in slots if s.id not in needed for r in results(s)]
        sinks = list(dict.fromkeys(found))  # once each, in plan order
        if len(sinks) == 1:
            text = sinks[0].result.strip()
        else:
            text = "\n\n".join(f"## {s.id}\n\n{s.result.strip()}" for s in sinks)
        if len(text) > SUMMARY_CHARS:
            text = text[: SUMMARY_CHARS - 1] + "…"
        notes = "\n".join(
            f"- {s.state.value}: {s.id} — {s.record().error or s.state.value.lower()}"
            for s in slots
            if s.state.terminal and s.state is not A.SUCCEEDED
        )
        return "\n\n".join(part for part in (text, notes) if part)
