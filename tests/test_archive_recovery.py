"""Crash recovery at the archive level: a process recording a session is killed -9 at random
points; the next start finds the archive intact, the session INTERRUPTED, its processes gone —
and never touches a process whose pid was merely reused, nor a session whose owner lives (its
lock held) in another PID namespace or behind a pid that looks dead."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cowork_tui.core.archive.owners import lock_held, owners_folder
from cowork_tui.core.archive.store import Archive
from cowork_tui.core.errors import InputError
from cowork_tui.core.models import AgentState, SessionState
from cowork_tui.core.procs import (
    group_members,
    is_same_process,
    pid_namespace,
    process_start_time,
)
from tests.archive_child import session

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
        # found by its task; its outputs are indexed once it ends for good (it may be resumed)
        assert archive.list_sessions(search="crash test")[0].id == session_id
        assert archive.list_sessions(search="quick result") == []
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


# --- owners across PID namespaces and pid reuse --------------------------------------------


def unshare_permitted() -> bool:
    try:
        done = subprocess.run([*UNSHARE_PID, "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


UNSHARE_PID = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
needs_pid_namespaces = pytest.mark.skipif(
    not shutil.which("unshare") or not unshare_permitted(),
    reason="`unshare --pid` is not permitted here",
)
RECOVER = (
    "import sys; from pathlib import Path; from cowork_tui.core.archive.store import Archive; "
    "print(Archive(Path(sys.argv[1])).recover())"
)


def owner_row(path: Path) -> tuple[str, int, int | None]:
    conn = sqlite3.connect(path)
    try:
        ((owner_id, pid, pid_ns),) = conn.execute(
            "SELECT id, pid, pid_ns FROM owner_locks"
        ).fetchall()
    finally:
        conn.close()
    return owner_id, pid, pid_ns


def rewrite(path: Path, *statements: tuple[str, tuple[Any, ...]]) -> None:
    conn = sqlite3.connect(path, timeout=30)
    try:
        for sql, params in statements:
            conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def wait_lock_free(path: Path, owner_id: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while lock_held(owners_folder(path), owner_id):
        assert time.monotonic() < deadline, f"the lock of {owner_id} is still held"
        time.sleep(0.02)


def a_dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def test_a_live_owner_holding_its_lock_is_never_interrupted(tmp_path: Path) -> None:
    """Its recorded pid is a dead process's (as seen from another namespace, or reused):
    the lock it holds says it lives. Sessions of earlier versions keep the pid rule."""
    path = tmp_path / "archive.sqlite3"
    child = start_child(path, "alive", "loop")
    pgid = wait_ready(child)
    dead = a_dead_pid()
    own = Archive(path)  # sessions as an earlier version wrote them: no owner id
    output = tmp_path / "legacy.out"
    for session_id in ("legacy-dead", "legacy-alive"):
        own.record(session(session_id, 999999999, 1.0, output, 0))
    me = (os.getpid(), process_start_time(os.getpid()))
    rewrite(
        path,
        ("UPDATE sessions SET owner_pid = ?, owner_started = 1.0 WHERE id = 'alive'", (dead,)),
        ("UPDATE owner_locks SET pid = ?, started = 1.0 WHERE pid = ?", (dead, child.pid)),
        ("UPDATE sessions SET owner_id = NULL, owner_pid = ?, owner_started = 1.0 "
         "WHERE id = 'legacy-dead'", (dead,)),
        ("UPDATE sessions SET owner_id = NULL, owner_pid = ?, owner_started = ? "
         "WHERE id = 'legacy-alive'", me),
    )  # fmt: skip
    try:
        assert Archive(path).recover() == ["legacy-dead"]
        assert Archive(path).get("alive").state is SessionState.RUNNING
        assert Archive(path).get("legacy-alive").state is SessionState.RUNNING
        assert group_members(pgid)
    finally:
        child.kill()
        child.wait()
    assert Archive(path).recover() == ["alive"]  # its lock went with it
    assert wait_gone(pgid)


def test_an_owner_of_another_pid_namespace_is_interrupted_but_never_signalled(
    tmp_path: Path,
) -> None:
    """Its pids name other processes here: once its lock is free its session is INTERRUPTED,
    and nothing is signalled."""
    path = tmp_path / "archive.sqlite3"
    child = start_child(path, "elsewhere", "loop")
    pgid = wait_ready(child)
    rewrite(path, ("UPDATE owner_locks SET pid_ns = coalesce(pid_ns, 0) + 1", ()))
    child.kill()
    child.wait()
    try:
        assert Archive(path).recover() == ["elsewhere"]
        assert Archive(path).get("elsewhere").state is SessionState.INTERRUPTED
        assert len(group_members(pgid)) == 3  # `sh` and its two sleepers: untouched
    finally:
        os.killpg(pgid, signal.SIGKILL)
    assert wait_gone(pgid)


@needs_pid_namespaces
def test_a_session_run_in_another_pid_namespace_is_left_alone_while_it_runs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "archive.sqlite3"
    contained = subprocess.Popen(
        [*UNSHARE_PID, sys.executable, "-m", "tests.archive_child", str(path), "boxed", "loop"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_ready(contained)
    owner_id, _, pid_ns = owner_row(path)
    try:
        assert pid_ns is not None and pid_ns != pid_namespace()
        assert Archive(path).recover() == []
        assert Archive(path).get("boxed").state is SessionState.RUNNING
    finally:
        contained.kill()  # and its namespace with it (--kill-child)
        contained.wait()
    wait_lock_free(path, owner_id)
    assert Archive(path).recover() == ["boxed"]


@needs_pid_namespaces
def test_recovery_in_another_pid_namespace_leaves_a_live_session_alone(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    child = start_child(path, "hosted", "loop")
    pgid = wait_ready(child)
    try:
        inside = subprocess.run(
            [*UNSHARE_PID, sys.executable, "-c", RECOVER, str(path)],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert inside.returncode == 0, inside.stderr
        assert inside.stdout.split() == ["[]"]
        assert Archive(path).get("hosted").state is SessionState.RUNNING
        assert group_members(pgid)
    finally:
        child.kill()
        child.wait()
    assert Archive(path).recover() == ["hosted"]
    assert wait_gone(pgid)


def test_resume_takes_a_session_for_this_owner_once(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    first = Archive(path)
    stopped = session("stopped", 999999999, 1.0, tmp_path / "s.out", 0)
    first.record(stopped.model_copy(update={"state": SessionState.INTERRUPTED}))
    first.close()
    resumer = Archive(path)
    resumer.claim("stopped")
    conn = sqlite3.connect(path)
    ((state, owner_id),) = conn.execute("SELECT state, owner_id FROM sessions").fetchall()
    conn.close()
    assert resumer.owner is not None and owner_id == resumer.owner.id
    assert state == "INITIALIZING"
    with pytest.raises(InputError, match="not INTERRUPTED"):
        Archive(path).claim("stopped")
    assert Archive(path).recover() == []  # its new owner lives
    resumer.close()
    assert Archive(path).recover() == ["stopped"]
