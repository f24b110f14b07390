"""Temporal sessions in the archive (DESIGN §8): their engine is kept; crash recovery never
interrupts them nor signals their processes (those are their workers'); a later client adopts
one whose recorder is gone — and of clients adopting at once, only one gets it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cowork_tui.core.archive.store import Archive
from cowork_tui.core.models import AgentState, EngineName, SessionEvent, SessionRecord, SessionState
from cowork_tui.core.procs import process_start_time
from tests.archive_child import session
from tests.test_archive_recovery import ROOT, a_dead_pid, rewrite

RECORD_AND_EXIT = """
import sys
from pathlib import Path
from cowork_tui.core.archive.store import Archive
from tests.archive_child import session
path, session_id, pgid, started, engine = sys.argv[1:]
record = session(session_id, int(pgid), float(started), Path(path).with_name("out"), 0)
Archive(Path(path)).record(record.model_copy(update={"engine": engine}))
"""
ADOPTER = """
import sys
from pathlib import Path
from cowork_tui.core.archive.store import Archive
archive = Archive(Path(sys.argv[1]))
print("ready", flush=True)
sys.stdin.readline()
print(archive.adopt(sys.argv[2]), flush=True)
sys.stdin.readline()  # it lives, holding its lock, until told to end
"""


def recorded_by_a_dead_process(
    path: Path, session_id: str, engine: EngineName, pgid: int = 999999999, started: float = 1.0
) -> None:
    """The session, RUNNING, recorded by a process that then ended (its owner lock free)."""
    done = subprocess.run(
        [sys.executable, "-c", RECORD_AND_EXIT, str(path), session_id, str(pgid), str(started),
         engine],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def a_session(
    session_id: str, tmp_path: Path, engine: EngineName = "temporal", **update: object
) -> SessionRecord:
    record = session(session_id, 999999999, 1.0, tmp_path / "out", 0)
    return record.model_copy(update={"engine": engine, **update})


EVENT = SessionEvent(at=datetime.now(UTC), kind="session", state="RUNNING")


def owner_of(path: Path, session_id: str) -> str | None:
    conn = sqlite3.connect(path)
    try:
        query = "SELECT owner_id FROM sessions WHERE id = ?"
        owner_id: str | None = conn.execute(query, (session_id,)).fetchone()[0]
    finally:
        conn.close()
    return owner_id


def start_adopter(path: Path, session_id: str) -> subprocess.Popen[str]:
    """A client that adopts the session when told "go", then lives until told to end."""
    return subprocess.Popen(
        [sys.executable, "-c", ADOPTER, str(path), session_id],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def say(client: subprocess.Popen[str], line: str) -> None:
    assert client.stdin is not None
    client.stdin.write(line)
    client.stdin.flush()


def hear(client: subprocess.Popen[str]) -> str:
    assert client.stdout is not None
    return client.stdout.readline()


@pytest.fixture
def agent_process() -> Iterator[subprocess.Popen[bytes]]:
    """A `sleep` in a process group of its own, carrying its session's id as agents do."""
    proc = subprocess.Popen(
        ["sleep", "60"], start_new_session=True, env=os.environ | {"COWORK_SESSION_ID": "wf"}
    )
    yield proc
    proc.kill()
    proc.wait()


