"""One cowork session from launch to its terminal state: the state machine of DESIGN §4.

Everything here runs on the engine's event loop. Controls (`pause`, `resume`, `cancel`,
`interrupt`) are synchronous: they change the state at once and leave the slow part
(signalling processes) to tasks of the session's own task group.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup

from .agent_slot import AgentSlot, utcnow
from .backends.base import AgentContext, AgentOutcome, Backend, Upstream
from .errors import ControlError, InputError, describe_error
from .events import SessionEvent, SessionRecorder
from .models import (
    AgentSpec,
    AgentState,
    Item,
    Plan,
    SessionRecord,
    SessionState,
    Subtask,
    Tokens,
)
from .plan_check import check_plan
from .planner import MERGE_AGENT
from .pricing import PriceTable
from .procs import all_gone, session_processes, signal_processes

log = logging.getLogger(__name__)

S, A = SessionState, AgentState
SUMMARY_CHARS = 4096
COORDINATOR_PROMPT = (
    "You are the coordinator of a cowork session. Several agents worked on parts of one task; "
    "their results follow, each under a `## <subtask>` heading. Combine them into one coherent "
    "answer to the task: keep every concrete finding, remove repetition, and say where the "
    "results disagree."
)
_ACTIVE = frozenset({S.RUNNING, S.PAUSING, S.PAUSED})

Planner = Callable[[Item, str], Awaitable[Plan]]
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


class _Wake:
    """Wakes every waiter whenever a control changes something; waiters re-check their need."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = anyio.Event()

    async def until(self, ready: Callable[[], bool]) -> None:
        while not ready():
            await self._event.wait()


