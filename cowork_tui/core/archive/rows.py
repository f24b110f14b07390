"""How records map to the archive's rows and back (one place for the column lists)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..clock import utcnow
from ..models import SESSION_TERMINAL, AgentRecord, SessionRecord, active_seconds

SESSION_COLUMNS = (
    "id", "item", "marketplace", "task", "state", "partial", "backend", "max_parallel", "cwd",
    "started_at", "ended_at", "duration_s", "plan", "tok_input", "tok_output",
    "tok_cache_read", "tok_cache_write", "cost_usd", "agent_count", "failed_subtasks",
    "summary", "error", "version", "active_s", "resumed_at", "budget_usd", "paused_reason",
    "engine",
)  # fmt: skip
AGENT_COLUMNS = (
    "subtask", "agent", "prompt", "state", "model", "started_at", "ended_at", "duration_s",
    "tok_input", "tok_output", "tok_cache_read", "tok_cache_write", "cost_usd", "cost_source",
    "cost_note", "error", "output_preview", "output_path", "progress", "step", "pgid",
    "pgid_started", "skills", "active_s", "conversation",
)  # fmt: skip
_TOKENS = ("input", "output", "cache_read", "cache_write")
LIVE_SESSION = f"state NOT IN {tuple(sorted(s.value for s in SESSION_TERMINAL))!r}"  # not ended


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def session_values(session: SessionRecord) -> tuple[Any, ...]:
    """The session's columns, in `SESSION_COLUMNS` order; its active time as of now (what a
    crash leaves is what a resume counts on)."""
    t = session.tokens
    return (
        session.id, session.item, session.marketplace, session.task, session.state.value,
        int(session.partial), session.backend, session.max_parallel, session.cwd,
        iso(session.started_at), iso(session.ended_at), session.duration_s,
        session.plan.model_dump_json() if session.plan else None,
        t.input, t.output, t.cache_read, t.cache_write, session.cost_usd, session.agent_count,
        json.dumps(session.failed_subtasks), session.summary, session.error, session.version,
        active_seconds(session, utcnow()) if session.active_since else session.active_s,
        json.dumps([iso(at) for at in session.resumed_at]), session.budget_usd,
        session.paused_reason, session.engine,
    )  # fmt: skip


def agent_values(agent: AgentRecord) -> tuple[Any, ...]:
    """The agent's columns, in `AGENT_COLUMNS` order (its live output tail is not kept)."""
    t = agent.tokens
    return (
        agent.subtask, agent.agent, agent.prompt, agent.state.value, agent.model,
        iso(agent.started_at), iso(agent.ended_at), agent.duration_s,
        t.input, t.output, t.cache_read, t.cache_write, agent.cost_usd, agent.cost_source,
        agent.cost_note, agent.error, agent.output_preview, agent.output_path, agent.progress,
        agent.step, agent.pgid, agent.pgid_started, json.dumps(agent.skills), agent.active_s,
        agent.conversation,
    )  # fmt: skip


def _tokens(row: dict[str, Any]) -> dict[str, int]:
    return {name: row.pop(f"tok_{name}") for name in _TOKENS}


def session_from_rows(session: Sequence[Any], agents: Sequence[Sequence[Any]]) -> SessionRecord:
    """A `SessionRecord` from a row in `SESSION_COLUMNS` order and agent rows in `AGENT_COLUMNS`."""
    data = dict(zip(SESSION_COLUMNS, session, strict=True))
    data["tokens"] = _tokens(data)
    data["plan"] = json.loads(data["plan"]) if data["plan"] else None
    data["failed_subtasks"] = json.loads(data["failed_subtasks"])
    data["partial"] = bool(data["partial"])
    data["resumed_at"] = json.loads(data["resumed_at"] or "[]")
    records = []
    for row in agents:
        agent = dict(zip(AGENT_COLUMNS, row, strict=True))
        agent["tokens"] = _tokens(agent)
        agent["skills"] = json.loads(agent["skills"])
        records.append({k: v for k, v in agent.items() if v is not None})
    data["agents"] = records
    return SessionRecord.model_validate({k: v for k, v in data.items() if v is not None})
