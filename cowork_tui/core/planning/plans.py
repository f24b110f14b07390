"""The plan of a session: its item's declared `cowork.workflow` when it has one, else the
heuristic planner's reading of the task."""

from __future__ import annotations

from ..errors import InputError
from ..models import Item, Plan, Subtask
from .dag import pattern_of
from .heuristic import plan_text

SOURCES = {
    "workflow": "the item's declared workflow",
    "heuristic": "planned from the task's words",
    "model": "planned by Claude",
}


def check_plannable(item: Item, task: str) -> None:
    """InputError unless `item` can run and `task` says something."""
    if not item.available:
        raise InputError(f"{item.ref}: not available ({item.not_runnable})")
    if not item.runnable:
        raise InputError(f"{item.ref}: {item.not_runnable}")
    if not task.strip():
        raise InputError("task: must not be empty")


def plan_task(item: Item, task: str) -> Plan:
    """The plan for `task` on `item` (InputError when it cannot be planned)."""
    check_plannable(item, task)
    if item.cowork.workflow:
        return _from_workflow(item, task)
    return plan_text(item, task.strip())


def _from_workflow(item: Item, task: str) -> Plan:
    """The declared steps (checked when the item was loaded), their prompts filled in."""
    subtasks = tuple(
        Subtask(
            id=step.id,
            agent=step.agent,
            prompt=step.prompt.replace("{task}", task) if step.prompt else task,
            after=step.after,
            merge=len(step.after) > 1,
            skills=step.skills,
        )
        for step in item.cowork.workflow or ()
    )
    return Plan(pattern=pattern_of(subtasks), subtasks=subtasks, source="workflow")
