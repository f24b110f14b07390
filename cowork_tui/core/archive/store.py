"""The session archive: SQLite in WAL mode, written as sessions run, searchable for years.

One writer connection (the engine's recorder, crash recovery, the heartbeat); readers use
their own connection per thread and never block it. Every `record` is one transaction, so
a crash at any point leaves the last committed state of every session, and `recover` on the
next start turns sessions whose process died into INTERRUPTED.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
from pydantic import computed_field

from ..errors import InputError
from ..models import SIMULATION, Frozen, SessionEvent, SessionRecord, SessionState
from ..procs import process_start_time
from .recovery import interrupt_orphans
from .rows import AGENT_COLUMNS, SESSION_COLUMNS, agent_values, session_from_rows, session_values
from .schema import SCHEMA_VERSION, NewerArchiveError, migrate, schema_version
from .search import fts_query, index_finished, index_session, output_sha256
from .stats import MIN_STATS_SESSIONS, ItemStats

HEARTBEAT_SECONDS = 5.0
_BUSY_MS = 5000
_SUMMARY_COLUMNS = ", ".join(
    f"sessions.{c}"
    for c in (
        "id", "item", "marketplace", "task", "state", "partial", "backend", "started_at",
        "ended_at", "duration_s", "cost_usd",
        "tok_input + tok_output + tok_cache_read + tok_cache_write", "agent_count",
    )
)  # fmt: skip
_SESSION_SELECT = ", ".join(SESSION_COLUMNS)
_AGENT_SELECT = ", ".join(AGENT_COLUMNS)
_SESSION_UPSERT = (
    f"INSERT INTO sessions ({_SESSION_SELECT}, owner_pid, owner_started, updated_at) "
    f"VALUES ({', '.join('?' * (len(SESSION_COLUMNS) + 3))}) ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*SESSION_COLUMNS[1:], "updated_at"))
    + " RETURNING seq"
)
_AGENT_UPSERT = (
    f"INSERT OR REPLACE INTO agents (session_seq, position, {_AGENT_SELECT}, output_sha256) "
    f"VALUES ({', '.join('?' * (len(AGENT_COLUMNS) + 3))})"
)


class SessionSummary(Frozen):
    """A history row: what the list shows, without plan, agents or outputs."""

    id: str
    item: str
    marketplace: str
    task: str
    state: SessionState
    partial: bool
    backend: str
    started_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    cost_usd: float
    tokens: int
    agent_count: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def simulated(self) -> bool:
        """Its model agents ran on the demo backend: tokens and cost are simulated."""
        return self.backend == SIMULATION


class Archive:
    """Implements `SessionRecorder`; also the history's queries and crash recovery."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._owner = (os.getpid(), process_start_time(os.getpid()) or 0.0)
        self._lock = threading.Lock()
        self._readers: list[sqlite3.Connection] = []
        self._local = threading.local()
        # what the last `record` of each running session wrote: seq, session row, agent rows
        self._written: dict[str, tuple[int, tuple[Any, ...], dict[str, tuple[Any, ...]]]] = {}
        self._conn = _open_writer(path)

    # --- writing ---------------------------------------------------------------------

    def record(self, session: SessionRecord, event: SessionEvent | None = None) -> None:
        """Store the session as it is now (changed rows only) and its event, in one transaction."""
        last = self._written.get(session.id)
        values = session_values(session)
        agents = {a.subtask: agent_values(a) for a in session.agents}
        with self._transaction() as conn:
            if last and last[1] == values:
                seq = last[0]
            else:
                (seq,) = conn.execute(
                    _SESSION_UPSERT, (*values, *self._owner, time.time())
                ).fetchone()
                if last is None:
                    self._heartbeat(conn)
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
                    (seq, event.at.isoformat(), event.kind, event.subtask, event.state,
                     event.reason),
                )  # fmt: skip
            if session.state.terminal:
                index_finished(conn, seq, session.task, session.summary)
        self._written[session.id] = (seq, values, agents)
        if session.state.terminal:
            del self._written[session.id]

    def heartbeat(self) -> None:
        """Say this process is alive (crash recovery leaves its sessions alone)."""
        with self._transaction() as conn:
            self._heartbeat(conn)

    def _heartbeat(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO owners (pid, started, heartbeat_at) VALUES (?, ?, ?) "
            "ON CONFLICT DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
            (*self._owner, time.time()),
        )

    def recover(self, reason: str = "cowork-tui stopped while it ran (crash or kill)") -> list[str]:
        """Sessions whose process is gone become INTERRUPTED, their process groups killed.

        Returns the ids it interrupted. Sessions of live processes (this one included) stay.
        """
        with self._transaction() as conn:
            return interrupt_orphans(conn, reason)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # --- reading ---------------------------------------------------------------------

    def list_sessions(
        self,
        search: str | None = None,
        state: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[SessionSummary]:
        """Newest first; `search` matches task, summary and outputs (every word, the last as a
        prefix); `state` keeps one state."""
        query = fts_query(search) if search else None
        if search and query is None:
            return []  # no word to look for (e.g. only punctuation): nothing matches
        where, params = [], []
        if query:
            source = "session_text JOIN sessions ON sessions.seq = session_text.rowid"
            where.append("session_text MATCH ?")
            params.append(query)
            order = "session_text.rowid"
        else:
            source, order = "sessions", "sessions.seq"
        if state:
            where.append("sessions.state = ?")
            params.append(state.upper())
        sql = (
            f"SELECT {_SUMMARY_COLUMNS} FROM {source} "
            + (f"WHERE {' AND '.join(where)} " if where else "")
            + f"ORDER BY {order} DESC LIMIT ? OFFSET ?"
        )
        rows = self._reader().execute(sql, (*params, limit, offset)).fetchall()
        names = SessionSummary.model_fields
        return [SessionSummary.model_validate(dict(zip(names, row, strict=True))) for row in rows]

    def get(self, session_id: str) -> SessionRecord:
        """A session by id, or by an unambiguous start or end of its id (the monitor shows the
        end: the random part)."""
        with self._read() as conn:
            rows = (
                conn.execute(
                    f"SELECT seq, {_SESSION_SELECT} FROM sessions WHERE id = ?", (session_id,)
                ).fetchall()
                or conn.execute(
                    f"SELECT seq, {_SESSION_SELECT} FROM sessions "
                    "WHERE id >= ?1 AND id < ?1 || char(1114111) ORDER BY id LIMIT 6",
                    (session_id,),
                ).fetchall()
                or conn.execute(
                    f"SELECT seq, {_SESSION_SELECT} FROM sessions "
                    "WHERE substr(id, -length(?1)) = ?1 ORDER BY id LIMIT 6",
                    (session_id,),
                ).fetchall()
            )
            if not rows:
                raise InputError(f"{self.path}: no session with id {session_id!r}")
            if len(rows) > 1:
                ids = ", ".join(row[1] for row in rows)
                raise InputError(f"{self.path}: session id {session_id!r} is ambiguous: {ids}")
            seq, *session = rows[0]
            agents = conn.execute(
                f"SELECT {_AGENT_SELECT} FROM agents WHERE session_seq = ? ORDER BY position",
                (seq,),
            ).fetchall()
        return session_from_rows(session, agents)

    def output_sha256(self, session_id: str, subtask: str) -> str | None:
        """The recorded sha256 of an agent's full output file (to check it is unchanged)."""
        row = (
            self._reader()
            .execute(
                "SELECT output_sha256 FROM agents JOIN sessions ON seq = session_seq "
                "WHERE id = ? AND subtask = ?",
                (session_id, subtask),
            )
            .fetchone()
        )
        return row[0] if row else None

    def events(self, session_id: str) -> list[SessionEvent]:
        """The session's event log, oldest first."""
        rows = (
            self._reader()
            .execute(
                "SELECT at, kind, subtask, state, reason FROM events "
                "WHERE session_seq = (SELECT seq FROM sessions WHERE id = ?) ORDER BY seq",
                (session_id,),
            )
            .fetchall()
        )
        fields = ("at", "kind", "subtask", "state", "reason")
        return [SessionEvent.model_validate(dict(zip(fields, row, strict=True))) for row in rows]

    def item_stats(self) -> dict[str, ItemStats]:
        """Local statistics per item ref, for items with at least `MIN_STATS_SESSIONS` sessions."""
        rows = (
            self._reader()
            .execute(
                "SELECT item, marketplace, count(*), sum(state = 'COMPLETED'), "
                "avg(CASE WHEN state = 'COMPLETED' THEN duration_s END) FROM sessions "
                "WHERE state IN ('COMPLETED', 'FAILED', 'CANCELLED') AND backend != ? "
                "GROUP BY marketplace, item HAVING count(*) >= ?",
                (SIMULATION, MIN_STATS_SESSIONS),
            )
            .fetchall()
        )
        stats = {}
        for item, marketplace, count, completed, avg_seconds in rows:
            ref = f"{item}@{marketplace}"
            stats[ref] = ItemStats(
                ref=ref,
                sessions=count,
                avg_session_minutes=None if avg_seconds is None else avg_seconds / 60,
                completion_rate=completed / count,
            )
        return stats

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            conn.execute("PRAGMA query_only = 1")
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One consistent snapshot for several queries."""
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in (*self._readers, self._conn):
                conn.close()
            self._readers.clear()


async def keep_alive(archive: Archive, interval: float = HEARTBEAT_SECONDS) -> None:
    """The heartbeat of a process that runs sessions: start it in the app's/CLI's task group."""
    while True:
        archive.heartbeat()
        await anyio.sleep(interval)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
    return conn


def _open_writer(path: Path) -> sqlite3.Connection:
    """Open (creating it private to the user) and migrate; a newer or broken file is refused
    before anything is written to it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = _connect(path)
    try:
        found = schema_version(conn)
        if found > SCHEMA_VERSION:
            raise NewerArchiveError(path, found, SCHEMA_VERSION)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise InputError(f"{path}: not a readable cowork-tui archive ({exc})") from exc
    except BaseException:
        conn.close()
        raise
    return conn
