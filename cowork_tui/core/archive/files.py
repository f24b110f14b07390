"""The archive's files: whether a file is ours before SQLite may write to it (its header and
`application_id`), whether it is intact, how to open it without writing, and what the
machine's errors mean in words (disk full, read-only, busy, damaged) — each naming the file."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..errors import InputError, machine_cause
from .schema import APPLICATION_ID, SCHEMA_VERSION, NewerArchiveError, migrate, schema_version

SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_BYTES = 100
_APPLICATION_ID_AT = 68  # a big-endian 32-bit integer in the header


class ArchiveError(OSError):
    """The archive cannot be used, for a reason of the machine's (exit 1 on the CLI)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def check_header(path: Path) -> None:
    """Refuse a file that is not an SQLite database, or is another program's, before anything
    opens it: SQLite would write to it (and its `-wal`, maybe another file's). A missing or
    empty file is a new archive; one without `application_id` an archive of before v5.
    OSError when it cannot be read."""
    try:
        with open(path, "rb") as file:
            header = file.read(_HEADER_BYTES)
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise InputError(
            f"{path}: cannot use the archive (unable to open database file): a folder, not a file"
        ) from None
    if not header:
        return
    move = "it was left untouched; move it away and cowork-tui starts a new archive"
    if len(header) < _HEADER_BYTES or not header.startswith(SQLITE_MAGIC):
        raise InputError(
            f"{path}: not a readable cowork-tui archive (not an SQLite database); {move}"
        )
    found = int.from_bytes(header[_APPLICATION_ID_AT : _APPLICATION_ID_AT + 4], "big")
    if found not in (0, APPLICATION_ID):
        raise InputError(
            f"{path}: not a cowork-tui archive (another program's SQLite database, "
            f"application_id {found:#x}); {move}"
        )


