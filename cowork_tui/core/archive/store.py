"""The session archive: SQLite in WAL mode, written as sessions run, searchable for years.

One writer connection (the engine's recorder, crash recovery, the heartbeat); readers use
their own connection per thread and never block it. Every `record` is one transaction, so
a crash at any point leaves the last committed state of every session, and `recover` on the
next start turns sessions whose owner died into INTERRUPTED.

An archive that cannot take a write (busy beyond the bounded retry, disk full, damaged) never
stops a session: its records go to the journal beside it (`journal.py`) and into the archive,
in order and once, at the next write that succeeds or the next start; `problem` says what is
wrong and `on_problem` is told the first time. A `read_only` archive (for commands that only
read) is never written, migrated or created; the sessions of a crashed run read as recovery
will write them, and the processes they left are ended (those are not the archive).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import anyio

from ..errors import InputError
from ..models import SessionEvent, SessionRecord
from .files import (
    ArchiveError,
    check_header,
    check_intact,
    check_ours,
    connect,
    damage_advice,
    describe,
    open_read_only,
    unusable,
    what_failed,
)
from .journal import Journal
from .owners import Owner, OwnerLock, owners_folder
from .queries import Queries
from .recovery import REASON, adopt, as_recovered, interrupt_orphans
from .schema import migrate
from .writes import Written, journal_entry, replay, write_entry, write_owner, write_session

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
BUSY_MS = 5000  # the bounded retry of a write while another program holds the write lock
RETRY_BUSY_MS = 200  # a try again, while records wait in the journal
_TROUBLE = (sqlite3.Error, OSError, InputError)  # what writing to the archive may raise
_R = TypeVar("_R")


def _warn(problem: str) -> None:
    log.warning("cowork-tui: warning: %s", problem)


class Archive(Queries):
    """Implements `SessionRecorder`; also the history's queries and crash recovery.

    Raises InputError when the file is not an archive or a newer one (nothing is written to
    it), and, `read_only`, ArchiveError when it cannot be read."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self.journal = Journal(path.with_name(path.name + ".journal"))
        self.on_problem: Callable[[str], None] = _warn  # told the first problem, once
        self._told = False
        self._cause: str | None = None  # why the archive takes no records now
        self._unjournaled: str | None = None  # why the journal takes none either
        self._lock = threading.Lock()
        self._readers: list[sqlite3.Connection] = []
        self._local = threading.local()
        self._written: dict[str, Written] = {}  # what the last `record` of each session wrote
        self._parked: list[dict[str, Any]] = []  # records the journal could not take either
        self._damaged = False
        self._conn: sqlite3.Connection | None = None
        self._owner: OwnerLock | None = None
        if read_only:
            self._reader()  # what cannot be read is refused now
            self._note_waiting()
        else:
            self._open()

    @property
    def problem(self) -> str | None:
        """What keeps records out of the archive now, in words (None: nothing)."""
        if self._cause is None or self._unjournaled is None:
            return self._cause
        return (
            f"{self._cause}; the journal cannot be written either ({self._unjournaled}): "
            "records are held in memory until one of them takes them"
        )

    # --- writing ---------------------------------------------------------------------

    def record(self, session: SessionRecord, event: SessionEvent | None = None) -> None:
        """Store the session as it is now (changed rows only) and its event, in one transaction;
        into the journal when the archive cannot take it (never an error: `problem` says it)."""
        owner = self._owner_now()
        if self.problem is None:
            last, now = self._written.get(session.id), time.time()
            try:
                written = self._write(
                    lambda conn: write_session(conn, session, event, owner, now, last)
                )
            except _TROUBLE as exc:
                self._trouble(exc)
            else:
                self._written[session.id] = written
                if session.state.terminal:
                    del self._written[session.id]
                return
        self._written.pop(session.id, None)  # written in full once the archive takes it
        self._park(journal_entry(session, event, owner))
        self._tell()

    def claim(self, session_id: str) -> None:
        """Take an INTERRUPTED session for this process to continue (InputError: it is not;
        ArchiveError: the archive cannot be written now, so it cannot be taken safely)."""
        owner, now = self._owner_now(), time.time()

        def take(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "UPDATE sessions SET state = 'INITIALIZING', owner_id = ?, owner_pid = ?, "
                "owner_started = ?, updated_at = ? WHERE id = ? AND state = 'INTERRUPTED' "
                "RETURNING seq",
                (owner.id, owner.pid, owner.started, now, session_id),
            ).fetchone()
            if row is None:
                raise InputError(f"session {session_id} is not INTERRUPTED (resumed meanwhile?)")
            write_owner(conn, owner, now)

        try:
            self._write(take)
        except (sqlite3.Error, OSError) as exc:
            raise ArchiveError(
                f"cannot resume session {session_id}: {describe(self.path, exc)}"
            ) from exc

    def adopt(self, session_id: str) -> bool:
        """Take over recording a Temporal session: True when this process may record it now
        (not recorded yet, or its recorder provably gone), False when another live process
        records it; one write transaction, so two never both get True (`recovery.adopt`).
        ArchiveError: the archive cannot be written now, so it cannot be taken safely."""
        owner, now, folder = self._owner_now(), time.time(), owners_folder(self.path)
        try:
            return self._write(lambda conn: adopt(conn, folder, session_id, owner, now))
        except (sqlite3.Error, OSError) as exc:
            raise ArchiveError(
                f"cannot adopt session {session_id}: {describe(self.path, exc)}"
            ) from exc

    def heartbeat(self) -> None:
        """Say this process is alive (crash recovery leaves its sessions alone) and write what
        waits for the archive; never an error (`problem` says what is wrong)."""
        if self._damaged:
            return
        owner, now = self._owner_now(), time.time()
        try:
            self._write(lambda conn: write_owner(conn, owner, now), retry=self.problem is not None)
        except _TROUBLE as exc:
            self._trouble(exc)
        self._tell()

    def flush(self) -> None:
        """Write what waits for the archive, if it takes it now (e.g. as a run ends)."""
        if self.problem is not None:
            self.heartbeat()

    def recover(self, reason: str = REASON) -> list[str]:
        """Sessions whose owner is provably gone become INTERRUPTED, their process groups
        killed. Returns the ids it interrupted ([] when the archive cannot be written now).
        Sessions of live processes (this one included) stay, and Temporal ones (`adopt`)."""
        if self._damaged:
            return []
        folder = owners_folder(self.path)
        try:
            return self._write(lambda conn: interrupt_orphans(conn, folder, reason))
        except _TROUBLE as exc:
            self._trouble(exc)
            return []
        finally:
            self._tell()

    def _open(self) -> None:
        """Open for writing and write what journals hold. A file that is not an archive, or a
        newer one, is refused before anything is written; the machine's problems degrade."""
        try:
            self._conn = _open_writer(self.path)
        except (sqlite3.Error, OSError) as exc:
            error = unusable(self.path, exc)
            if isinstance(error, InputError):
                raise error from exc
            self._trouble(exc)
        self._owner = OwnerLock(owners_folder(self.path))
        if self.problem is None and self.journal.path.exists():
            with suppress(*_TROUBLE):  # they wait for the next write
                self._write(lambda conn: None)
        self._tell()

    @property
    def owner(self) -> Owner | None:
        """This process, as the owner of the sessions it writes (None: read-only)."""
        return self._owner.owner if self._owner else None

    def _owner_now(self) -> Owner:
        assert self.owner is not None, "a read-only archive is never written"
        return self.owner

    def _write(self, work: Callable[[sqlite3.Connection], _R], *, retry: bool = False) -> _R:
        """`work` in one write transaction, after what waits in the journal and in memory (so
        records land in order, and once); `retry`: records wait already, do not wait long for
        the write lock. Raises what SQLite or the disk raise."""
        with self._lock:
            conn = self._writer()
            conn.execute(f"PRAGMA busy_timeout = {RETRY_BUSY_MS if retry else BUSY_MS}")
            with self.journal.replaying() as kept:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    if kept:
                        replay(conn, *kept)
                    for entry in self._parked:
                        write_entry(conn, entry)
                    result = work(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:  # a failed COMMIT (disk full) may have ended it
                        with suppress(sqlite3.Error):
                            conn.execute("ROLLBACK")
                    raise
            self._parked.clear()
        self._cause = self._unjournaled = None
        return result

    def _writer(self) -> sqlite3.Connection:
        if self._damaged:
            raise sqlite3.DatabaseError("database disk image is malformed")
        if self._conn is None:  # it could not be opened before (e.g. busy)
            self._conn = _open_writer(self.path)
        return self._conn

    def _park(self, entry: dict[str, Any]) -> None:
        """Keep a record the archive could not take in the journal (in memory, in order, when
        the journal cannot be written either)."""
        with self._lock:
            self._parked.append(entry)
            try:
                self.journal.append(self._parked)
            except OSError as exc:
                self._unjournaled = describe(self.journal.path, exc)
            else:
                self._parked.clear()
                self._unjournaled = None

    def _trouble(self, exc: BaseException) -> None:
        """The archive refused a write: sessions go on, their records to the journal."""
        if what_failed(exc, self.path) == "damaged":
            self._damaged = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            then = damage_advice(self.path, self.journal.path)
        else:
            then = f"sessions go on, their records kept in {self.journal.path} until it takes them"
        what = str(exc) if isinstance(exc, InputError) else describe(self.path, exc)
        self._cause = f"{what}; {then}"

    def _tell(self) -> None:
        if self.problem is not None and not self._told:
            self._told = True
            self.on_problem(self.problem)

    def _note_waiting(self) -> None:
        """Read-only: records that wait in the journal are not in the history yet; say so."""
        with suppress(OSError):
            waiting = len(self.journal.pending())
            if waiting:
                self._cause = (
                    f"{waiting} session records wait in {self.journal.path}, not in the history "
                    "yet: the next run, resume or TUI start writes them into the archive"
                )
                self._tell()

    # --- reading (the queries: `queries.py`) -----------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._open_reader()
                conn.execute("PRAGMA query_only = 1")
            except (sqlite3.Error, OSError) as exc:
                raise unusable(self.path, exc) from exc
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    def _open_reader(self) -> sqlite3.Connection:
        if not self.read_only:
            return connect(self.path, BUSY_MS)
        conn = open_read_only(self.path, BUSY_MS)
        try:  # a crashed run's sessions read as recovery will write them
            return as_recovered(conn, owners_folder(self.path), self.path)
        except BaseException:
            conn.close()
            raise

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
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._owner is not None:
                self._owner.release()


async def keep_alive(archive: Archive, interval: float = HEARTBEAT_SECONDS) -> None:
    """The heartbeat of a process that runs sessions: start it in the app's/CLI's task group."""
    while True:
        archive.heartbeat()
        await anyio.sleep(interval)


def _open_writer(path: Path) -> sqlite3.Connection:
    """Open (creating it private to the user), check and migrate. A file that is not an
    archive, or a newer one, is refused (InputError) before SQLite opens it for writing; a
    damaged one is an sqlite3.DatabaseError."""
    check_header(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = connect(path, BUSY_MS)
    try:
        check_ours(conn, path)
        check_intact(conn)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn
