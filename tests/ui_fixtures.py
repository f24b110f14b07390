"""Fixed session records and an engine stand-in that serves them: deterministic screens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from cowork_tui.core.models import (
    AgentRecord,
    AgentState,
    Plan,
    SessionRecord,
    SessionState,
    Subtask,
    Tokens,
)
from tests.ui_support import FROZEN

START = FROZEN - timedelta(seconds=95)
PLAN = Plan(
    pattern="fan-out-fan-in",
    source="workflow",
    subtasks=(
        Subtask(id="security", agent="security-reviewer", prompt="Review for security: the diff"),
        Subtask(id="correctness", agent="correctness-reviewer", prompt="Review for bugs: the diff"),
        Subtask(
            id="merge",
            agent="review-coordinator",
            prompt="Merge the reviews of: the diff",
            after=("security", "correctness"),
            merge=True,
        ),
    ),
)


def agent(
    subtask: str, name: str, state: AgentState, progress: float, seconds: float, **kw: object
) -> AgentRecord:
    ended = START + timedelta(seconds=seconds) if state.terminal else None
    return AgentRecord(
        subtask=subtask,
        agent=name,
        prompt=next(s.prompt for s in PLAN.subtasks if s.id == subtask),
        state=state,
        model="claude-sonnet-4-5",
        started_at=START,
        ended_at=ended,
        duration_s=seconds if state.terminal else None,
        tokens=Tokens(input=12_000, output=1_500),
        cost_usd=0.0585,
        progress=progress,
        **kw,
    )


RUNNING = SessionRecord(
    id="20260102-030230-abc123",
    item="code-review-team",
    marketplace="cowork-tui",
    task="the diff",
    state=SessionState.RUNNING,
    backend="demo",
    max_parallel=3,
    cwd="/work",
    started_at=START,
    plan=PLAN,
    agents=(
        agent("security", "security-reviewer", AgentState.SUCCEEDED, 1.0, 41.5,
              output_tail=("[simulated] No injection found.", "[simulated] Secrets: none.")),
        agent("correctness", "correctness-reviewer", AgentState.RUNNING, 0.6, 0,
              step="[simulated] Checking error paths",
              output_tail=("[simulated] Reading parser.py", "[simulated] Off-by-one at l.42?")),
        AgentRecord(subtask="merge", agent="review-coordinator", prompt=PLAN.subtasks[2].prompt),
    ),
    tokens=Tokens(input=24_000, output=3_000),
    cost_usd=0.117,
    agent_count=3,
    version=7,
)  # fmt: skip

FINISHED = RUNNING.model_copy(
    update={
        "id": "20260102-030000-def456",
        "state": SessionState.COMPLETED,
        "partial": True,
        "ended_at": FROZEN,
        "duration_s": 95.0,
        "agents": (
            RUNNING.agents[0],
            agent("correctness", "correctness-reviewer", AgentState.FAILED, 0.6, 60.0,
                  error="exit status 1: parser crashed"),
            agent("merge", "review-coordinator", AgentState.SUCCEEDED, 1.0, 30.0,
                  output_preview="[simulated] One finding, in parser.py."),
        ),
        "failed_subtasks": ("correctness",),
        "summary": "[simulated] One finding, in parser.py.\ncorrectness: FAILED",
    }
)  # fmt: skip


class FrozenEngine:
    """What the app reads of an engine, serving fixed records; controls are refused."""

    durable = False
    notice = None

    def __init__(self, *records: SessionRecord) -> None:
        self.records = {r.id: r for r in records}
        self.version = 1

    def snapshots(self) -> tuple[SessionRecord, ...]:
        return tuple(self.records.values())

    def snapshot(self, session_id: str) -> SessionRecord:
        return self.records[session_id]

    async def shutdown(self, reason: str = "") -> None:
        return None


def frozen_engine(*records: SessionRecord):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def factory() -> AsyncIterator[FrozenEngine]:
        yield FrozenEngine(*records)

    return factory


def ten_agents() -> SessionRecord:
    """A session of ten agents: nine reviewers in parallel, in every state, then a merge."""
    states = [AgentState.SUCCEEDED, AgentState.RUNNING, AgentState.RUNNING, AgentState.PAUSED,
              AgentState.FAILED, AgentState.QUEUED, AgentState.RUNNING, AgentState.SUCCEEDED,
              AgentState.PENDING]  # fmt: skip
    subtasks = tuple(
        Subtask(id=f"part-{n}", agent=f"reviewer-{n}", prompt=f"Review part {n} of the diff")
        for n in range(9)
    )
    merge = Subtask(id="merge", agent="coordinator", prompt="Merge the reviews",
                    after=tuple(s.id for s in subtasks), merge=True)  # fmt: skip
    plan = Plan(pattern="fan-out-fan-in", source="heuristic", subtasks=(*subtasks, merge))
    agents = []
    for n, (sub, state) in enumerate(zip(subtasks, states, strict=True)):
        started = state not in (AgentState.PENDING, AgentState.QUEUED)
        agents.append(
            AgentRecord(
                subtask=sub.id,
                agent=sub.agent,
                prompt=sub.prompt,
                state=state,
                model="claude-sonnet-4-5",
                started_at=START if started else None,
                ended_at=FROZEN if state.terminal else None,
                duration_s=30.0 + n if state.terminal else None,
                active_s=20.0 + n if started else None,
                tokens=Tokens(input=1000 * (n + 1), output=100 * n),
                cost_usd=0.01 * n,
                progress=n / 10,
                step=f"[simulated] checking file {n}" if started else "",
                output_tail=(f"[simulated] looked at part {n}", f"[simulated] finding {n}"),
                error="exit code 1: lint failed" if state is AgentState.FAILED else None,
            )
        )  # fmt: skip
    agents.append(AgentRecord(subtask="merge", agent="coordinator", prompt=merge.prompt))
    return RUNNING.model_copy(
        update={
            "id": "20260102-030230-ten000",
            "plan": plan,
            "agents": tuple(agents),
            "agent_count": 10,
            "max_parallel": 10,
        }
    )


TEN = ten_agents()
