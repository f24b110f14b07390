"""The activities a worker runs for the sessions it took (DESIGN §8): check an item can run on
its host, plan, run one agent with the existing backends, and pause, continue or steer the
agents it runs. An agent reports as a heartbeat (its live record); a cancel reaches it there,
and it ends as it would in process (SIGTERM, the grace period, SIGKILL), returning its record.

temporalio is imported in the methods, and `define()` applies its decorators, so that this
module imports without the [temporal] extra.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ...clock import utcnow
from ...errors import InputError
from ...marketplace.catalog import missing_requirements
from ...models import AgentState, Item, Plan, SessionEvent
from ...names import inside
from ...planning.builtin import built_in_spec
from ..backends.base import AgentContext, Backend, CannotSteer
from ..backends.base import Upstream as UpstreamResult
from ..scheduler import agent_end
from ..slot import AgentSlot
from ..watch import Wake, agent_error, end_escaped, merge, watched
from .shapes import CONTROL_ERROR, HEARTBEAT, AgentJob, AgentResult, ControlJob, PlanJob, Prepared

if TYPE_CHECKING:
    from ...reaper import Reaper
    from ...workspace import Workspace

A = AgentState
Key = tuple[str, str]  # (session, subtask)


@dataclass
class _Running:
    slot: AgentSlot
    paused: bool  # what the session's controls want
    wake: Wake = field(default_factory=Wake)
    events: list[SessionEvent] = field(default_factory=list)
    worker_stopping: bool = False


class Host:
    """This worker's side of the sessions it took: their agents, run here, on its own task
    queue `queue`; the reaper ends what they leave if the worker dies."""

    def __init__(self, workspace: Workspace, queue: str, reaper: Reaper) -> None:
        self._workspace = workspace
        self._queue = queue
        self._reaper = reaper
        self._backends: dict[str, Backend] = workspace.backends()
        self._running: dict[Key, _Running] = {}
        self._wanted: dict[Key, bool] = {}  # paused before its agent started here
        self._watched: set[str] = set()  # sessions whose processes the reaper ends if we die

    async def prepare(self, item: Item) -> Prepared:
        """Take the session: this worker's queue, and what the item lacks on this host."""
        catalog = self._workspace.catalog
        missing = await anyio.to_thread.run_sync(missing_requirements, item, catalog)
        return Prepared(queue=self._queue, missing=tuple(missing))

    async def plan(self, job: PlanJob) -> Plan:
        from temporalio.exceptions import ApplicationError

        record = job.record
        beats = asyncio.ensure_future(_heartbeats(None))  # a cancel reaches the planner
        try:
            return await self._workspace.plan(
                job.item,
                record.task,
                record.backend,
                max_parallel=record.max_parallel,
                session_id=record.id,
            )
        except InputError as exc:
            raise ApplicationError(str(exc), type="InputError", non_retryable=True) from None
        finally:
            beats.cancel()

    async def run_agent(self, job: AgentJob) -> AgentResult:
        key = (job.session_id, job.subtask.id)
        spec = job.item.agent(job.subtask.agent) or built_in_spec(job.item, job.subtask.agent)
        out = inside(self._outputs / job.session_id, f"{job.subtask.id}.txt")
        events: list[SessionEvent] = []
        slot = AgentSlot(job.subtask, spec, self._workspace.prices, out, _quiet, events.append)
        if job.earlier is not None:
            slot.carry(job.earlier)
        running = _Running(slot, self._wanted.pop(key, False), events=events)
        self._running[key] = running
        if job.session_id not in self._watched:  # until the session ends (`control`)
            self._watched.add(job.session_id)
            self._reaper.watch(job.session_id)
        beats = asyncio.ensure_future(_heartbeats(slot))
        work = asyncio.ensure_future(self._run(job, running))  # Temporal's cancel stops it
        try:
            while not work.done():
                try:
                    await asyncio.shield(work)
                except asyncio.CancelledError:  # the workflow cancelled it, or the worker stops
                    await self._stop(running)
        finally:
            beats.cancel()
            del self._running[key]
        kept = tuple(e for e in events if e.state != "steer")  # the workflow keeps those
        return AgentResult(record=slot.record(), result=slot.result, events=kept)

    async def _run(self, job: AgentJob, running: _Running) -> None:
        """The agent from its start to its record's end, as in process (`SessionRun`)."""
        slot = running.slot
        slot.start()
        if slot.spec is None:
            merge(slot, [(u.subtask, u.text) for u in job.upstream])
            return
        ctx = AgentContext(
            session_id=job.session_id,
            item=job.item,
            spec=slot.spec,
            subtask=job.subtask,
            task=job.task,
            cwd=Path(job.cwd),
            upstream=tuple(
                UpstreamResult(u.subtask, u.agent, u.text, _path(u.output_path))
                for u in job.upstream
            ),
            output_dir=self._outputs / job.session_id,
            grace_seconds=job.grace_seconds,
            conversation=slot.conversation_id,
            earlier_output=slot.earlier_output(),
            budget_left_usd=job.budget_left_usd,
        )
        try:
            name = "command" if slot.spec.kind == "command" else job.backend
            backend = self._backends.get(name)
            if backend is None:
                raise InputError(f"backend {name!r} is not available on this worker")
            slot.run = await backend.start(ctx, slot)
        except Exception as exc:
            slot.finish(A.FAILED, f"could not start: {exc}")
            return
        run = slot.run

        async def timed_out(timeout: float) -> None:
            running.events.append(
                SessionEvent(
                    at=utcnow(),
                    kind="control",
                    subtask=slot.id,
                    state="timeout",
                    reason=f"no result after {timeout:g} s",
                )
            )
            await run.stop()

        if slot.cancel_requested or running.worker_stopping:  # while it started
            await run.stop()
        elif running.paused:
            slot.show_paused()
            await slot.sync_pause(lambda: running.paused)
        outcome = await watched(slot, running.wake, lambda: running.paused, timed_out)
        state = agent_end(
            outcome.ok, timed_out=slot.timed_out, cancelled=slot.cancel_requested, stop=None
        )
        error = agent_error(state, outcome, slot.spec.timeout)
        if running.worker_stopping and state is not A.SUCCEEDED:
            state, error = A.FAILED, "its worker stopped"
        slot.conclude(outcome, state, error)

    @staticmethod
    async def _stop(running: _Running) -> None:
        """Temporal cancelled the activity: the workflow asked, or this worker is stopping."""
        from temporalio import activity

        if activity.is_worker_shutdown():
            running.worker_stopping = True
        else:
            running.slot.request_cancel()
        if running.slot.run is not None:
            await running.slot.run.stop()

    async def control(self, job: ControlJob) -> None:
        """Pause or continue the named agents (returns once they are so), steer one, or end
        what an ended session left here."""
        from temporalio.exceptions import ApplicationError

        if job.ended:
            await end_escaped(job.session_id, job.grace_seconds)
            self._watched.discard(job.session_id)
            self._reaper.unwatch(job.session_id)
            for key in [k for k in self._wanted if k[0] == job.session_id]:
                del self._wanted[key]
            return
        if job.steer is not None:
            running = self._running.get((job.session_id, job.subtasks[0]))
            if running is None or running.slot.run is None:
                raise ApplicationError("it is not running here", type=CONTROL_ERROR)
            try:
                await running.slot.steer(job.steer.strip())
            except CannotSteer as exc:
                raise ApplicationError(str(exc), type=CONTROL_ERROR, non_retryable=True) from None
            return
        assert job.paused is not None
        async with anyio.create_task_group() as tg:
            for subtask in job.subtasks:
                key = (job.session_id, subtask)
                found = self._running.get(key)
                if found is None:  # not started here yet (or just ended)
                    self._wanted[key] = job.paused
                else:
                    tg.start_soon(_set_paused, found, job.paused)

    @property
    def _outputs(self) -> Path:
        return self._workspace.paths.outputs_dir


async def _set_paused(running: _Running, paused: bool) -> None:
    running.paused = paused
    running.wake.fire()
    slot = running.slot
    if slot.state.terminal:
        return
    if paused:
        slot.show_paused()
    else:
        slot.show_unpaused()
    await slot.sync_pause(lambda: running.paused)


async def _heartbeats(slot: AgentSlot | None) -> None:
    """The agent's live record (the client shows it from there), or a sign of life, as often
    as HEARTBEAT; Temporal answers a heartbeat with the activity's cancel."""
    from temporalio import activity

    while True:
        activity.heartbeat(*([slot.record()] if slot else []))
        await anyio.sleep(HEARTBEAT.total_seconds())


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None


def _quiet(slot: AgentSlot, persist: bool) -> None:
    """Changes need no telling here: the heartbeats carry the record as it is."""


def define(host: Host) -> list[Callable[..., Any]]:
    """The host's activities with temporalio's decorators applied: what a worker registers."""
    from temporalio import activity

    for name in ("prepare", "plan", "run_agent", "control"):
        activity.defn(name=name)(getattr(Host, name))
    return [host.prepare, host.plan, host.run_agent, host.control]
