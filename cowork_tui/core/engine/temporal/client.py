"""The Temporal engine (DESIGN §8), the client's side: the engine protocol over sessions that run
as workflows on `cowork-tui worker` processes, so they outlive this process.

It reads each session it watches every `poll_seconds`: the workflow's own view (a query) and
its running agents' live records (their heartbeats, from `describe`, which needs no worker).
Controls are checked here against the latest view with the same rules the workflow's update
validators apply (so a refusal is the same ControlError, at once), then sent as updates.

The client records sessions into the archive — the one that launched a session, or the first
that finds it running when nobody records it (`DurableRecorder.adopt`): a session's record is
written by one process at a time, each event once. Sessions that ended while no client ran are
recorded when the next one starts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypeGuard

import anyio
from anyio.abc import TaskGroup

from ...clock import utcnow
from ...config import TemporalSettings
from ...errors import ControlError
from ...models import AgentRecord, EngineName, SessionRecord, SessionState
from ..common import EngineBase
from ..lifecycle import Control, agent_refusal, budget_refusal, session_refusal
from ..output_files import saved_result
from ..protocol import LaunchRequest
from ..resume import kept
from .shapes import WORKFLOW, Budget, ControlInput, SessionInput, View
from .tracked import QUERY_TIMEOUT, DurableRecorder, Tracked

if TYPE_CHECKING:
    from temporalio.client import Client

log = logging.getLogger(__name__)
S = SessionState
UPDATE_WAIT = 10.0  # a control no worker takes in this time: a cancel ends the workflow itself


class TemporalEngine(EngineBase[Tracked]):
    name: EngineName = "temporal"
    durable = True  # sessions go on when this process ends

    def __init__(
        self,
        settings: TemporalSettings,
        *,
        recorder: DurableRecorder | None = None,
        grace_seconds: float = 5.0,
        poll_seconds: float = 0.2,
    ) -> None:
        super().__init__()
        self._settings = settings
        self._recorder = recorder
        self._grace = grace_seconds
        self._poll = poll_seconds
        self._client: Client | None = None
        self._tg: TaskGroup | None = None
        self.notice: str | None = None

    async def __aenter__(self) -> TemporalEngine:
        from .connection import connect

        self._client = await connect(self._settings)
        self.notice = await _no_worker(self._client, self._settings)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        await self._find_sessions()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._tg is not None
        tg, self._tg = self._tg, None
        tg.cancel_scope.cancel()  # the sessions go on: only watching them stops
        return await tg.__aexit__(exc_type, exc, tb)

    # --- sessions -------------------------------------------------------------------------

    def launch(self, request: LaunchRequest) -> str:
        if self._tg is None:
            raise RuntimeError("the engine is not running: use `async with TemporalEngine(...)`")
        record = request.first_record(utcnow(), self.name)
        before = 0
        if request.resumed is not None and self._recorder is not None:
            self._recorder.claim(record.id)
            before = self._recorder.event_count(record.id)
        earlier = request.resumed.agents if request.resumed else ()
        given = SessionInput(
            record=record,
            item=request.item,
            grace_seconds=self._grace,
            earlier=earlier,
            kept={a.subtask: _result(a) for a in earlier if kept(a)},
            events_before=before,
        )
        tracked = self._track(record, self._recorder)
        tracked.store(None)
        self._tg.start_soon(self._start, tracked, given)
        return record.id

    async def _start(self, tracked: Tracked, given: SessionInput) -> None:
        assert self._client is not None
        try:
            tracked.handle = await self._client.start_workflow(
                WORKFLOW,
                given,
                id=given.record.id,
                task_queue=self._settings.task_queue,
                result_type=View,
            )
        except Exception as exc:
            if given.earlier:  # resumed: it stays as it was, to resume again
                tracked.record = tracked.record.model_copy(update={"agents": given.earlier})
                tracked.ended(f"Temporal did not start it: {exc}", S.INTERRUPTED)
            else:
                tracked.ended(f"Temporal did not start it: {exc}")
            return
        tracked.started.set()
        await tracked.follow(self._client, self._poll)

    def control(
        self, session_id: str, control: Control, subtask: str | None = None, reason: str = "user"
    ) -> None:
        tracked = self._session(session_id)
        record = tracked.record
        if subtask is None:
            refused = session_refusal(
                record.id, record.state, control, record.cost_usd, record.budget_usd
            )
        else:
            agent = record.agent(subtask)
            state = agent.state if agent else None
            refused = agent_refusal(record.id, record.state, subtask, state, control)
        if refused:
            raise ControlError(refused)
        given = ControlInput(control=control, subtask=subtask, reason=reason)
        self._send(tracked, "control", given)

    def set_budget(self, session_id: str, budget_usd: float | None) -> None:
        tracked = self._session(session_id)
        record = tracked.record
        refused = budget_refusal(record.id, record.state, budget_usd, record.cost_usd)
        if refused:
            raise ControlError(refused)
        tracked.budget_paused = False
        tracked.record = record.model_copy(update={"budget_usd": budget_usd})  # for `resume`
        self._bump()
        self._send(tracked, "set_budget", Budget(budget_usd=budget_usd, spent_usd=record.cost_usd))

    async def steer(self, session_id: str, subtask: str, text: str) -> None:
        from temporalio.client import WorkflowUpdateFailedError

        tracked = self._session(session_id)
        await tracked.started.wait()
        handle = tracked.handle
        assert handle is not None
        try:
            await _retried(lambda: handle.execute_update("steer", args=[subtask, text]))
        except WorkflowUpdateFailedError as exc:
            raise ControlError(_message(exc)) from None
        tracked.nudge.set()

    def snapshot(self, session_id: str) -> SessionRecord:
        return self._session(session_id).record

    def snapshots(self) -> tuple[SessionRecord, ...]:
        return tuple(tracked.record for tracked in self._sessions.values())

    async def wait(self, session_id: str) -> SessionRecord:
        tracked = self._session(session_id)
        await tracked.done.wait()
        return tracked.record

    async def shutdown(self, reason: str = "app shutdown") -> None:
        """Nothing to interrupt: the sessions run on their workers, and go on."""

    # --- watching -------------------------------------------------------------------------

    def _send(self, tracked: Tracked, update: str, given: ControlInput | Budget) -> None:
        """Send an update once the workflow exists, after those sent before it (a budget
        raised, then a resume); a refusal that raced the check (the session ended meanwhile)
        is logged."""
        tracked.outbox.append((update, given))
        if len(tracked.outbox) == 1:  # else the sender at work takes it in turn
            assert self._tg is not None
            self._tg.start_soon(self._deliver, tracked)

    @staticmethod
    async def _deliver(tracked: Tracked) -> None:
        from temporalio.client import (
            WorkflowUpdateFailedError,
            WorkflowUpdateRPCTimeoutOrCancelledError,
        )
        from temporalio.service import RPCError

        refused = (WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, RPCError)
        await tracked.started.wait()
        handle = tracked.handle
        assert handle is not None
        while tracked.outbox:
            update, given = tracked.outbox[0]
            with anyio.move_on_after(UPDATE_WAIT) as waiting:
                try:
                    await _retried(partial(handle.execute_update, update, given))
                except refused as exc:  # when this client stops meanwhile, the next await says so
                    log.info("cowork-tui: session %s: %s", tracked.record.id, _message(exc))
            if waiting.cancel_called and _cancels_session(given) and not tracked.done.is_set():
                why = f"cancelled ({given.reason}); no worker answered"  # nothing of it runs
                tracked.ended_by = why
                with suppress(RPCError):  # it ended meanwhile
                    await handle.terminate(why)
            del tracked.outbox[0]
            tracked.nudge.set()

    async def _find_sessions(self) -> None:
        """The sessions running on Temporal, and those the archive holds as not ended (they
        may have ended while no client ran): tracked, and recorded when nobody else does."""
        from temporalio.service import RPCError

        assert self._client is not None and self._tg is not None
        query = (
            f'WorkflowType="{WORKFLOW}" AND ExecutionStatus="Running" '
            f'AND TaskQueue="{self._settings.task_queue}"'
        )
        found: list[str] = []
        try:
            found = [execution.id async for execution in self._client.list_workflows(query)]
        except RPCError as exc:  # a server without visibility: the archive's sessions still
            log.warning("cowork-tui: cannot list the sessions on Temporal: %s", exc.message)
        if self._recorder is not None:
            found += self._recorder.live_ids(self.name)
        for session_id in dict.fromkeys(found):  # each shows once its workflow answers
            self._tg.start_soon(self._follow, session_id)

    async def _follow(self, session_id: str) -> None:
        from temporalio.service import RPCError, RPCStatusCode

        assert self._client is not None
        handle = self._client.get_workflow_handle(session_id, result_type=View)
        try:
            view = await handle.query("view", 0, result_type=View, rpc_timeout=QUERY_TIMEOUT)
        except Exception:
            try:
                view = await handle.result(rpc_timeout=QUERY_TIMEOUT)
            except RPCError as exc:
                if exc.status is RPCStatusCode.NOT_FOUND:
                    self._forgotten(session_id)
                return  # else Temporal cannot say now: left as the archive has it
            except Exception:
                return
        recorder, seen = self._adopted(session_id)
        tracked = self._track(view.record, recorder)
        tracked.seen = max(seen - view.events_before, 0)  # what the archive has of it already
        tracked.handle = handle
        tracked.started.set()
        tracked.seen_view(view.model_copy(update={"events": view.events[tracked.seen :]}), {})
        await tracked.follow(self._client, self._poll)

    def _adopted(self, session_id: str) -> tuple[DurableRecorder | None, int]:
        """The recorder, when this client is now the one to record the session, and how many
        of its events it holds; (None, 0) when another process records it, or the archive
        cannot say now (busy, damaged: it is watched, not recorded)."""
        recorder = self._recorder
        try:
            if recorder is not None and recorder.adopt(session_id):
                return recorder, recorder.event_count(session_id)
        except Exception as exc:
            log.warning("cowork-tui: cannot record session %s: %s", session_id, exc)
        return None, 0

    def _forgotten(self, session_id: str) -> None:
        """The archive holds a session as running that Temporal does not know (its server
        started afresh, without its database): INTERRUPTED, so that it can be resumed."""
        recorder, _ = self._adopted(session_id)
        if recorder is None:
            return
        why = "Temporal has no record of it (its server lost it)"
        tracked = self._track(recorder.get(session_id), recorder)
        tracked.ended(why, S.INTERRUPTED)

    def _track(self, record: SessionRecord, recorder: DurableRecorder | None) -> Tracked:
        tracked = Tracked(record, recorder, self._bump, self._send)
        self._sessions[record.id] = tracked
        self._bump()
        return tracked


async def _retried(send: Callable[[], Awaitable[object]], seconds: float = 10) -> None:
    """Send an update, again while the workflow is not ready for one (its first task not yet
    done, its worker moving): Temporal says so with FAILED_PRECONDITION."""
    from temporalio.service import RPCError, RPCStatusCode

    deadline = anyio.current_time() + seconds
    while True:
        try:
            await send()
            return
        except RPCError as exc:
            if exc.status is not RPCStatusCode.FAILED_PRECONDITION:
                raise
            if anyio.current_time() > deadline:
                raise
        await anyio.sleep(0.05)


async def _no_worker(client: Client, settings: TemporalSettings) -> str | None:
    """What to tell the user when no worker serves the task queue: sessions wait for one."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    found = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=settings.namespace,
            task_queue=TaskQueue(name=settings.task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    if found.pollers:
        return None
    return (
        f"no worker serves task queue {settings.task_queue!r} at {settings.address} yet: "
        "sessions wait for one (start it with `cowork-tui worker`)"
    )


def _cancels_session(given: ControlInput | Budget) -> TypeGuard[ControlInput]:
    return isinstance(given, ControlInput) and given.control is Control.CANCEL and not given.subtask


def _result(agent: AgentRecord) -> str:
    """A kept agent's result, for its downstream agents (its saved result, else its preview)."""
    path = agent.output_path
    return (saved_result(Path(path)) if path else "") or agent.output_preview


def _message(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    return str(getattr(cause, "message", None) or cause or exc)