def check_ours(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse an SQLite database of another program that carries no `application_id` (schema
    version 0 with tables in it); one of a newer cowork-tui too. Nothing is written."""
    found = schema_version(conn)
    if found > SCHEMA_VERSION:
        raise NewerArchiveError(path, found, SCHEMA_VERSION)
    if found == 0 and conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
        raise InputError(
            f"{path}: not a cowork-tui archive (an SQLite database with other tables); it was "
            "left untouched; move it away and cowork-tui starts a new archive"
        )


def check_intact(conn: sqlite3.Connection) -> None:
    """`PRAGMA quick_check`: sqlite3.DatabaseError ("damaged") naming what is wrong."""
    problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)").fetchall()]
    if problems != ["ok"]:
        found = " ".join(" ".join(problems).replace("*** in database main ***", "").split())
        raise sqlite3.DatabaseError(f"database disk image is malformed: {found[:200]}")


def connect(target: Path | str, busy_ms: int, *, uri: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False, uri=uri)
    conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
    return conn


def open_read_only(path: Path, busy_ms: int) -> sqlite3.Connection:
    """A connection that reads the archive and never writes to it: `mode=ro` (it sees a live
    run's WAL), or `immutable=1` where SQLite cannot make the WAL's shared-memory file (a
    read-only disk; a WAL left there by a crash is then not read). An archive of an older
    schema is read from a copy in memory, brought to this schema there; none at all reads as
    an empty one, and nothing is created. Raises sqlite3.Error, OSError or InputError."""
    check_header(path)
    try:
        os.stat(path)
    except FileNotFoundError:
        return in_memory(None, path)
    conn = _open_uri(path, busy_ms)
    try:
        check_ours(conn, path)
        if schema_version(conn) < SCHEMA_VERSION:
            return in_memory(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _open_uri(path: Path, busy_ms: int) -> sqlite3.Connection:
    """`mode=ro`, else `immutable=1` when that cannot open it (no shared-memory file)."""
    try:
        return _opened(read_only_uri(path), busy_ms)
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorname != "SQLITE_CANTOPEN":
            raise
        try:
            return _opened(read_only_uri(path, immutable=True), busy_ms)
        except sqlite3.Error:
            raise exc from None


def _opened(uri: str, busy_ms: int) -> sqlite3.Connection:
    conn = connect(uri, busy_ms, uri=True)
    try:
        schema_version(conn)  # opens the file (and the WAL's shared memory)
    except BaseException:
        conn.close()
        raise
    return conn


def in_memory(conn: sqlite3.Connection | None, path: Path) -> sqlite3.Connection:
    """A copy of the archive (or an empty one) in memory, at this schema version."""
    copy = connect(":memory:", 0)
    if conn is not None:
        conn.backup(copy)
        conn.close()
    migrate(copy, path)
    return copy


def read_only_uri(path: Path, *, immutable: bool = False) -> str:
    """An SQLite URI that opens `path` without writing (`immutable`: on a read-only disk
    where SQLite cannot make the WAL's shared-memory file)."""
    return path.absolute().as_uri() + ("?immutable=1" if immutable else "?mode=ro")


_SQLITE_KINDS = (  # SQLite's result codes (extended ones start with these)
    ("SQLITE_FULL", "disk full"),
    ("SQLITE_READONLY", "read-only"),
    ("SQLITE_BUSY", "busy"),
    ("SQLITE_LOCKED", "busy"),
    ("SQLITE_CORRUPT", "damaged"),
    ("SQLITE_NOTADB", "damaged"),
    ("SQLITE_IOERR", "disk I/O error"),
)
_TEXT_KINDS = (  # what the message says, when there is no code (e.g. raised by hand)
    (("full",), "disk full"),
    (("readonly", "read-only"), "read-only"),
    (("locked", "busy"), "busy"),
    (("malformed", "not a database", "corrupt"), "damaged"),
    (("disk i/o",), "disk I/O error"),
)
UNKNOWN = "cannot use"


def what_failed(exc: BaseException, path: Path | None = None) -> str:
    """The kind of failure, as a user says it: "disk full", "read-only", "busy", "damaged"...;
    `UNKNOWN` when it is none of them (`path`: a file that cannot be opened on a read-only
    disk is "read-only")."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    kind = next((kind for code, kind in _SQLITE_KINDS if name.startswith(code)), None)
    if kind is None and isinstance(exc, OSError) and exc.errno is not None:
        kind = machine_cause(exc) or UNKNOWN
    if kind is None:
        text = str(exc).lower()
        kind = next((kind for words, kind in _TEXT_KINDS if any(w in text for w in words)), UNKNOWN)
    if kind == UNKNOWN and path is not None and _read_only_disk(path):
        return "read-only"
    return kind


def _read_only_disk(path: Path) -> bool:
    for folder in (path, *path.parents):
        try:
            return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
        except OSError:
            continue
    return False


def describe(path: Path, exc: BaseException) -> str:
    """`disk full: /home/u/.local/share/cowork-tui/archive.sqlite3 (database or disk is full)`;
    `PATH: cannot use the archive (...)` when the cause has no name."""
    kind = what_failed(exc, path)
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if kind == "busy":
        detail = "another program holds its write lock"
    if kind == UNKNOWN:
        return f"{path}: cannot use the archive ({detail})"
    return f"{kind}: {path} ({detail})"


def unusable(path: Path, exc: BaseException) -> Exception:
    """What to raise for an archive that cannot be used: ArchiveError (exit 1) for the
    machine's reasons, InputError (exit 2) for a file SQLite cannot use for another."""
    if isinstance(exc, sqlite3.Error) and what_failed(exc, path) == UNKNOWN:
        return InputError(describe(path, exc))
    return ArchiveError(describe(path, exc))


def damage_advice(path: Path, journal: Path) -> str:
    """What happens, and what to do, when the archive is damaged."""
    moved = path.with_name(path.name + ".damaged")
    return (
        f"sessions go on, their records kept in {journal}; to go on with a new archive, move "
        f"it away (to {moved}, with its -wal file): the next start makes a new one and writes "
        f"the kept records into it, and `sqlite3 {moved} .recover` gets back what it can"
    )
