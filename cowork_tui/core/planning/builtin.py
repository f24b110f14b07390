"""The built-in agents: Claude Code's `general-purpose` agent, which carries out subtasks on
items without agents (with the item's skills and commands) and subtasks no agent fits; and the
merge step, the fan-in when the item has no agent that combines results."""

from __future__ import annotations

from collections.abc import Sequence

from ..models import AgentSpec, Item

MERGE_AGENT = "merge"  # the built-in merge step, used when the item has no coordinator agent
GENERAL_PURPOSE = "general-purpose"  # Claude Code's name for it
BUILT_IN_AGENTS = frozenset({MERGE_AGENT, GENERAL_PURPOSE})
GENERAL_PURPOSE_PROMPT = (
    "You are a general-purpose agent of a cowork session: several agents work on parts of one "
    "task, and you carry out the part you are given, completely, with the tools you have. When "
    "skills of the plugin are named for your part, load and follow them (the Skill tool). End "
    "with your result, clearly stated: it is what the next agents and the user read."
)
COORDINATOR_PROMPT = (
    "You are the coordinator of a cowork session. Several agents worked on parts of one task; "
    "their results follow, each under a `## <subtask>` heading. Combine them into one coherent "
    "answer to the task: keep every concrete finding, remove repetition, and say where the "
    "results disagree."
)


def built_in_spec(item: Item, name: str) -> AgentSpec | None:
    """The built-in agent `name` for `item`; None for the merge of an item that uses no model
    (its results are joined in process)."""
    if name == GENERAL_PURPOSE:
        return AgentSpec(
            name=GENERAL_PURPOSE,
            kind="model",
            system_prompt=GENERAL_PURPOSE_PROMPT,
            description="Claude Code's general-purpose agent, with the plugin's skills",
        )
    if name != MERGE_AGENT or not item.uses_models:
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