def test_the_engine_is_recorded_and_read_back(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive.sqlite3")
    archive.record(a_session("wf", tmp_path))
    archive.record(a_session("here", tmp_path, "local"))
    assert archive.get("wf").engine == "temporal"
    assert archive.get("wf").to_json()["engine"] == "temporal"
    assert archive.get("here").to_json()["engine"] == "local"


def test_recovery_never_interrupts_a_temporal_session_nor_signals_its_processes(
    tmp_path: Path, agent_process: subprocess.Popen[bytes]
) -> None:
    path = tmp_path / "archive.sqlite3"
    started = process_start_time(agent_process.pid)
    assert started is not None
    recorded_by_a_dead_process(path, "wf", "temporal", agent_process.pid, started)
    assert Archive(path, read_only=True).get("wf").state is SessionState.RUNNING
    archive = Archive(path)
    assert archive.recover() == []
    record = archive.get("wf")
    assert record.state is SessionState.RUNNING
    assert record.agent("slow").state is AgentState.RUNNING  # type: ignore[union-attr]
    assert archive.event_count("wf") == 0 and archive.live_ids("temporal") == ["wf"]
    agent_process.terminate()  # alive until now: had recovery killed it, it died of SIGKILL
    assert agent_process.wait(timeout=10) == -signal.SIGTERM
    assert archive.adopt("wf")  # recovery forgot its dead owner: adopted all the same


def test_recovery_still_interrupts_a_local_session_and_kills_its_processes(
    tmp_path: Path, agent_process: subprocess.Popen[bytes]
) -> None:
    path = tmp_path / "archive.sqlite3"
    started = process_start_time(agent_process.pid)
    assert started is not None
    recorded_by_a_dead_process(path, "wf", "local", agent_process.pid, started)
    archive = Archive(path)
    assert archive.recover() == ["wf"]
    assert archive.get("wf").state is SessionState.INTERRUPTED
    assert agent_process.wait(timeout=10) == -signal.SIGKILL
    assert not archive.adopt("wf")  # a local session is not a client's to take


def test_a_session_whose_recorder_died_is_adopted_by_one_client(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    recorded_by_a_dead_process(path, "wf", "temporal")
    first, second = Archive(path), Archive(path)  # two owners: each holds a lock of its own
    assert first.adopt("wf") and first.adopt("wf")  # taken, then already its own
    assert first.owner is not None and owner_of(path, "wf") == first.owner.id
    assert not second.adopt("wf")  # its recorder lives
    first.record(a_session("wf", tmp_path, version=1), EVENT)
    assert second.event_count("wf") == 1 and second.get("wf").version == 1
    first.close()  # gone
    assert second.adopt("wf") and not Archive(path).adopt("wf")


def test_a_session_without_a_row_is_adopted_once_and_recorded_in_full(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    first, second = Archive(path), Archive(path)
    assert first.adopt("new")  # a row is made for it: the second client sees it taken
    assert not second.adopt("new")
    assert second.live_ids("temporal") == ["new"] and second.event_count("new") == 0
    record = a_session("new", tmp_path)
    first.record(record, EVENT)
    assert second.get("new").to_json() == record.to_json()
    assert [s.id for s in second.list_sessions(search="crash test")] == ["new"]


def test_owners_of_earlier_versions_are_judged_by_their_pid(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    archive = Archive(path)
    for session_id in ("dead", "alive"):
        archive.record(a_session(session_id, tmp_path))
    archive.close()
    me = (os.getpid(), process_start_time(os.getpid()))
    rewrite(
        path,
        ("UPDATE sessions SET owner_id = NULL, owner_pid = ?, owner_started = 1.0 "
         "WHERE id = 'dead'", (a_dead_pid(),)),
        ("UPDATE sessions SET owner_id = NULL, owner_pid = ?, owner_started = ? "
         "WHERE id = 'alive'", me),
    )  # fmt: skip
    adopter = Archive(path)
    assert adopter.adopt("dead") and not adopter.adopt("alive")


@pytest.mark.parametrize("recorded", [True, False], ids=["recorder-died", "no-row"])
def test_of_clients_adopting_at_once_only_one_gets_the_session(
    tmp_path: Path, recorded: bool
) -> None:
    path = tmp_path / "archive.sqlite3"
    if recorded:
        recorded_by_a_dead_process(path, "wf", "temporal")
    else:
        Archive(path).close()  # made and migrated: the clients only write sessions
    clients = [start_adopter(path, "wf") for _ in range(4)]
    try:
        assert [hear(client) for client in clients] == ["ready\n"] * 4
        for client in clients:
            say(client, "go\n")
        answers = sorted(hear(client) for client in clients)
        assert answers == ["False\n"] * 3 + ["True\n"]
    finally:
        for client in clients:
            say(client, "end\n")
            client.wait(timeout=60)
    assert Archive(path).adopt("wf")  # all of them gone now


def test_event_counts_and_the_live_sessions_of_an_engine(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    archive = Archive(path)
    assert archive.event_count("nothing") == 0 and archive.live_ids("temporal") == []
    sessions = (
        a_session("t1", tmp_path),
        a_session("l1", tmp_path, "local"),
        a_session("t2", tmp_path, state=SessionState.COMPLETED),
        a_session("t3", tmp_path, state=SessionState.PAUSED),
    )
    for record in sessions:
        archive.record(record, EVENT)
    archive.record(sessions[0], EVENT)  # written again: still launched first
    for reader in (archive, Archive(path, read_only=True)):
        assert reader.live_ids("temporal") == ["t1", "t3"] and reader.live_ids("local") == ["l1"]
        assert [reader.event_count(i) for i in ("t1", "l1", "t2", "t3")] == [2, 1, 1, 1]
