"""The archive's history queries: the sessions list (searched, by state, a page at a time), a
session by id or part of it, its events (and how many), an output's recorded sha256, the
sessions of an engine not ended, and items' statistics.

`Queries` is a part of `Archive` (`store.py`), which gives it a reader connection per thread."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from pydantic import computed_field

from ..errors import InputError
from ..models import SIMULATION, EngineName, Frozen, SessionEvent, SessionRecord, SessionState
from .files import unusable
from .rows import AGENT_COLUMNS, LIVE_SESSION, SESSION_COLUMNS, session_from_rows
from .search import fts_query
from .stats import MIN_STATS_SESSIONS, ItemStats

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
_P = ParamSpec("_P")
_R = TypeVar("_R")


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


def _reads(
    method: Callable[Concatenate[Queries, _P], _R],
) -> Callable[Concatenate[Queries, _P], _R]:
    """A query whose SQLite errors (a damaged page, a disk that fails) say so, naming the file."""

    @functools.wraps(method)
    def read(archive: Queries, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(archive, *args, **kwargs)
        except sqlite3.Error as exc:
            raise unusable(archive.path, exc) from exc

    return read


class Queries:
    """The history's queries, on the archive's reader connection of this thread."""

    path: Path
    _reader: Callable[[], sqlite3.Connection]
    _read: Callable[[], AbstractContextManager[sqlite3.Connection]]  # one consistent snapshot

    @_reads
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

    @_reads
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

    @_reads
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

    @_reads
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

    @_reads
    def event_count(self, session_id: str) -> int:
        """How many events the session's log holds (0: no such session)."""
        (count,) = (
            self._reader()
            .execute(
                "SELECT count(*) FROM events "
                "WHERE session_seq = (SELECT seq FROM sessions WHERE id = ?)",
                (session_id,),
            )
            .fetchone()
        )
        return int(count)

    @_reads
    def live_ids(self, engine: EngineName) -> list[str]:
        """The ids of the sessions of `engine` that have not ended, in launch order."""
        rows = (
            self._reader()
            .execute(
                f"SELECT id FROM sessions WHERE engine = ? AND {LIVE_SESSION} ORDER BY seq",
                (engine,),
            )
            .fetchall()
        )
        return [row[0] for row in rows]

    @_reads
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
