"""The one check of a plan's shape, for declared workflows (at load) and plans (before a run):
ids unique, agents known, `after` links known, no cycles; and the names of its shapes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from typing import Protocol

from ..errors import InputError
from ..models import Item, Pattern, Plan, Subtask
from ..names import RULE, is_safe
from .builtin import BUILT_IN_AGENTS


class Step(Protocol):
    """A workflow step or a plan's subtask."""

    @property
    def id(self) -> str: ...

    @property
    def agent(self) -> str: ...

    @property
    def after(self) -> tuple[str, ...]: ...

    @property
    def skills(self) -> tuple[str, ...]: ...


def dag_problems(
    steps: Sequence[Step],
    agents: Collection[str],
    where: str,
    skills: Collection[str] = (),
) -> list[str]:
    """One message per problem, each naming `where` (e.g. `marketplace.json: plugins[2].cowork.
    workflow`) and the step at fault; empty when the steps can run."""
    problems: list[str] = []
    if not steps:
        return [f"{where}: has no steps"]
    seen: set[str] = set()
    for i, step in enumerate(steps):
        if not is_safe(step.id):  # it names the step's output file
            problems.append(f"{where}[{i}].id: {step.id!r} {RULE}")
        elif step.id in seen:
            problems.append(f"{where}[{i}].id: duplicate step id {step.id!r}")
        seen.add(step.id)
        if step.agent not in agents:
            known = ", ".join(sorted(agents)) or "none"
            problems.append(
                f"{where}[{i}].agent: unknown agent {step.agent!r} (the item's agents: {known})"
            )
        for name in step.skills:
            if name not in skills:
                known = ", ".join(sorted(skills)) or "none"
                problems.append(
                    f"{where}[{i}].skills: unknown skill {name!r} (the item's skills: {known})"
                )
    for i, step in enumerate(steps):
        for upstream in step.after:
            if upstream == step.id:
                problems.append(f"{where}[{i}].after: step {step.id!r} cannot run after itself")
            elif upstream not in seen:
                problems.append(f"{where}[{i}].after: unknown step {upstream!r}")
    cycle = find_cycle(steps)
    if cycle:
        problems.append(f"{where}: cycle between steps {' → '.join(cycle)}")
    return problems


def check_plan(item: Item, plan: Plan) -> None:
    """Before a run: InputError naming the first problem of `plan` for `item`."""
    agents = {a.name for a in item.agents} | BUILT_IN_AGENTS
    skills = {s.name for s in item.skills}
    problems = dag_problems(plan.subtasks, agents, "plan.subtasks", skills)
    if problems:
        raise InputError(problems[0])


def find_cycle(steps: Sequence[Step]) -> list[str] | None:
    """A cycle of `after` links (first step repeated at the end), or None. Self-links and
    unknown steps are reported on their own and skipped here."""
    after = {step.id: [u for u in step.after if u != step.id] for step in steps}
    done: set[str] = set()
    for start in after:
        if start in done:
            continue
        path, on_path = [start], {start}
        stack = [(start, iter(after[start]))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif child in on_path:
                return [*path[path.index(child) :], child]
            elif child in after and child not in done:
                stack.append((child, iter(after[child])))
                path.append(child)
                on_path.add(child)
    return None


def pattern_of(subtasks: Sequence[Subtask]) -> Pattern:
    """Name the shape of the DAG."""
    if len(subtasks) == 1:
        return "single"
    edges = sum(len(s.after) for s in subtasks)
    if edges == 0:
        return "parallel"
    chain = all(
        len(s.after) == (0 if i == 0 else 1) and (i == 0 or s.after[0] == subtasks[i - 1].id)
        for i, s in enumerate(subtasks)
    )
    if chain:
        return "sequential"
    fans_out = any(n > 1 for n in Counter(dep for s in subtasks for dep in s.after).values())
    if fans_out or any(len(s.after) > 1 for s in subtasks):
        return "fan-out-fan-in"
    return "dag"


def stages(plan: Plan) -> list[list[Subtask]]:
    """Subtasks grouped by depth: a stage runs once every earlier stage it needs is done."""
    depth: dict[str, int] = {}
    for sub in plan.subtasks:  # plans list a subtask after everything it waits for
        depth[sub.id] = 1 + max((depth.get(up, 0) for up in sub.after), default=-1)
    grouped: dict[int, list[Subtask]] = {}
    for sub in plan.subtasks:
        grouped.setdefault(depth[sub.id], []).append(sub)
    return [grouped[level] for level in sorted(grouped)]
