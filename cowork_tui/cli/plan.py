"""`plan`: the plan a session would run, as a tree of stages (or JSON); no agent runs. With the
model planner on for the backend, Claude is asked, as the session would."""

from __future__ import annotations

import argparse
import json
import sys

import anyio

from ..core.launch import Estimate
from ..core.models import Item, Plan
from ..core.planning.dag import stages
from ..core.planning.plans import SOURCES
from ..core.text import one_line, printable
from ..core.workspace import Workspace
from .arguments import session_arguments

PROMPT_CHARS = 100


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plan = subparsers.add_parser(
        "plan",
        help="show the plan for a task; no agent runs",
        description="Show the plan a session of ITEM on TASK would run: its stages, who does "
        "what with which skills, warnings, and estimates. When the session would be planned by "
        "Claude (model_planner in config.toml), Claude is asked, at the cost shown.",
    )
    session_arguments(plan)
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.set_defaults(handler=cmd_plan)


def cmd_plan(args: argparse.Namespace) -> int:
    workspace = Workspace.open(read_only=True)
    launcher = workspace.launcher
    item = workspace.catalog.find(args.item)
    backend, notice = launcher.backend_for(item, args.backend)
    if notice:
        print(f"cowork-tui: {notice}", file=sys.stderr)
    if launcher.model_plans(item, backend) and sys.stderr.isatty():
        print("asking Claude for a plan…", file=sys.stderr)
    plan = anyio.run(
        lambda: workspace.plan(item, args.task, backend, max_parallel=args.max_parallel)
    )
    if args.json:
        print(json.dumps(plan.model_dump(mode="json"), indent=2))
    else:
        print(describe_plan(item, plan, launcher.estimate(item, plan, backend)))
    return 0


def describe_plan(item: Item, plan: Plan, estimate: Estimate) -> str:
    """The plan as a tree: its stages in order, each subtask with its agent and skills."""
    made = SOURCES[plan.source]
    if plan.source == "model":
        made += f" ({plan.tokens.total:,} tokens, ${plan.cost_usd:.4f})"
    lines = [
        f"{item.ref}: {plan.pattern} plan, {len(plan.subtasks)} subtasks, {made}",
        f"estimated duration: {estimate.duration} · cost: {estimate.cost}",
    ]
    width = max(len(sub.id) for sub in plan.subtasks)
    for number, stage in enumerate(stages(plan), 1):
        needs = sorted({up for sub in stage for up in sub.after})
        how = "in parallel" if len(stage) > 1 else "one subtask"
        lines.append("")
        lines.append(f"stage {number}, {how}" + (f", after {', '.join(needs)}" if needs else ""))
        for index, sub in enumerate(stage):
            last = index == len(stage) - 1
            skills = f"  skills: {', '.join(sub.skills)}" if sub.skills else ""
            merge = "  (fan-in: gets their results)" if sub.merge else ""
            lines.append(f"{'└─' if last else '├─'} {sub.id:<{width}}  {sub.agent}{skills}{merge}")
            lines.append(f"{'  ' if last else '│ '}   {one_line(sub.prompt, PROMPT_CHARS)}")
    if plan.warnings:
        lines += ["", "warnings:", *(f"  ! {warning}" for warning in plan.warnings)]
    return printable("\n".join(lines))
