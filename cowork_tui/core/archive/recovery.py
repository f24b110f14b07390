"""Crash recovery: sessions whose cowork-tui process died become INTERRUPTED, and the process
groups their agents left behind are killed — only when they provably are those groups.

An owner process is identified by pid + start time (a reused pid has another start time); its
heartbeat tells when it was last seen alive. A recorded process group is killed when its
leader has the recorded start time or, the leader gone, when it still has members that started
while the owner was alive (a group id cannot be reused while any member of it lives).
Processes that carry the session's id in their environment (the command backend sets
`COWORK_SESSION_ID`) are killed too: those spawned in the instant before their group was
recorded, and descendants that left their group.
"""

from __future__ import annotations

import os
import sqlite3
import time
from datetime import UTC, datetime

from ..clock import utcnow
from ..models import AGENT_TERMINAL, PREVIEW_CHARS, SESSION_TERMINAL, SessionEvent
from ..procs import (
    group_members,
    is_same_process,
    kill_group,
    kill_session_processes,
    process_start_time,
)
from .search import index_finished

STALE_SECONDS = 60.0  # without /proc: an owner silent this long is gone
_SLACK_SECONDS = 15.0  # a group member may start this long after the owner's last heartbeat
_LIVE_SESSION = f"state NOT IN {tuple(sorted(s.value for s in SESSION_TERMINAL))!r}"
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


def interrupt_orphans(conn: sqlite3.Connection, reason: str) -> list[str]:
    """Mark every session whose owner is gone INTERRUPTED; call inside a write transaction."""
    rows = conn.execute(
        "SELECT s.seq, s.id, s.task, s.summary, s.started_at, s.owner_pid, s.owner_started, "
        f"max(s.updated_at, coalesce(o.heartbeat_at, 0)) FROM sessions s LEFT JOIN owners o "
        f"ON o.pid = s.owner_pid AND o.started = s.owner_started WHERE s.{_LIVE_SESSION}"
    ).fetchall()
    interrupted = []
    for seq, session_id, task, summary, started_at, pid, pid_started, last_seen in rows:
        if pid is not None and owner_alive(pid, pid_started or 0.0, last_seen):
            continue
        ended = datetime.fromtimestamp(last_seen, UTC)
        _interrupt_agents(conn, seq, ended, last_seen)
        kill_session_processes(session_id)
        conn.execute(
            "UPDATE sessions SET state = 'INTERRUPTED', ended_at = ?, duration_s = ?, "
            "error = ?, updated_at = ? WHERE seq = ?",
            (ended.isoformat(), _duration(started_at, ended), reason, time.time(), seq),
        )
        event = SessionEvent(at=utcnow(), kind="session", state="INTERRUPTED",
                             reason=reason)  # fmt: skip
        conn.execute(
            "INSERT INTO events (session_seq, at, kind, state, reason) VALUES (?, ?, ?, ?, ?)",
            (seq, event.at.isoformat(), event.kind, event.state, event.reason),
        )
        index_finished(conn, seq, task, summary)
        interrupted.append(session_id)
    _forget_dead_owners(conn)
    return interrupted


def _interrupt_agents(
    conn: sqlite3.Connection, seq: int, ended: datetime, last_seen: float
) -> None:
    """Unfinished agents become INTERRUPTED, their process groups killed; finished ones stay."""
    agents = conn.execute(
        "SELECT subtask, started_at, pgid, pgid_started, output_path, output_preview "
        f"FROM agents WHERE session_seq = ? AND {_LIVE_AGENT}",
        (seq,),
    ).fetchall()
    for subtask, started_at, pgid, pgid_started, output_path, preview in agents:
        if pgid is not None and pgid_started is not None:
            kill_orphan_group(pgid, pgid_started, last_seen)
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


def _forget_dead_owners(conn: sqlite3.Connection) -> None:
    owners = conn.execute("SELECT pid, started, heartbeat_at FROM owners").fetchall()
    for pid, started, heartbeat_at in owners:
        if not owner_alive(pid, started, heartbeat_at):
            conn.execute("DELETE FROM owners WHERE pid = ? AND started = ?", (pid, started))
