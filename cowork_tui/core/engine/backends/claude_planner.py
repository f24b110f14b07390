"""The model planner: one short Claude Code call with structured output (a JSON schema of the
plan) given the task and the item's agents, skills and commands. Its plan is checked like any
other (known agents and skills, a DAG, the parallel cap); when the call or its plan fails, the
heuristic plan is used and says why. Either way the plan carries what the call cost."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, cast

import anyio

from ...errors import InputError
from ...models import Item, Plan, Subtask, Tokens
from ...planning.builtin import GENERAL_PURPOSE, MERGE_AGENT
from ...planning.dag import check_plan, pattern_of
from ...planning.heuristic import MAX_SUBTASKS, plan_text
from ...planning.rank import prose
from ...pricing import PriceTable
from .claude_errors import describe_exception, describe_result_error
from .claude_options import NO_HOOKS, ClaudeSetup, cli_env
from .claude_usage import UsageMeter

PLANNER_MODEL = "haiku"  # a short, structured answer: the fast model does it well
PLANNER_TIMEOUT = 90.0  # seconds
TURNS = 3  # Claude Code asks again when an answer does not fit the schema
PLANNER_PROMPT = (
    "You split a task into subtasks for a team of agents, as a careful engineer would: one "
    "subtask per concern the task names, each given to the agent whose description fits it "
    "best, with a self-contained prompt. A concern that one of the plugin's skills or "
    "commands fits goes to the general-purpose agent with that skill in `skills`; a concern "
    "nothing fits goes to general-purpose with no skills. Subtasks run in parallel unless "
    "`after` names the subtasks they need; a final subtask that combines several results has "
    "`merge: true` and runs after them. Background the task gives is context for every "
    "prompt, not a subtask. Use as few subtasks as the task needs."
)


@dataclass(frozen=True)
class Planning:
    """What the planner's call gave: a plan that fits the item, or the problem; its usage."""

    plan: Plan | None
    problem: str | None
    tokens: Tokens
    cost_usd: float


async def plan_on_claude(
    item: Item,
    task: str,
    setup: ClaudeSetup,
    prices: PriceTable,
    *,
    max_parallel: int | None = None,
    session_id: str = "",
) -> Plan:
    """Claude's plan for `task` (already checked plannable), else the heuristic plan with a
    warning saying why; both with the call's tokens and cost."""
    cap = max_parallel or item.cowork.max_parallel_agents
    planning = await ask_claude(item, task, setup, prices, cap=cap, session_id=session_id)
    plan = planning.plan
    if plan is None:
        heuristic = plan_text(item, task.strip())
        warning = f"the model planner failed ({planning.problem}): planned from the task's words"
        plan = heuristic.model_copy(update={"warnings": (warning, *heuristic.warnings)})
    return plan.model_copy(update={"tokens": planning.tokens, "cost_usd": planning.cost_usd})


