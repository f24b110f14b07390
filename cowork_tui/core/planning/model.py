"""An optional planner that asks a model (one short structured-output call through Claude Code).

It never fails loudly: any problem (no SDK, no credentials, an API error, a plan that does not
fit the item) gives None, and `plan_with_fallback` uses the heuristic planner instead.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Any, cast

import anyio

from ..models import Item, Plan, Subtask
from .builtin import GENERAL_PURPOSE, MERGE_AGENT
from .dag import check_plan, pattern_of
from .heuristic import MAX_SUBTASKS
from .plans import plan_task

PLANNER_PROMPT = (
    "You split a task into subtasks for a team of agents. Give each subtask to the agent whose "
    "description fits it best, with a self-contained prompt. Subtasks run in parallel unless "
    "`after` names the subtasks they need; a final subtask that combines several results has "
    "`merge: true` and runs after them. A subtask that one of the plugin's skills or commands "
    "fits goes to the general-purpose agent with those `skills`. Use as few subtasks as the "
    "task needs."
)


def plan_schema(item: Item) -> dict[str, Any]:
    agents = [a.name for a in item.agents] + [GENERAL_PURPOSE, MERGE_AGENT]
    skills = [s.name for s in item.skills if s.model_invocable]
    properties: dict[str, Any] = {
        "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
        "agent": {"type": "string", "enum": agents},
        "prompt": {"type": "string"},
        "after": {"type": "array", "items": {"type": "string"}},
        "merge": {"type": "boolean"},
    }
    if skills:  # an empty enum is not a schema
        properties["skills"] = {"type": "array", "items": {"type": "string", "enum": skills}}
    subtask = {"type": "object", "properties": properties, "required": ["id", "agent", "prompt"]}
    return {
        "type": "object",
        "properties": {
            "subtasks": {"type": "array", "items": subtask, "minItems": 1, "maxItems": MAX_SUBTASKS}
        },
        "required": ["subtasks"],
    }


def planner_input(item: Item, task: str) -> str:
    agents = "\n".join(
        f"- {a.name}: {a.description.split('<example>')[0].strip()}" for a in item.agents
    )
    skills = "\n".join(
        f"- {s.name} ({s.kind}): {s.description}" for s in item.skills if s.model_invocable
    )
    parts = f"Agents of {item.ref}:\n{agents or '(none: use general-purpose)'}"
    if skills:
        parts += f"\n\nSkills and commands of {item.ref}:\n{skills}"
    return f"Task: {task}\n\n{parts}"


def plan_of_output(item: Item, data: object) -> Plan | None:
    """The plan in the model's structured output, None unless it fits the item."""
    try:
        raw = data["subtasks"]  # type: ignore[index]
        subtasks = tuple(Subtask.model_validate(s) for s in raw)
        plan = Plan(pattern=pattern_of(subtasks), subtasks=subtasks, source="model")
        check_plan(item, plan)
    except Exception:  # whatever the model produced, it is not a plan we can run
        return None
    return plan


async def model_plan(
    item: Item,
    task: str,
    *,
    env: Mapping[str, str] | None = None,
    model: str = "haiku",
    timeout: float = 60.0,
) -> Plan | None:
    """A plan made by a model, or None (see the module docstring)."""
    if item.cowork.workflow or not item.runnable or not task.strip():
        return None  # a declared workflow wins; nothing to plan otherwise
    try:
        from claude_agent_sdk import ClaudeAgentOptions, ResultMessage, query
    except ImportError:
        return None
    options = ClaudeAgentOptions(
        system_prompt=PLANNER_PROMPT,
        tools=[],
        model=model,
        max_turns=3,
        output_format={"type": "json_schema", "schema": plan_schema(item)},
        env=dict(env or {}),
        setting_sources=[],
        strict_mcp_config=True,
    )
    output: object = None
    try:
        with anyio.fail_after(timeout):
            messages = cast(
                "AsyncGenerator[object, None]",  # it is one: closing it closes the CLI
                query(prompt=planner_input(item, task), options=options),
            )
            async with aclosing(messages):  # the CLI is closed even on a timeout
                async for message in messages:
                    if isinstance(message, ResultMessage) and not message.is_error:
                        output = message.structured_output
    except Exception:  # no CLI, no credentials, API error, timeout: the heuristic plans
        return None
    return plan_of_output(item, output)


async def plan_with_fallback(item: Item, task: str, **options: Any) -> Plan:
    """The model's plan when it makes a valid one, else the heuristic planner's."""
    return await model_plan(item, task, **options) or plan_task(item, task)
