"""A plan the engine can run: known agents, known upstream ids, no cycles."""

from __future__ import annotations

from collections import Counter

from .errors import InputError
from .models import Item, Plan
from .planner import MERGE_AGENT


def check_plan(item: Item, plan: Plan) -> None:
    """Raise InputError naming the first subtask at fault."""
    if not plan.subtasks:
        raise InputError("plan: has no subtasks")
    ids = Counter(s.id for s in plan.subtasks)
    for i, sub in enumerate(plan.subtasks):
        where = f"plan.subtasks[{i}]"
        if ids[sub.id] > 1:
            raise InputError(f"{where}.id: {sub.id!r} is used twice")
        if item.agent(sub.agent) is None and sub.agent != MERGE_AGENT:
            raise InputError(f"{where}.agent: {item.ref} has no agent {sub.agent!r}")
        for dep in sub.after:
            if dep not in ids:
                raise InputError(f"{where}.after: unknown subtask {dep!r}")
    _check_acyclic(plan)


def _check_acyclic(plan: Plan) -> None:
    after = {s.id: set(s.after) for s in plan.subtasks}
    done: set[str] = set()
    while len(done) < len(after):
        ready = {sid for sid, deps in after.items() if sid not in done and deps <= done}
        if not ready:
            stuck = sorted(set(after) - done)
            raise InputError(f"plan: subtasks {', '.join(stuck)} depend on each other (a cycle)")
        done |= ready
