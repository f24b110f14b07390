"""The archive's schema, versioned with `PRAGMA user_version`, and its migrations.

Each migration runs inside the caller's transaction, so a database is either fully at the
new version or untouched. A database newer than `SCHEMA_VERSION` is refused before anything
is written to it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from .search import index_finished, index_session

APPLICATION_ID = 0x436F5754  # "CoWT" in the file's header: this SQLite file is an archive

FINISHED_STATES = (  # sessions that ended, as schema v2 knows them
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "INTERRUPTED",
)


class NewerArchiveError(InputError):
    """The archive was written by a newer cowork-tui; it is left as it is."""

    def __init__(self, path: Path, found: int, known: int) -> None:
        super().__init__(
            f"{path}: archive schema version {found} is newer than this cowork-tui knows "
            f"(version {known}); upgrade cowork-tui — the archive was left untouched"
        )


def _v1(conn: sqlite3.Connection) -> None:
    """Sessions, agents, the append-only event log and the processes that own sessions."""
    _execute_script(
        conn,
        """
        CREATE TABLE sessions (
            seq INTEGER PRIMARY KEY,          -- launch order: the history's order
            id TEXT NOT NULL UNIQUE,
            item TEXT NOT NULL,
            marketplace TEXT NOT NULL,
            task TEXT NOT NULL,
            state TEXT NOT NULL,
            partial INTEGER NOT NULL DEFAULT 0,
            backend TEXT NOT NULL,
            max_parallel INTEGER NOT NULL,
            cwd TEXT NOT NULL,
            started_at TEXT,
            ended_at TEXT,
            duration_s REAL,
            plan TEXT,                        -- JSON
            tok_input INTEGER NOT NULL DEFAULT 0,
            tok_output INTEGER NOT NULL DEFAULT 0,
            tok_cache_read INTEGER NOT NULL DEFAULT 0,
            tok_cache_write INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            agent_count INTEGER NOT NULL DEFAULT 0,
            failed_subtasks TEXT NOT NULL DEFAULT '[]',  -- JSON
            summary TEXT NOT NULL DEFAULT '',
            error TEXT,
            version INTEGER NOT NULL DEFAULT 0,
            owner_pid INTEGER,
            owner_started REAL,
            updated_at REAL NOT NULL          -- unix time of the last write
        );
        CREATE INDEX sessions_live ON sessions(state) WHERE state NOT IN
            ('COMPLETED', 'FAILED', 'CANCELLED', 'INTERRUPTED');
        CREATE INDEX sessions_item ON sessions(marketplace, item);
        CREATE TABLE agents (
            session_seq INTEGER NOT NULL REFERENCES sessions(seq),
            position INTEGER NOT NULL,
            subtask TEXT NOT NULL,
            agent TEXT NOT NULL,
            prompt TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL,
            model TEXT,
            started_at TEXT,
            ended_at TEXT,
            duration_s REAL,
            tok_input INTEGER NOT NULL DEFAULT 0,
            tok_output INTEGER NOT NULL DEFAULT 0,
            tok_cache_read INTEGER NOT NULL DEFAULT 0,
            tok_cache_write INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            cost_source TEXT,
            error TEXT,
            output_preview TEXT NOT NULL DEFAULT '',
            output_path TEXT,
            progress REAL,
            step TEXT NOT NULL DEFAULT '',
            pgid INTEGER,
            pgid_started REAL,
            PRIMARY KEY (session_seq, subtask)
        ) WITHOUT ROWID;
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            session_seq INTEGER NOT NULL REFERENCES sessions(seq),
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            subtask TEXT,
            state TEXT,
            reason TEXT
        );
        CREATE INDEX events_session ON events(session_seq, seq);
        CREATE TABLE owners (
            pid INTEGER NOT NULL,
            started REAL NOT NULL,
            heartbeat_at REAL NOT NULL,
            PRIMARY KEY (pid, started)
        ) WITHOUT ROWID;
        """,
    )


def _v2(conn: sqlite3.Connection) -> None:
    """Full-text search over task, summary and outputs; outputs checked by sha256.

    The index is contentless (outputs stay in their files): a session is indexed with its
    task when it starts and once more, fully, when it ends (`indexed` says which). Prefixes
    of 3 and 4 characters are indexed too, for search as you type.
    """
    _execute_script(
        conn,
        """
        ALTER TABLE agents ADD COLUMN output_sha256 TEXT;
        ALTER TABLE sessions ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0;
        CREATE VIRTUAL TABLE session_text USING fts5(
            task, summary, outputs, content='', prefix='3 4',
            tokenize='unicode61 remove_diacritics 2'
        );
        """,
    )
    rows = conn.execute("SELECT seq, task, summary, state FROM sessions").fetchall()
    for seq, task, summary, state in rows:
        if state in FINISHED_STATES:
            index_finished(conn, seq, task, summary)
        else:
            index_session(conn, seq, task)


def _execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Run DDL statements in the current transaction (`executescript` would commit it)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


TOKEN_COLUMNS = ("tok_input", "tok_output", "tok_cache_read", "tok_cache_write")


def _v3(conn: sqlite3.Connection) -> None:
    """An agent's cost note: when Claude Code's cost and the price table's differ. Token counts
    below zero (an agent could report them before v3) become zero: a count is never negative."""
    conn.execute("ALTER TABLE agents ADD COLUMN cost_note TEXT")
    counts = ", ".join(f"{c} = max({c}, 0)" for c in TOKEN_COLUMNS)
    for table in ("agents", "sessions"):
        conn.execute(f"UPDATE {table} SET {counts} WHERE min({', '.join(TOKEN_COLUMNS)}) < 0")


def _v4(conn: sqlite3.Connection) -> None:
    """The skills and commands each agent was directed to use (JSON list), and active time
    (paused time excluded; NULL in older sessions: their wall time stands for it)."""
    conn.execute("ALTER TABLE agents ADD COLUMN skills TEXT NOT NULL DEFAULT '[]'")
    conn.execute("ALTER TABLE agents ADD COLUMN active_s REAL")
    conn.execute("ALTER TABLE sessions ADD COLUMN active_s REAL")


def _v5(conn: sqlite3.Connection) -> None:
    """Owners known by an id whose lock file they hold (`recovery.py`: a held lock proves a
    process alive across PID namespaces, where a pid does not), with their PID namespace; the
    journal's replay mark (`journal.py`). `owners` stays for processes of earlier versions.
    Resume: when a session was continued, and each Claude agent's conversation. Budgets: the
    cap and why a session paused."""
    _execute_script(
        conn,
        """
        ALTER TABLE sessions ADD COLUMN resumed_at TEXT;  -- JSON list of ISO times
        ALTER TABLE sessions ADD COLUMN budget_usd REAL;
        ALTER TABLE sessions ADD COLUMN paused_reason TEXT;
        ALTER TABLE agents ADD COLUMN conversation TEXT;
        ALTER TABLE sessions ADD COLUMN owner_id TEXT;
        CREATE TABLE owner_locks (
            id TEXT PRIMARY KEY,
            pid INTEGER NOT NULL,
            started REAL NOT NULL,
            pid_ns INTEGER,                   -- inode of /proc/<pid>/ns/pid, NULL if unknown
            heartbeat_at REAL NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE journal_replayed (
            generation TEXT PRIMARY KEY,      -- the journal file's, written into the archive
            entries INTEGER NOT NULL          -- how many of its entries
        ) WITHOUT ROWID;
        """,
    )


def _v6(conn: sqlite3.Connection) -> None:
    """The engine that runs each session: 'local' (in process, all earlier sessions) or
    'temporal' (a workflow on workers: crash recovery leaves it to them, `recovery.py`)."""
    conn.execute("ALTER TABLE sessions ADD COLUMN engine TEXT NOT NULL DEFAULT 'local'")


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2, _v3, _v4, _v5, _v6)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the database to `SCHEMA_VERSION` in one transaction (none when it is there: no
    write lock needed); refuse a newer one. Our archives carry `APPLICATION_ID`."""
    if schema_version(conn) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = schema_version(conn)
        if found > SCHEMA_VERSION:
            raise NewerArchiveError(path, found, SCHEMA_VERSION)
        for version in range(found + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[version - 1](conn)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a failed COMMIT (disk full) may have ended it already
            conn.execute("ROLLBACK")
        raise
