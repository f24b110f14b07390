"""Crash recovery at the archive level: a process recording a session is killed -9 at random
points; the next start finds the archive intact, the session INTERRUPTED, its processes gone —
and never touches a process whose pid was merely reused."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cowork_tui.core.archive.store import Archive
from cowork_tui.core.models import AgentState, SessionState
from cowork_tui.core.procs import group_members, is_same_process, process_start_time

ROOT = Path(__file__).parent.parent


def start_child(archive: Path, session_id: str, mode: str, *group: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.archive_child", str(archive), session_id, mode, *group],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_ready(child: subprocess.Popen[str]) -> int:
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.startswith("ready "), line
    return int(line.split()[1])


def wait_gone(pgid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def sleeper_group() -> Iterator[subprocess.Popen[bytes]]:
    """A live process group of our own (a stand-in for an unrelated program reusing a pid)."""
    proc = subprocess.Popen(["sh", "-c", "sleep 60 & wait"], start_new_session=True)
    while len(group_members(proc.pid)) < 2:
        time.sleep(0.01)
    yield proc
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def integrity_ok(path: Path) -> bool:
    conn = sqlite3.connect(path, isolation_level=None)
    try:  # FTS5 raises on a damaged index; the pragma checks the rest
        conn.execute("INSERT INTO session_text(session_text) VALUES ('integrity-check')")
        return bool(conn.execute("PRAGMA integrity_check").fetchone() == ("ok",))
    finally:
        conn.close()


def test_kill_9_at_random_points_then_recovery(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    rng = random.Random(20261124)
    for i in range(20):
        session_id = f"crash-{i}"
        child = start_child(path, session_id, "loop")
        pgid = wait_ready(child)
        time.sleep(rng.uniform(0, 0.3))  # the child records continuously meanwhile
        child.kill()
        child.wait()
        assert integrity_ok(path), f"iteration {i}"
        archive = Archive(path)
        assert archive.recover() == [session_id]
        assert wait_gone(pgid), f"iteration {i}: process group {pgid} survived"
        record = archive.get(session_id)
        assert record.state is SessionState.INTERRUPTED
        assert record.error and "crash or kill" in record.error
        states = {a.subtask: a.state for a in record.agents}
        assert states == {"slow": AgentState.INTERRUPTED, "quick": AgentState.SUCCEEDED}
        assert record.agent("quick").output_preview == "quick result"  # type: ignore[union-attr]
        assert archive.events(session_id)[-1].state == "INTERRUPTED"
        assert archive.list_sessions(search="quick result")[0].id == session_id
        assert archive.recover() == []  # once only
        archive.close()


def test_sessions_of_a_live_process_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    child = start_child(path, "alive", "loop")
    pgid = wait_ready(child)
    try:
        assert Archive(path).recover() == []
        assert Archive(path).get("alive").state is SessionState.RUNNING
        assert group_members(pgid)
    finally:
        child.kill()
        child.wait()
    assert Archive(path).recover() == ["alive"]
    assert wait_gone(pgid)


def test_reused_pid_is_never_killed(tmp_path: Path, sleeper_group: subprocess.Popen[bytes]) -> None:
    """The recorded group id now belongs to another program (another start time): untouched."""
    path = tmp_path / "archive.sqlite3"
    started = process_start_time(sleeper_group.pid)
    assert started is not None
    child = start_child(path, "old", "exit", str(sleeper_group.pid), str(started - 30))
    wait_ready(child)
    assert child.wait() == 0
    assert Archive(path).recover() == ["old"]
    assert Archive(path).get("old").state is SessionState.INTERRUPTED
    assert len(group_members(sleeper_group.pid)) == 2 and sleeper_group.poll() is None


def test_group_whose_leader_died_is_still_killed(tmp_path: Path) -> None:
    """The leader `sh` is gone, its child lives on in the group: still the recorded group."""
    leader = subprocess.Popen(
        ["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"],
        start_new_session=True, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert leader.stdout is not None
    orphan = int(leader.stdout.readline())
    started = process_start_time(leader.pid)
    leader.wait()
    assert started is not None and group_members(leader.pid) == [orphan]
    path = tmp_path / "archive.sqlite3"
    child = start_child(path, "gone", "exit", str(leader.pid), str(started))
    wait_ready(child)
    child.wait()
    assert Archive(path).recover() == ["gone"]
    assert wait_gone(leader.pid)


def test_processes_carrying_the_session_id_are_killed(tmp_path: Path) -> None:
    """A process spawned just before its group was recorded is found by its environment."""
    path = tmp_path / "archive.sqlite3"
    unrecorded = subprocess.Popen(
        ["sleep", "60"], start_new_session=True, env=os.environ | {"COWORK_SESSION_ID": "envy"}
    )
    bystander = subprocess.Popen(
        ["sleep", "60"], start_new_session=True, env=os.environ | {"COWORK_SESSION_ID": "envy2"}
    )
    try:
        child = start_child(path, "envy", "exit", "999999999", "1.0")  # a group long gone
        wait_ready(child)
        child.wait()
        assert Archive(path).recover() == ["envy"]
        assert unrecorded.wait(timeout=10) == -signal.SIGKILL
        assert bystander.poll() is None
    finally:
        for proc in (unrecorded, bystander):
            proc.kill()
            proc.wait()


def test_paused_group_is_killed(tmp_path: Path) -> None:
    """The app died while the session was paused: its SIGSTOPped group still goes."""
    group = subprocess.Popen(["sh", "-c", "sleep 60 & wait"], start_new_session=True)
    while len(group_members(group.pid)) < 2:
        time.sleep(0.01)
    os.killpg(group.pid, signal.SIGSTOP)
    started = process_start_time(group.pid)
    assert started is not None
    path = tmp_path / "archive.sqlite3"
    child = start_child(path, "paused", "exit", str(group.pid), str(started))
    wait_ready(child)
    child.wait()
    assert Archive(path).recover() == ["paused"]
    assert group.wait(timeout=10) == -signal.SIGKILL
    assert wait_gone(group.pid)


def test_a_dead_owner_not_yet_reaped_is_dead() -> None:
    child = subprocess.Popen(["sleep", "0.2"])
    started = process_start_time(child.pid)
    assert started is not None and is_same_process(child.pid, started)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.02)  # it exited; not reaped yet: a zombie
    assert not is_same_process(child.pid, started)
    child.wait()