async def ask_claude(
    item: Item, task: str, setup: ClaudeSetup, prices: PriceTable, *, cap: int, session_id: str
) -> Planning:
    try:
        from claude_agent_sdk import AssistantMessage, ClaudeAgentOptions, ResultMessage, query
    except ImportError as exc:
        return Planning(None, f"the 'claude' extra is not installed: {exc}", Tokens(), 0.0)
    stderr: list[str] = []
    options = ClaudeAgentOptions(
        system_prompt=PLANNER_PROMPT,
        tools=[],
        model=setup.default_model or PLANNER_MODEL,
        max_turns=TURNS,
        output_format={"type": "json_schema", "schema": plan_schema(item)},
        env=cli_env(setup, session_id),
        cli_path=setup.cli_path,
        setting_sources=[],  # nothing of the user's or the project's: no hooks, no plugins
        settings=NO_HOOKS,
        strict_mcp_config=True,
        stderr=stderr.append,
    )
    meter, result, said, failure = UsageMeter(), None, None, None
    try:
        with anyio.fail_after(PLANNER_TIMEOUT):
            messages = cast(
                "AsyncGenerator[object, None]",  # it is one: closing it closes the CLI
                query(prompt=planner_input(item, task, cap), options=options),
            )
            async with aclosing(messages):  # the CLI is closed even on a timeout
                async for message in messages:
                    if isinstance(message, AssistantMessage) and message.error:
                        said = message.error
                    if isinstance(message, ResultMessage):
                        meter.on_result(message.model_usage, message.total_cost_usd)
                        result = message
    except TimeoutError:
        failure = f"no answer in {PLANNER_TIMEOUT:g} s"
    except Exception as exc:  # no CLI, the CLI failing: the heuristic plans
        failure = describe_exception(exc, "\n".join(stderr[-5:]).strip())
    usage = _usage(meter, prices)
    if result is not None and result.subtype == "error_max_turns":
        return Planning(None, f"no answer that fits the plan's schema in {TURNS} tries", *usage)
    if result is not None and result.is_error:  # the CLI exits 1 after it: this says why
        return Planning(None, describe_result_error(result, said, TURNS), *usage)
    if failure is not None or result is None:
        return Planning(None, failure or "Claude Code ended without a result", *usage)
    try:
        return Planning(plan_of_output(item, result.structured_output), None, *usage)
    except (InputError, ValueError, TypeError, KeyError) as exc:
        return Planning(None, f"its plan does not fit {item.ref}: {exc}", *usage)


def _usage(meter: UsageMeter, prices: PriceTable) -> tuple[Tokens, float]:
    cost, _, _ = meter.settle(prices)
    return meter.tokens(), cost


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
    subtask = {
        "type": "object",
        "properties": properties,
        "required": ["id", "agent", "prompt"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "subtasks": {"type": "array", "items": subtask, "minItems": 1, "maxItems": MAX_SUBTASKS}
        },
        "required": ["subtasks"],
        "additionalProperties": False,
    }


def planner_input(item: Item, task: str, cap: int) -> str:
    agents = "\n".join(f"- {a.name}: {one_paragraph(a.description)}" for a in item.agents)
    skills = "\n".join(
        f"- {s.name} ({s.kind}): {one_paragraph(s.description)}"
        for s in item.skills
        if s.model_invocable
    )
    parts = f"Agents of {item.ref}:\n{agents or '(none: use general-purpose)'}"
    if skills:
        parts += f"\n\nSkills and commands of {item.ref}:\n{skills}"
    return f"Task: {task}\n\n{parts}\n\nAt most {cap} agents run at once."


def one_paragraph(description: str) -> str:
    return " ".join(prose(description).split())


def plan_of_output(item: Item, data: object) -> Plan:
    """The plan in the model's structured output; InputError (or a pydantic ValueError) unless
    it is one that fits the item."""
    if not isinstance(data, dict) or not isinstance(data.get("subtasks"), list):
        raise InputError("no subtasks in its answer")
    subtasks = tuple(
        sub.model_copy(update={"merge": sub.merge or len(sub.after) > 1})  # as workflows have it
        for sub in map(Subtask.model_validate, data["subtasks"])
    )
    if len(subtasks) > MAX_SUBTASKS:
        raise InputError(f"{len(subtasks)} subtasks, more than {MAX_SUBTASKS}")
    check_plan(item, Plan(pattern="dag", subtasks=subtasks))
    ordered = _in_order(subtasks)
    return Plan(pattern=pattern_of(ordered), subtasks=ordered, source="model")


def _in_order(subtasks: tuple[Subtask, ...]) -> tuple[Subtask, ...]:
    """Each subtask after those it waits for (plans are listed so), else in the model's order."""
    left, done, ordered = list(subtasks), set[str](), []
    while left:
        ready = next(s for s in left if done.issuperset(s.after))  # a DAG: there is one
        left.remove(ready)
        done.add(ready.id)
        ordered.append(ready)
    return tuple(ordered)
