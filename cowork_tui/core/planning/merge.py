"""The built-in merge step: the fan-in when the item has no agent that combines results."""

from __future__ import annotations

from collections.abc import Sequence

from ..models import AgentSpec, Item

MERGE_AGENT = "merge"  # the built-in merge step, used when the item has no coordinator agent
COORDINATOR_PROMPT = (
    "You are the coordinator of a cowork session. Several agents worked on parts of one task; "
    "their results follow, each under a `## <subtask>` heading. Combine them into one coherent "
    "answer to the task: keep every concrete finding, remove repetition, and say where the "
    "results disagree."
)


def merge_spec(item: Item) -> AgentSpec | None:
    """Who runs the built-in merge: a model coordinator when the item has model agents, else
    nobody (the results are joined in process)."""
    if not any(a.kind == "model" for a in item.agents):
        return None
    return AgentSpec(
        name=MERGE_AGENT,
        kind="model",
        system_prompt=COORDINATOR_PROMPT,
        description="Combines the results of the other agents",
    )


def joined(results: Sequence[tuple[str, str]]) -> str:
    """The in-process merge: each (subtask, text) under its own heading."""
    return "\n\n".join(f"## {subtask}\n\n{text.rstrip()}" for subtask, text in results) + "\n"
