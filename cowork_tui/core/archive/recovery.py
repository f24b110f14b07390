"""Crash recovery: sessions whose cowork-tui process died become INTERRUPTED, and the process
groups their agents left behind are killed — only when they provably are those groups.

An owner is known by the lock it holds while it lives (`owners.py`): a session is interrupted
only when its owner's lock is free, and then its processes are signalled only when the owner ran
in this process's PID namespace (elsewhere its pids name other processes, or none we see).
Sessions of earlier versions have no owner id: their owner is identified by pid + start time
(a reused pid has another start time), its heartbeat telling when it was last seen alive.
A recorded process group is killed when its leader has the recorded start time or, the leader
gone, when it still has members that started while the owner was alive (a group id cannot be
reused while any member of it lives). Processes that carry the session's id in their
environment (the command backend sets `COWORK_SESSION_ID`) are killed too: those spawned in
the instant before their group was recorded, and descendants that left their group.

A Temporal session (engine 'temporal') outlives the client that records it: its processes are
its workers', so recovery never interrupts it nor signals them; once its recording owner is
gone, another client `adopt`s it and records it from then on.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..clock import utcnow
from ..models import AGENT_TERMINAL, PREVIEW_CHARS, SessionEvent, SessionRecord
from ..procs import (
    group_members,
    is_same_process,
    kill_group,
    kill_session_processes,
    pid_namespace,
    process_start_time,
)
from .files import in_memory
from .owners import Owner, forget, lock_held, lock_ids
from .rows import LIVE_SESSION
from .writes import reserve, write_owner

REASON = "cowork-tui stopped while it ran (crash or kill)"
STALE_SECONDS = 60.0  # without /proc: an owner silent this long is gone
_SLACK_SECONDS = 15.0  # a group member may start this long after the owner's last heartbeat
_LIVE_AGENT = f"state NOT IN {tuple(sorted(s.value for s in AGENT_TERMINAL))!r}"


def owner_alive(pid: int, started: float, last_seen: float) -> bool:
    """The process that owns a session is still running (and is not a reused pid)."""
    if started > 0 and process_start_time(os.getpid()) is not None:
        return is_same_process(pid, started)
    try:  # no process start times here: fall back to the heartbeat
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return time.time() - last_seen < STALE_SECONDS


def _since_boot(unix_time: float) -> float:
    return unix_time - (time.time() - time.clock_gettime(time.CLOCK_BOOTTIME))


def kill_orphan_group(pgid: int, started: float, owner_last_seen: float) -> bool:
    """Kill a process group a dead session left behind; a reused id is left alone."""
    if process_start_time(pgid) is not None:
        return is_same_process(pgid, started) and kill_group(pgid)
    latest = _since_boot(owner_last_seen + _SLACK_SECONDS)
    for member in group_members(pgid):
        member_started = process_start_time(member)
        if member_started is not None and started <= member_started <= latest:
            return kill_group(pgid)
    return False


def same_namespace(pid_ns: int | None) -> bool:
    """This process is in the PID namespace `pid_ns` (None, unknown: it cannot be told)."""
    return pid_ns is not None and pid_ns == pid_namespace()


class _Verdicts:
    """Each owner judged once per recovery: its sessions and its lock file agree."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._gone: dict[str, bool] = {}

    def gone(self, owner_id: str) -> bool:
        """Provably dead: its lock is free, or its lock file gone."""
        if owner_id not in self._gone:
            self._gone[owner_id] = not lock_held(self.folder, owner_id)
        return self._gone[owner_id]

    def owner_gone(
        self, owner_id: str | None, pid: int | None, started: float | None, last_seen: float
    ) -> bool:
        """A session's owner is provably dead (one of an earlier version, without an id: its
        pid and start time tell)."""
        if owner_id is None:
            return pid is None or not owner_alive(pid, started or 0.0, last_seen)
        return self.gone(owner_id)


@dataclass(frozen=True)
class Orphan:
    """A session whose owner is provably gone."""

    seq: int
    id: str
    started_at: str | None
    last_seen: float  # unix time its owner was last seen alive
    may_signal: bool  # its processes are this namespace's to kill


# sessions with their owners: id, pid and start time, PID namespace, when last seen alive
_OWNED = (
    "SELECT s.seq, s.id, s.started_at, s.owner_id, s.owner_pid, s.owner_started, l.pid_ns, "
    "max(s.updated_at, coalesce(o.heartbeat_at, l.heartbeat_at, 0)), s.engine FROM sessions s "
    "LEFT JOIN owners o ON s.owner_id IS NULL AND o.pid = s.owner_pid "
    "AND o.started = s.owner_started LEFT JOIN owner_locks l ON l.id = s.owner_id"
)


def find_orphans(conn: sqlite3.Connection, folder: Path) -> tuple[list[Orphan], _Verdicts]:
    """The sessions not ended whose owner is provably gone (`folder`: the owners' locks),
    Temporal sessions left out (their workers run them)."""
    rows = conn.execute(f"{_OWNED} WHERE s.{LIVE_SESSION} AND s.engine != 'temporal'").fetchall()
    verdicts = _Verdicts(folder)
    orphans = []
    for seq, session_id, started_at, owner_id, pid, pid_started, pid_ns, last_seen, _ in rows:
        if verdicts.owner_gone(owner_id, pid, pid_started, last_seen):
            may_signal = owner_id is None or same_namespace(pid_ns)
            orphans.append(Orphan(seq, session_id, started_at, last_seen, may_signal))
    return orphans, verdicts


