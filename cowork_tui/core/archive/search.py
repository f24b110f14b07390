"""The archive's full-text index (FTS5, contentless) and the output files it reads.

A session's row in `session_text` has the session's `seq` as rowid, so the newest matches
come first by walking the index backwards, and a search page stops after `limit` hits.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable

INDEXED_OUTPUT_BYTES = 64 * 1024  # of each agent's full output; the rest stays in its file
NOT_INDEXED, TASK_ONLY, FULL = 0, 1, 2
_MIN_PREFIX = 3  # the last word matches as a prefix once it has this many characters
_WORD = re.compile(r"\w+", re.UNICODE)


def output_text(path: str | None, preview: str) -> str:
    """The start of an agent's full output (its file), or its preview when the file is gone."""
    if path:
        try:
            with open(path, "rb") as file:
                return file.read(INDEXED_OUTPUT_BYTES).decode("utf-8", "replace")
        except OSError:
            pass
    return preview


def output_sha256(path: str | None) -> str | None:
    if not path:
        return None
    try:
        with open(path, "rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest()
    except OSError:
        return None


def index_session(
    conn: sqlite3.Connection,
    seq: int,
    task: str,
    summary: str | None = None,
    outputs: Iterable[str] = (),
) -> None:
    """Index a session: its task while it runs (`summary` None), everything once it ended.

    A contentless index forgets what it holds, so a row is replaced by deleting exactly the
    values it was written with — the task alone, which never changes.
    """
    (indexed,) = conn.execute("SELECT indexed FROM sessions WHERE seq = ?", (seq,)).fetchone()
    final = summary is not None
    if indexed == FULL or (indexed == TASK_ONLY and not final):
        return
    if indexed == TASK_ONLY:
        conn.execute(
            "INSERT INTO session_text(session_text, rowid, task, summary, outputs) "
            "VALUES ('delete', ?, ?, '', '')",
            (seq, task),
        )
    conn.execute(
        "INSERT INTO session_text(rowid, task, summary, outputs) VALUES (?, ?, ?, ?)",
        (seq, task, summary or "", "\n".join(outputs) if final else ""),
    )
    conn.execute(
        "UPDATE sessions SET indexed = ? WHERE seq = ?", (FULL if final else TASK_ONLY, seq)
    )


def index_finished(conn: sqlite3.Connection, seq: int, task: str, summary: str) -> None:
    """Index an ended session with its agents' outputs, read from their files."""
    rows = conn.execute(
        "SELECT output_path, output_preview FROM agents WHERE session_seq = ? ORDER BY position",
        (seq,),
    ).fetchall()
    index_session(conn, seq, task, summary, (output_text(path, prev) for path, prev in rows))


def fts_query(text: str) -> str | None:
    """A user's search words as an FTS5 query: every word must match, the last as a prefix."""
    words = _WORD.findall(text)
    if not words:
        return None
    terms = [f'"{w}"' for w in words]
    if len(words[-1]) >= _MIN_PREFIX:
        terms[-1] += "*"
    return " ".join(terms)
