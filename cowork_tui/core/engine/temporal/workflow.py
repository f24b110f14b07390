"""A session as a Temporal workflow (DESIGN §8): the same life as in process — preflight,
planning, the agents run as `scheduler` decides, DESIGN §4's control table, one verdict — with
each agent an activity on the worker that took the session (its own task queue: the agent's
files and processes stay on one host, and pause reaches it there).

Workflow code must replay: time is `workflow.now()`, nothing here does I/O, and the scheduling
is the pure `scheduler`. The workflow, not the server, decides retries: an activity runs once.
temporalio is imported in the methods, and `define()` applies its decorators, so that this
module imports without the [temporal] extra.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ...errors import InputError
from ...models import (
    AgentRecord,
    AgentState,
    Plan,
    SessionState,
    Subtask,
)
from ...planning.dag import check_plan
from ..resume import kept
from ..scheduler import decide, finished, verdict
from ..totals import Finished, summary
from .flow import QUICK, FlowAgent, cause, last_heartbeat, once
from .flow_controls import ControlledFlow
from .shapes import (
    AGENT,
    HEARTBEAT_TIMEOUT,
    PLAN_WITHIN,
    WORKFLOW,
    AgentJob,
    AgentResult,
    PlanJob,
    Prepared,
    SessionInput,
    Upstream,
    View,
)

if TYPE_CHECKING:
    from temporalio.workflow import ActivityHandle

S, A = SessionState, AgentState
WHOLE_RUN = timedelta(days=365)  # no limit of Temporal's own: agents' timeouts are enforced


class SessionWorkflow(ControlledFlow):
    async def run(self, given: SessionInput) -> View:
        from temporalio import workflow

        try:
            await self._run(given)
        except Exception as exc:  # a bug ends this session, never the worker
            workflow.logger.exception("session %s crashed", given.record.id)
            self._finish(S.FAILED, f"internal error: {exc!r}")
        await self._tell_ended()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view(0)

    async def _run(self, given: SessionInput) -> None:
        from temporalio import workflow

        prepared = await self._step(
            workflow.start_activity(
                "prepare", given.item, result_type=Prepared, **once(QUICK, queue=None)
            )
        )
        if prepared is None:
            return
        self._queue = prepared.queue
        if prepared.missing:
            item = given.item.ref
            self._finish(S.FAILED, f"{item} cannot run here: {'; '.join(prepared.missing)}")
            return
        self._set_state(S.PLANNING)
        plan = given.record.plan
        if plan is None:
            job = PlanJob(item=given.item, record=self._record())
            plan = await self._step(
                workflow.start_activity(
                    "plan",
                    job,
                    result_type=Plan,
                    heartbeat_timeout=HEARTBEAT_TIMEOUT,  # a cancel reaches the planner
                    **once(PLAN_WITHIN, self._queue),
                ),
                failed="planning failed: ",
            )
            if plan is None:
                return
        try:
            check_plan(given.item, plan)
        except InputError as exc:
            self._finish(S.FAILED, str(exc))
            return
        self._base = self._base.model_copy(update={"plan": plan})
        earlier = {a.subtask: a for a in given.earlier}
        self._agents = {s.id: self._new_agent(s, earlier.get(s.id)) for s in plan.subtasks}
        self._check_budget()
        self._set_state(S.PAUSED if self._held else S.RUNNING)
        await self._dispatch()
        self._complete()

    async def _step(self, handle: Any, failed: str = "") -> Any:
        """The result of a step before the agents run; None when the session was cancelled
        meanwhile (nothing more is spawned) or the step failed (the session FAILED)."""
        from temporalio import workflow
        from temporalio.exceptions import ActivityError

        await workflow.wait_condition(lambda: handle.done() or self._stop is not None)
        if not handle.done():
            handle.cancel()
            with contextlib.suppress(ActivityError):
                await handle  # cancelled at once: nothing of it ran on
            return None
        try:
            return handle.result()
        except ActivityError as exc:
            said = getattr(exc.cause, "type", None) == "InputError"  # it names the problem
            self._finish(S.FAILED, ("" if said else failed) + cause(exc))
            return None

    def _new_agent(self, subtask: Subtask, before: AgentRecord | None) -> FlowAgent:
        record = AgentRecord(
            subtask=subtask.id, agent=subtask.agent, prompt=subtask.prompt, skills=subtask.skills
        )
        if before is not None and kept(before):
            result = self._input.kept.get(subtask.id, before.output_preview)
            return FlowAgent(subtask, before, result=result, started=True)
        if before is not None:  # it runs again; what it spent still counts
            record = record.model_copy(
                update={
                    "tokens": before.tokens,
                    "cost_usd": before.cost_usd,
                    "model": before.model,
                    "conversation": before.conversation,
                }
            )
        return FlowAgent(subtask, record, earlier=before)

    async def _dispatch(self) -> None:
        from temporalio import workflow

        while True:
            self._moved = False
            views = [a.view() for a in self._agents.values()]
            decision = decide(
                views, cap=self._base.max_parallel, paused=self._held, stop=self._stop
            )
            if decision.empty:
                if finished(views):
                    return
                await workflow.wait_condition(lambda: self._moved)
                continue
            if decision.abandon:
                assert self._stop is not None
                for sid in decision.abandon:
                    why = "the session was cancelled before it started"
                    self._end_agent(self._agents[sid], self._stop.agent_state, why)
            for sid, why in decision.skip:
                self._end_agent(self._agents[sid], A.SKIPPED, why)
            for sid in decision.queue:
                self._move_agent(self._agents[sid], A.QUEUED)
            for sid in decision.start:
                if self._held:  # at its budget, as the last one started
                    break
                self._start_agent(self._agents[sid])

    def _start_agent(self, agent: FlowAgent) -> None:
        from temporalio import workflow

        if agent.record.state is A.PENDING:
            self._move_agent(agent, A.QUEUED)
        agent.started = True
        agent.record = agent.record.model_copy(update={"started_at": workflow.now()})
        self._move_agent(agent, A.RUNNING)
        upstream = tuple(
            Upstream(
                subtask=d,
                agent=self._agents[d].subtask.agent,
                text=self._agents[d].result,
                output_path=self._agents[d].record.output_path,
            )
            for d in agent.subtask.after
        )
        job = AgentJob(
            session_id=self._base.id,
            item=self._input.item,
            subtask=agent.subtask,
            task=self._base.task,
            cwd=self._base.cwd,
            backend=self._base.backend,
            grace_seconds=self._input.grace_seconds,
            upstream=upstream,
            earlier=agent.earlier,
            budget_left_usd=None if self._budget is None else max(self._budget - self._cost(), 0),
        )
        agent.handle = workflow.start_activity(
            "run_agent",
            job,
            result_type=AgentResult,
            activity_id=AGENT + agent.subtask.id,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            **once(WHOLE_RUN, self._queue),
        )
        agent.waiter = asyncio.create_task(self._await_agent(agent, agent.handle))

    async def _await_agent(self, agent: FlowAgent, handle: ActivityHandle[AgentResult]) -> None:
        from temporalio.exceptions import ActivityError

        try:
            done = await handle
        except ActivityError as exc:
            state = A.CANCELLED if agent.cancel_requested or self._stop else A.FAILED
            why = "cancelled" if state is A.CANCELLED else cause(exc)
            self._end_agent(agent, state, why, last_heartbeat(exc))
            return
        except Exception as exc:  # a bug: this agent fails, the session goes on
            self._end_agent(agent, A.FAILED, f"internal error: {exc!r}")
            return
        agent.result = done.result
        self._events.extend(done.events)
        self._end_agent(agent, done.record.state, done.record.error, done.record)

    def _complete(self) -> None:
        if self._state.terminal:
            return
        views = [a.view() for a in self._agents.values()]
        if self._stop is None:
            self._set_state(S.COMPLETING)
        end = verdict(views, self._stop, self._error)
        self._summary = summary(
            [Finished(a.subtask, a.record, a.result) for a in self._agents.values()]
        )
        self._finish(end.state, end.error)


def define() -> type[SessionWorkflow]:
    """The workflow class with temporalio's decorators applied (they mark its methods in
    place): what a worker registers."""
    from temporalio import workflow

    cls = SessionWorkflow
    workflow.init(cls.__init__)
    workflow.run(cls.run)
    workflow.update(cls.control).validator(cls.check_control)
    workflow.update(cls.set_budget).validator(cls.check_budget)
    workflow.update(cls.steer).validator(cls.check_steer)
    workflow.query(cls.view)
    return workflow.defn(name=WORKFLOW, sandboxed=False)(cls)