def adopt(conn: sqlite3.Connection, folder: Path, session_id: str, owner: Owner, at: float) -> bool:
    """`owner` records Temporal session `session_id` from now on: True when it did already, when
    the session has no row yet (one is made for it, so that no other process adopts it too) or
    when its owner is provably gone; False when a live one records it, or it is a local
    session of another process. Call inside a write transaction."""
    row = conn.execute(f"{_OWNED} WHERE s.id = ?", (session_id,)).fetchone()
    if row is None:
        blank = SessionRecord(id=session_id, item="", marketplace="", task="", engine="temporal")
        reserve(conn, blank, owner, at)
        return True
    seq, _, _, owner_id, pid, pid_started, _, last_seen, engine = row
    if (owner_id, pid, pid_started) == (owner.id, owner.pid, owner.started):
        return True
    if engine != "temporal" or not _Verdicts(folder).owner_gone(
        owner_id, pid, pid_started, last_seen
    ):
        return False
    conn.execute(
        "UPDATE sessions SET owner_id = ?, owner_pid = ?, owner_started = ?, updated_at = ? "
        "WHERE seq = ?",
        (owner.id, owner.pid, owner.started, at, seq),
    )
    write_owner(conn, owner, at)
    return True


def interrupt_orphans(
    conn: sqlite3.Connection, folder: Path, reason: str = REASON, *, tidy: bool = True
) -> list[str]:
    """Mark every session whose owner is provably gone INTERRUPTED and kill what it left;
    `tidy`: forget dead owners (their rows and lock files). Call inside a write transaction."""
    orphans, verdicts = find_orphans(conn, folder)
    for orphan in orphans:
        ended = datetime.fromtimestamp(orphan.last_seen, UTC)
        _interrupt_agents(conn, orphan.seq, ended, orphan.last_seen if orphan.may_signal else None)
        if orphan.may_signal:
            kill_session_processes(orphan.id)
        conn.execute(
            "UPDATE sessions SET state = 'INTERRUPTED', ended_at = ?, duration_s = ?, "
            "error = ?, updated_at = ? WHERE seq = ?",
            (ended.isoformat(), _duration(orphan.started_at, ended), reason, time.time(),
             orphan.seq),
        )  # fmt: skip
        event = SessionEvent(at=utcnow(), kind="session", state="INTERRUPTED",
                             reason=reason)  # fmt: skip
        conn.execute(
            "INSERT INTO events (session_seq, at, kind, state, reason) VALUES (?, ?, ?, ?, ?)",
            (orphan.seq, event.at.isoformat(), event.kind, event.state, event.reason),
        )
    if tidy:
        _forget_dead_owners(conn, verdicts)
    return [orphan.id for orphan in orphans]


def as_recovered(conn: sqlite3.Connection, folder: Path, path: Path) -> sqlite3.Connection:
    """For reading only: the archive as recovery will write it — sessions whose owner is gone
    read INTERRUPTED, from a copy in memory — and the processes they left killed (they are not
    the archive). Nothing is written; `conn` is closed when a copy replaces it."""
    if not find_orphans(conn, folder)[0]:
        return conn
    copy = in_memory(conn, path)
    copy.execute("BEGIN")
    interrupt_orphans(copy, folder, tidy=False)
    copy.execute("COMMIT")
    return copy


def _interrupt_agents(
    conn: sqlite3.Connection, seq: int, ended: datetime, owner_last_seen: float | None
) -> None:
    """Unfinished agents become INTERRUPTED, their process groups killed (unless
    `owner_last_seen` is None: they may not be signalled); finished ones stay."""
    agents = conn.execute(
        "SELECT subtask, started_at, pgid, pgid_started, output_path, output_preview "
        f"FROM agents WHERE session_seq = ? AND {_LIVE_AGENT}",
        (seq,),
    ).fetchall()
    for subtask, started_at, pgid, pgid_started, output_path, preview in agents:
        if owner_last_seen is not None and pgid is not None and pgid_started is not None:
            kill_orphan_group(pgid, pgid_started, owner_last_seen)
        conn.execute(
            "UPDATE agents SET state = 'INTERRUPTED', ended_at = ?, duration_s = ?, step = '', "
            "output_preview = ? WHERE session_seq = ? AND subtask = ?",
            (ended.isoformat() if started_at else None, _duration(started_at, ended),
             preview or _head(output_path), seq, subtask),
        )  # fmt: skip


def _head(output_path: str | None) -> str:
    """The start of what an interrupted agent wrote (its output file survives the crash)."""
    if not output_path:
        return ""
    try:
        with open(output_path, encoding="utf-8", errors="replace") as file:
            return file.read(PREVIEW_CHARS)
    except OSError:
        return ""


def _duration(started_at: str | None, ended: datetime) -> float | None:
    if not started_at:
        return None
    return max(0.0, (ended - datetime.fromisoformat(started_at)).total_seconds())


def _forget_dead_owners(conn: sqlite3.Connection, verdicts: _Verdicts) -> None:
    """Owners' rows and lock files go once they are dead (their sessions interrupted above)."""
    owners = conn.execute("SELECT pid, started, heartbeat_at FROM owners").fetchall()
    for pid, started, heartbeat_at in owners:
        if not owner_alive(pid, started, heartbeat_at):
            conn.execute("DELETE FROM owners WHERE pid = ? AND started = ?", (pid, started))
    locked = conn.execute("SELECT id FROM owner_locks").fetchall()
    for (owner_id,) in locked:
        if verdicts.gone(owner_id):
            conn.execute("DELETE FROM owner_locks WHERE id = ?", (owner_id,))
            forget(verdicts.folder, owner_id)
    known = {row[0] for row in locked}
    for owner_id in lock_ids(verdicts.folder):  # owners that never wrote a row
        if owner_id not in known and verdicts.gone(owner_id):
            forget(verdicts.folder, owner_id)