class SessionRun:
    def __init__(
        self,
        session_id: str,
        record: SessionRecord,
        item: Item,
        plan: Plan | None,
        setup: SessionSetup,
    ) -> None:
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
        self._paused = False  # the whole session is (to be) paused
        self._stopping: AgentState | None = None  # CANCELLED or INTERRUPTED once asked
        self._wake = _Wake()
        self._limiter = anyio.CapacityLimiter(record.max_parallel)
        self._planning = anyio.CancelScope()
        self._tg: TaskGroup | None = None
        self._version = record.version
        self._snapshot: SessionRecord | None = None
        self._unrecorded = False  # the archive failed to record it
        self._record(SessionEvent(at=utcnow(), kind="session", state=S.INITIALIZING))

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
        tokens = sum((a.tokens for a in agents), Tokens())
        failed = tuple(a.subtask for a in agents if a.state.terminal and a.state is not A.SUCCEEDED)
        return self._base.model_copy(
            update={
                "state": self._state,
                "plan": self._plan,
                "agents": agents,
                "tokens": tokens,
                "cost_usd": sum(a.cost_usd for a in agents),
                "agent_count": len(agents),
                "failed_subtasks": failed,
                "partial": self._state is S.COMPLETED and bool(failed),
                "summary": self._summary,
                "error": self._error,
                "version": self._version,
            }
        )

    # --- running --------------------------------------------------------------------------

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
        signal_processes(pids, signal.SIGTERM)
        with anyio.move_on_after(self._setup.grace_seconds):
            while not all_gone(pids):
                await anyio.sleep(0.02)
        left = await anyio.to_thread.run_sync(session_processes, self.id)  # not a reused pid
        signal_processes(left, signal.SIGKILL)

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
        self._set_state(S.PAUSED if self._paused else S.RUNNING)
        async with anyio.create_task_group() as tg:
            for slot in self._slots.values():
                tg.start_soon(self._drive, slot)
        self._complete()

    async def _make_plan(self) -> Plan | None:
        plan = self._plan
        try:
            if plan is None:
                with self._planning:
                    plan = await self._setup.planner(self._item, self._base.task)
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
        spec = self._item.agent(subtask.agent)
        if spec is None and subtask.agent == MERGE_AGENT and self._has_model_agents():
            spec = AgentSpec(
                name=MERGE_AGENT,
                kind="model",
                system_prompt=COORDINATOR_PROMPT,
                description="Combines the results of the other agents",
            )
        out = self._setup.outputs_dir / self.id / f"{subtask.id}.txt"
        return AgentSlot(subtask, spec, self._setup.prices, out, self._slot_changed)

    def _has_model_agents(self) -> bool:
        return any(a.kind == "model" for a in self._item.agents)

    async def _drive(self, slot: AgentSlot) -> None:
        """Run one subtask when its upstream is done, a slot is free and nothing holds it."""
        deps = [self._slots[d] for d in slot.subtask.after]
        for dep in deps:
            await dep.done.wait()
        if slot.state.terminal:
            return
        if self._stopping:
            slot.finish(self._stopping, self._not_started())
            return
        failed = [d.id for d in deps if d.state is not A.SUCCEEDED]
        if failed:
            slot.finish(A.SKIPPED, f"upstream {', '.join(failed)} did not succeed")
            return
        if await self._held(slot):
            return
        if slot.state is A.PENDING:
            slot.set_state(A.QUEUED)
        async with self._limiter:
            if await self._held(slot):
                return
            await self._execute(slot, [d.upstream() for d in deps])

    async def _held(self, slot: AgentSlot) -> bool:
        """Wait while the session or this agent is paused; True if it ended meanwhile."""
        await self._wake.until(lambda: self._can_start(slot))
        if self._stopping and not slot.state.terminal:
            slot.finish(self._stopping, self._not_started())
        return slot.state.terminal

    def _not_started(self) -> str:
        """Why an agent that never started ended."""
        how = "interrupted" if self._stopping is A.INTERRUPTED else "cancelled"
        return f"the session was {how} before it started"

    def _can_start(self, slot: AgentSlot) -> bool:
        if self._stopping or slot.state.terminal:
            return True
        return not (self._paused or slot.pause_requested)

    async def _execute(self, slot: AgentSlot, upstream: list[Upstream]) -> None:
        if slot.spec is None:  # the built-in merge, in process
            slot.start()
            merged = "\n\n".join(f"## {u.subtask}\n\n{u.text.rstrip()}" for u in upstream) + "\n"
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
        )
        slot.start()
        try:
            backend = self._backend_for(slot.spec)
            slot.run = await backend.start(ctx, slot)
        except Exception as exc:
            slot.finish(A.FAILED, f"could not start: {exc}")
            return
        if slot.cancel_requested or self._stopping:
            self._spawn(self._stop, slot)
        elif self._paused or slot.pause_requested:
            slot.set_state(A.PAUSED)
            self._spawn(self._sync_pause, slot)
        outcome = await self._watch(slot, slot.spec.timeout)
        slot.conclude(outcome, *self._verdict(slot, outcome))

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
        slot.timed_out = True
        self._notify(
            SessionEvent(
                at=utcnow(),
                kind="control",
                subtask=slot.id,
                state="timeout",
                reason=f"no result after {timeout:g} s",
            )
        )
        await self._stop(slot)

    def _pausing(self, slot: AgentSlot) -> bool:
        return self._paused or slot.pause_requested

    def _verdict(self, slot: AgentSlot, outcome: AgentOutcome) -> tuple[AgentState, str | None]:
        if outcome.ok:
            return A.SUCCEEDED, None
        if slot.timed_out:
            timeout = slot.spec.timeout if slot.spec else None
            return A.TIMED_OUT, f"timed out after {timeout:g} s"
        if self._stopping is A.INTERRUPTED:
            return A.INTERRUPTED, "app shutdown"
        if slot.cancel_requested or self._stopping:
            return A.CANCELLED, "cancelled"
        return A.FAILED, outcome.error or "failed"

    def _backend_for(self, spec: AgentSpec) -> Backend:
        name = "command" if spec.kind == "command" else self._setup.backend
        backend = self._setup.backends.get(name)
        if backend is None:
            raise InputError(f"backend {name!r} is not available")
        return backend

    def _complete(self) -> None:
        """COMPLETING: the summary and the one terminal state (no await in here)."""
        if self._state.terminal:
            return
        if self._stopping:
            self._summary = self._make_summary()
            reason = "app shutdown" if self._stopping is A.INTERRUPTED else self._error
            self._finish(S.INTERRUPTED if self._stopping is A.INTERRUPTED else S.CANCELLED, reason)
            return
        self._set_state(S.COMPLETING)
        self._summary = self._make_summary()
        slots = list(self._slots.values())
        unmerged = [
            f"{s.id} {s.state}" for s in slots if s.subtask.merge and s.state is not A.SUCCEEDED
        ]
        if not any(s.state is A.SUCCEEDED for s in slots):
            self._finish(S.FAILED, "every subtask failed")
        elif unmerged:  # e.g. "merge SKIPPED": an upstream agent failed
            self._finish(S.FAILED, f"the merge did not succeed ({', '.join(unmerged)})")
        else:
            self._finish(S.COMPLETED)

    def _make_summary(self) -> str:
        needed = {d for slot in self._slots.values() for d in slot.subtask.after}
        sinks = [s for s in self._slots.values() if s.id not in needed and s.result]
        if len(sinks) == 1:
            text = sinks[0].result.strip()
        else:
            text = "\n\n".join(f"## {s.id}\n\n{s.result.strip()}" for s in sinks)
        if len(text) > SUMMARY_CHARS:
            text = text[: SUMMARY_CHARS - 1] + "…"
        notes = "\n".join(  # a Markdown list: one line each wherever it is shown
            f"- {s.state.value}: {s.id} — {s.record().error or s.state.value.lower()}"
            for s in self._slots.values()
            if s.state.terminal and s.state is not A.SUCCEEDED
        )
        return "\n\n".join(part for part in (text, notes) if part)

    # --- controls -------------------------------------------------------------------------

    def pause(self, subtask: str | None, reason: str) -> None:
        slot = self._check_control("pause", subtask, reason)
        if slot is not None:
            if slot.pause_requested:
                return
            slot.pause_requested = True
            if slot.state is not A.PAUSED:
                slot.held_state = slot.state
                slot.set_state(A.PAUSED)
            self._after_pause_change(slot)
            return
        if self._paused or self._stopping:
            return
        self._paused = True
        if self._state in _ACTIVE:
            self._set_state(S.PAUSING)
            for slot in self._slots.values():
                if slot.started and not slot.state.terminal and slot.state is not A.PAUSED:
                    slot.held_state = slot.state
                    slot.set_state(A.PAUSED)
            self._spawn(self._pause_all)
        else:
            self._changed()  # held before dispatch; shows once planning is done
        self._wake.fire()

    def resume(self, subtask: str | None, reason: str) -> None:
        slot = self._check_control("resume", subtask, reason)
        if slot is not None:
            if not slot.pause_requested:
                return
            slot.pause_requested = False
            if not self._paused and slot.state is A.PAUSED:
                slot.set_state(slot.held_state)
            self._after_pause_change(slot)
            return
        if not self._paused or self._stopping:
            return
        self._paused = False
        if self._state in _ACTIVE:
            self._set_state(S.RUNNING)
            for slot in self._slots.values():
                if slot.state is A.PAUSED and not slot.pause_requested:
                    slot.set_state(slot.held_state)
                    self._after_pause_change(slot)
        self._wake.fire()

    def cancel(self, subtask: str | None, reason: str) -> None:
        slot = self._check_control("cancel", subtask, reason)
        if slot is not None:
            if slot.cancel_requested:
                return
            slot.cancel_requested = True
            if slot.started:
                self._spawn(self._stop, slot)
            else:
                slot.finish(A.CANCELLED, f"cancelled ({reason})")
            self._wake.fire()
            return
        self._stop_session(A.CANCELLED, reason)

    def interrupt(self, reason: str) -> None:
        """The app is going away: stop everything, end INTERRUPTED."""
        if self._state.terminal:
            return
        self._notify(SessionEvent(at=utcnow(), kind="control", state="interrupt", reason=reason))
        self._stop_session(A.INTERRUPTED, reason)

    def _stop_session(self, how: AgentState, reason: str) -> None:
        if self._stopping:
            return
        self._stopping = how
        self._error = f"cancelled ({reason})" if how is A.CANCELLED else reason
        final = S.CANCELLED if how is A.CANCELLED else S.INTERRUPTED
        if self._state in (S.INITIALIZING, S.PLANNING):
            self._planning.cancel()
            self._finish(final, self._error)  # nothing was spawned
        else:
            self._set_state(S.CANCELLING if how is A.CANCELLED else self._state)
            for slot in self._slots.values():
                if slot.started and not slot.state.terminal:
                    self._spawn(self._stop, slot)
                elif not slot.state.terminal:
                    slot.finish(how, self._not_started())
        self._wake.fire()

    def _check_control(self, control: str, subtask: str | None, reason: str) -> AgentSlot | None:
        """Validate a control and record the intent (before anything acts on it)."""
        if self._state.terminal:
            raise ControlError(f"session {self.id} is {self._state.value}: cannot {control} it")
        slot = None
        if subtask is not None:
            slot = self._slots.get(subtask)
            if slot is None:
                raise ControlError(f"session {self.id} has no subtask {subtask!r}")
            if slot.state.terminal:
                raise ControlError(f"agent {subtask} is {slot.state.value}: cannot {control} it")
        self._notify(
            SessionEvent(at=utcnow(), kind="control", subtask=subtask, state=control, reason=reason)
        )
        return slot

    def _after_pause_change(self, slot: AgentSlot) -> None:
        if slot.run is not None:
            self._spawn(self._sync_pause, slot)
        self._wake.fire()

    async def _pause_all(self) -> None:
        async with anyio.create_task_group() as tg:
            for slot in self._slots.values():
                if slot.run is not None and not slot.state.terminal:
                    tg.start_soon(self._sync_pause, slot)
        if self._state is S.PAUSING and self._paused:
            self._set_state(S.PAUSED)

    async def _sync_pause(self, slot: AgentSlot) -> None:
        """Bring the running agent in line with what the controls want (pause or not)."""
        async with slot.lock:
            while slot.run is not None and not slot.state.terminal and not slot.cancel_requested:
                want = self._pausing(slot) and not self._stopping
                if want == slot.pause_applied:
                    return
                await (slot.run.pause() if want else slot.run.resume())
                slot.pause_applied = want

    async def _stop(self, slot: AgentSlot) -> None:
        if slot.run is not None:
            await slot.run.stop()

    def _spawn(self, fn: Callable[..., Coroutine[Any, Any, None]], *args: AgentSlot) -> None:
        assert self._tg is not None
        self._tg.start_soon(fn, *args)

    # --- changes --------------------------------------------------------------------------

    def _set_state(self, state: SessionState) -> None:
        if self._state is state:
            return
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
        if slot.state is not slot.recorded_state:
            slot.recorded_state = slot.state
            reason = slot.record().error if slot.state.terminal else None
            self._record(
                SessionEvent(
                    at=utcnow(), kind="agent", subtask=slot.id, state=slot.state, reason=reason
                )
            )
        elif persist:
            self._record(None)
        if slot.state.terminal:
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
