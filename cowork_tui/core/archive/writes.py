"""Sessions into the archive's rows: a record (its changed rows only) with its event and its
owner, and the records a journal kept, written exactly once (table `journal_replayed`)."""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import asdict
from typing import Any

from ..models import SessionEvent, SessionRecord, SessionState
from .owners import Owner
from .rows import AGENT_COLUMNS, SESSION_COLUMNS, agent_values, session_values
from .search import index_finished, index_session, output_sha256

log = logging.getLogger(__name__)

_SESSION_INSERT = ", ".join((*SESSION_COLUMNS, "owner_id", "owner_pid", "owner_started"))
_SESSION_UPSERT = (
    f"INSERT INTO sessions ({_SESSION_INSERT}, updated_at) "
    f"VALUES ({', '.join('?' * (len(SESSION_COLUMNS) + 4))}) ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*SESSION_COLUMNS[1:], "updated_at"))
    + " RETURNING seq"
)
_AGENT_UPSERT = (
    f"INSERT OR REPLACE INTO agents (session_seq, position, {', '.join(AGENT_COLUMNS)}, "
    f"output_sha256) VALUES ({', '.join('?' * (len(AGENT_COLUMNS) + 3))})"
)
_NOT_KEPT: Any = {"agents": {"__all__": {"output_tail"}}}  # live only, never in the archive

# what a `write_session` wrote: seq, the session's row, its agents' rows by subtask
Written = tuple[int, tuple[Any, ...], dict[str, tuple[Any, ...]]]


def write_session(
    conn: sqlite3.Connection,
    session: SessionRecord,
    event: SessionEvent | None,
    owner: Owner,
    at: float,
    last: Written | None = None,
) -> Written:
    """Store the session as it is (the rows changed since `last`) and its event; call inside
    a write transaction."""
    values = session_values(session)
    agents = {a.subtask: agent_values(a) for a in session.agents}
    if last and last[1] == values:
        seq = last[0]
    else:
        (seq,) = conn.execute(
            _SESSION_UPSERT, (*values, owner.id, owner.pid, owner.started, at)
        ).fetchone()
        if last is None:
            write_owner(conn, owner, at)
            index_session(conn, seq, session.task)
    known = last[2] if last else {}
    for position, agent in enumerate(session.agents):
        row = agents[agent.subtask]
        if known.get(agent.subtask) != row:
            done = agent.state.terminal and agent.output_path
            sha = output_sha256(agent.output_path) if done else None
            conn.execute(_AGENT_UPSERT, (seq, position, *row, sha))
    if event is not None:
        conn.execute(
            "INSERT INTO events (session_seq, at, kind, subtask, state, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (seq, event.at.isoformat(), event.kind, event.subtask, event.state, event.reason),
        )
    if session.state.terminal and session.state is not SessionState.INTERRUPTED:
        index_finished(conn, seq, session.task, session.summary)
    return seq, values, agents


def reserve(conn: sqlite3.Connection, session: SessionRecord, owner: Owner, at: float) -> None:
    """A row for a session not recorded yet, owned by `owner`; not indexed (its first
    `write_session` indexes its task). Call inside a write transaction."""
    values = (*session_values(session), owner.id, owner.pid, owner.started, at)
    conn.execute(_SESSION_UPSERT, values).fetchone()
    write_owner(conn, owner, at)


def write_owner(conn: sqlite3.Connection, owner: Owner, at: float) -> None:
    """The owner was alive at `at` (owners without a lock: the table earlier versions read)."""
    if owner.id is None:
        conn.execute(
            "INSERT INTO owners (pid, started, heartbeat_at) VALUES (?, ?, ?) ON CONFLICT "
            "DO UPDATE SET heartbeat_at = max(heartbeat_at, excluded.heartbeat_at)",
            (owner.pid, owner.started, at),
        )
    else:
        conn.execute(
            "INSERT INTO owner_locks (id, pid, started, pid_ns, heartbeat_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT "
            "DO UPDATE SET heartbeat_at = max(heartbeat_at, excluded.heartbeat_at)",
            (owner.id, owner.pid, owner.started, owner.pid_ns, at),
        )


def journal_entry(
    session: SessionRecord, event: SessionEvent | None, owner: Owner
) -> dict[str, Any]:
    """A record as the journal keeps it, to be written by `replay` (by any process)."""
    return {
        "at": time.time(),
        "owner": asdict(owner),
        "session": session.model_dump(mode="json", exclude=_NOT_KEPT),
        "event": event.model_dump(mode="json") if event else None,
    }


def replay(conn: sqlite3.Connection, generation: str, entries: list[dict[str, Any]]) -> int:
    """Write a journal's entries that the archive does not hold yet; returns how many.
    Inside a write transaction: the archive then holds all of them, or none."""
    row = conn.execute(
        "SELECT entries FROM journal_replayed WHERE generation = ?", (generation,)
    ).fetchone()
    done = row[0] if row else 0
    for entry in entries[done:]:
        write_entry(conn, entry)
    conn.execute(
        "INSERT INTO journal_replayed (generation, entries) VALUES (?, ?) "
        "ON CONFLICT DO UPDATE SET entries = excluded.entries",
        (generation, len(entries)),
    )
    return max(0, len(entries) - done)


def write_entry(conn: sqlite3.Connection, entry: dict[str, Any]) -> None:
    try:
        session = SessionRecord.model_validate(entry["session"])
        event = SessionEvent.model_validate(entry["event"]) if entry["event"] else None
        owner = Owner(**entry["owner"])
        at = float(entry["at"])
    except (KeyError, TypeError, ValueError) as exc:  # not ours, or damaged (pydantic's too)
        log.warning("cowork-tui: warning: a journal entry was left out: %s", exc)
        return
    write_session(conn, session, event, owner, at)
