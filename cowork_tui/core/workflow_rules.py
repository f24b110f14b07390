"""Checks on a `cowork.workflow`: step ids, agents, `after` links, and no cycles."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from .models import WorkflowStep


def workflow_problems(
    steps: Sequence[WorkflowStep], agents: Collection[str], where: str
) -> list[str]:
    """One message per problem, each naming `where` (e.g. `marketplace.json: plugins[2].cowork.
    workflow`) and the step at fault; empty when the workflow can run."""
    problems: list[str] = []
    seen: set[str] = set()
    for i, step in enumerate(steps):
        if step.id in seen:
            problems.append(f"{where}[{i}].id: duplicate step id {step.id!r}")
        seen.add(step.id)
        if step.agent not in agents:
            known = ", ".join(sorted(agents)) or "none"
            problems.append(
                f"{where}[{i}].agent: unknown agent {step.agent!r} (the item's agents: {known})"
            )
    ids = {step.id for step in steps}
    for i, step in enumerate(steps):
        for upstream in step.after:
            if upstream == step.id:
                problems.append(f"{where}[{i}].after: step {step.id!r} cannot run after itself")
            elif upstream not in ids:
                problems.append(f"{where}[{i}].after: unknown step {upstream!r}")
    cycle = find_cycle(steps)
    if cycle:
        problems.append(f"{where}: cycle between steps {' → '.join(cycle)}")
    return problems


def find_cycle(steps: Sequence[WorkflowStep]) -> list[str] | None:
    """A cycle of `after` links (first step repeated at the end), or None. Self-links and
    unknown steps are reported elsewhere and skipped here."""
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
