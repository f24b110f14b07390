"""Continuing an INTERRUPTED session under its id (DESIGN §4): what it keeps, what runs again.

SUCCEEDED subtasks keep their results (their outputs feed downstream as before) and are not run
again; every other subtask runs again, a Claude agent in its own conversation where Claude Code
kept it. What the first run spent still counts."""

from __future__ import annotations

from datetime import datetime

from ..errors import InputError
from ..models import AgentRecord, AgentState, Item, SessionRecord, SessionState
from ..planning.dag import check_plan


def check_resumable(record: SessionRecord, item: Item) -> None:
    """InputError unless `record` is an INTERRUPTED session `item` can still run as planned."""
    if record.state is not SessionState.INTERRUPTED:
        raise InputError(
            f"session {record.id} is {record.state.value}: only an INTERRUPTED session resumes"
        )
    if record.plan is None:
        return  # interrupted before it was planned: it is planned again
    try:
        check_plan(item, record.plan)
    except InputError as exc:
        raise InputError(
            f"session {record.id}: {item.ref} changed since it ran, its plan no longer fits: {exc}"
        ) from None


def continued(record: SessionRecord, now: datetime) -> SessionRecord:
    """The record a resumed session starts from: its id, task, plan and first start kept."""
    return record.model_copy(
        update={
            "state": SessionState.INITIALIZING,
            "ended_at": None,
            "duration_s": None,
            "error": None,
            "summary": "",
            "active_s": record.active_s if record.active_s is not None else record.duration_s,
            "active_since": now,
            "resumed_at": (*record.resumed_at, now),
            "agents": (),
        }
    )


def kept(agent: AgentRecord) -> bool:
    """A subtask whose result stands: it is not run again."""
    return agent.state is AgentState.SUCCEEDED
