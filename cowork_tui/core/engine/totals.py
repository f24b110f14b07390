"""What a session's record sums up from its agents, whichever engine ran them: tokens, cost and
failures, and the summary it ends with. Pure functions of records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..models import AgentRecord, AgentState, Plan, SessionState, Subtask, Tokens

A = AgentState
SUMMARY_CHARS = 4096


@dataclass(frozen=True)
class Finished:
    """One agent as the summary reads it."""

    subtask: Subtask
    record: AgentRecord
    result: str  # what it handed downstream ("" when it gave nothing)


def tallied(
    state: SessionState, plan: Plan | None, agents: tuple[AgentRecord, ...]
) -> dict[str, Any]:
    """The record's fields that follow from its agents and its plan (what making the plan cost
    counts in the session)."""
    failed = tuple(a.subtask for a in agents if a.state.terminal and a.state is not A.SUCCEEDED)
    return {
        "state": state,
        "plan": plan,
        "agents": agents,
        "tokens": sum((a.tokens for a in agents), plan.tokens if plan else Tokens()),
        "cost_usd": sum((a.cost_usd for a in agents), plan.cost_usd if plan else 0.0),
        "agent_count": len(agents),
        "failed_subtasks": failed,
        "partial": state is SessionState.COMPLETED and bool(failed),
    }


def summary(agents: Sequence[Finished]) -> str:
    """The last results (each under its heading when several): the sinks', or for a sink that
    gave none (a cancelled merge) its upstreams'; then a Markdown list of the agents that did
    not succeed, one line each wherever it is shown."""
    by_id = {a.subtask.id: a for a in agents}
    needed = {d for a in agents for d in a.subtask.after}

    def results(agent: Finished) -> list[Finished]:
        if agent.result:
            return [agent]
        return [r for d in agent.subtask.after for r in results(by_id[d])]

    found = [r for a in agents if a.subtask.id not in needed for r in results(a)]
    sinks = list({r.subtask.id: r for r in found}.values())  # once each, in plan order
    if len(sinks) == 1:
        text = sinks[0].result.strip()
    else:
        text = "\n\n".join(f"## {s.subtask.id}\n\n{s.result.strip()}" for s in sinks)
    if len(text) > SUMMARY_CHARS:
        text = text[: SUMMARY_CHARS - 1] + "…"
    ended = [a.record for a in agents if a.record.state.terminal]
    notes = "\n".join(
        f"- {r.state.value}: {r.subtask} — {r.error or r.state.value.lower()}"
        for r in ended
        if r.state is not A.SUCCEEDED
    )
    return "\n\n".join(part for part in (text, notes) if part)
