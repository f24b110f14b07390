"""What the client, the session workflow and the workers' activities pass each other (JSON
through Temporal's pydantic converter), and the names they agree on."""

from __future__ import annotations

from datetime import timedelta

from ...models import AgentRecord, Frozen, Item, SessionEvent, SessionRecord, Subtask
from ..lifecycle import Control

WORKFLOW = "cowork-session"  # the workflow type: a session
HEARTBEAT = timedelta(seconds=0.1)  # how often an agent's activity reports (and learns a cancel)
HEARTBEAT_TIMEOUT = timedelta(seconds=5)  # silent this long, its worker is taken for dead
STARTS_WITHIN = timedelta(seconds=10)  # a worker's own queue not served this long: it is gone
CONTROL_ERROR = "ControlError"  # the type of a refused control's failure
AGENT = "agent:"  # an agent's activity id: AGENT + its subtask (others get numbers)
PLAN_WITHIN = timedelta(seconds=150)  # the model planner gives up at 90 s: then the heuristic


class SessionInput(Frozen):
    record: SessionRecord  # as it starts: id, task, plan (or None: planned on the worker)...
    item: Item
    grace_seconds: float  # SIGTERM → SIGKILL, on cancel and timeout
    earlier: tuple[AgentRecord, ...] = ()  # the agents of the run it resumes
    kept: dict[str, str] = {}  # their results that stand, by subtask
    events_before: int = 0  # events the archive had of it before this run


class Prepared(Frozen):
    """The worker that took a session: its own task queue (the session's agents run there,
    where its files are) and what keeps the item from running on its host."""

    queue: str
    missing: tuple[str, ...] = ()


class PlanJob(Frozen):
    item: Item
    record: SessionRecord


class Upstream(Frozen):
    subtask: str
    agent: str
    text: str
    output_path: str | None = None


class AgentJob(Frozen):
    session_id: str
    item: Item
    subtask: Subtask
    task: str
    cwd: str
    backend: str  # for model agents
    grace_seconds: float
    upstream: tuple[Upstream, ...] = ()
    earlier: AgentRecord | None = None  # the run it continues
    budget_left_usd: float | None = None


class AgentResult(Frozen):
    record: AgentRecord
    result: str  # what downstream agents get
    events: tuple[SessionEvent, ...] = ()  # what it reported on the way (a rate limit, a stall)


class ControlJob(Frozen):
    """For the worker that runs a session's agents: pause or continue them, steer one, or
    (`ended`) end what the session's agents left there and forget it."""

    session_id: str
    subtasks: tuple[str, ...] = ()
    paused: bool | None = None
    steer: str | None = None
    ended: bool = False
    grace_seconds: float = 5.0  # for what an ended session left: SIGTERM → SIGKILL


class ControlInput(Frozen):
    control: Control
    subtask: str | None = None
    reason: str = "user"
    budget: bool = False  # a pause at the budget (paused_reason "budget")


class Budget(Frozen):
    budget_usd: float | None
    spent_usd: float  # what the client sees spent, running agents included


class View(Frozen):
    """The session as its workflow knows it, and its events from a given index on."""

    record: SessionRecord
    events: tuple[SessionEvent, ...] = ()
    events_before: int = 0  # the archive's events of it before this run (SessionInput's)
