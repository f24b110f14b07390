"""The archive busy, full, damaged or foreign, and a home that is read-only: sessions go on,
their records are kept in the journal and land in the archive once, exactly; a file that is
not the archive is never written; commands that only read never write; problems are named."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cowork_tui.core.archive import store
from cowork_tui.core.archive.journal import Journal
from cowork_tui.core.archive.schema import SCHEMA_VERSION
from cowork_tui.core.archive.store import Archive
from cowork_tui.core.errors import InputError
from cowork_tui.core.models import AgentState, SessionState
from tests.test_archive import FIXTURES, agent, event, make_session

from .marketplaces import cli, prepared_home

ROOT = Path(__file__).parent.parent
ITEMS: dict[str, dict[str, Any]] = {"solo": {"agents": {"worker": {"command": "echo pelican"}}}}
BIG_TASK = "count the pelicans on the estuary " * 2000  # needs pages a full disk has not got
REAL_CONNECT = sqlite3.connect
FULL_DISK = """
import sqlite3, sys
real = sqlite3.connect
def connect(target, *args, **kwargs):  # the archive can grow no more: "disk is full"
    conn = real(target, *args, **kwargs)
    if str(target).endswith("archive.sqlite3"):
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        conn.execute(f"PRAGMA max_page_count = {pages}")
    return conn
sqlite3.connect = connect
from cowork_tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepared_home(tmp_path_factory, ITEMS)


@pytest.fixture
def home(prepared: Path, tmp_path: Path) -> Path:
    """A home of this test's own, with the item installed and an (empty) archive."""
    copy = tmp_path / "home"
    shutil.copytree(prepared, copy)
    Archive(archive_file(copy)).close()
    return copy


def archive_file(home: Path) -> Path:
    return home / "data" / "archive.sqlite3"


@pytest.fixture
def quick_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A short bounded retry of a busy archive, for the archives of this process."""
    monkeypatch.setattr(store, "BUSY_MS", 50, raising=False)  # (none before it was bounded)


def hold_write_lock(path: Path) -> sqlite3.Connection:
    """Another program holding the archive's write lock (until ROLLBACK)."""
    conn = REAL_CONNECT(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


class FullDisk:
    """Connections made to the archive while it is in place can grow it no more (SQLite says
    "database or disk is full"), until `free`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
        self.conns: list[sqlite3.Connection] = []

        def connect(target: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
            conn: sqlite3.Connection = REAL_CONNECT(target, *args, **kwargs)
            if str(target) == str(path):
                (pages,) = conn.execute("PRAGMA page_count").fetchone()
                conn.execute(f"PRAGMA max_page_count = {pages}")
                self.conns.append(conn)
            return conn

        monkeypatch.setattr(sqlite3, "connect", connect)

    def free(self) -> None:
        for conn in self.conns:
            conn.execute("PRAGMA max_page_count = 1073741823")


def told(archive: Archive) -> list[str]:
    said: list[str] = []
    archive.on_problem = said.append
    return said


def event_states(archive: Archive, session_id: str) -> list[str | None]:
    return [e.state for e in archive.events(session_id)]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- busy, full: the session goes on, its record lands later, once -------------------------


def test_a_busy_archive_never_stops_a_session_nor_loses_its_record(
    tmp_path: Path, quick_retry: None
) -> None:
    path = tmp_path / "archive.sqlite3"
    archive = Archive(path)
    said = told(archive)
    running = make_session(agents=(agent("research"),))
    final = make_session(state=SessionState.COMPLETED, duration=3.0,
                         agents=(agent("research", AgentState.SUCCEEDED),))  # fmt: skip
    other = hold_write_lock(path)
    archive.heartbeat()  # what killed the app: it goes on
    archive.record(running, event("RUNNING"))
    archive.heartbeat()
    archive.record(final, event("COMPLETED"))
    expected = (
        f"busy: {path} (another program holds its write lock); sessions go on, their records "
        f"kept in {archive.journal.path} until it takes them"
    )
    assert said == [expected] and archive.problem == expected  # told once
    assert len(archive.journal.pending()) == 2
    assert Archive(path, read_only=True).list_sessions() == []
    other.execute("ROLLBACK")
    archive.heartbeat()  # the next write that succeeds writes what waited, first
    assert archive.problem is None and not archive.journal.path.exists()
    assert archive.get("s1").to_json() == final.to_json()
    assert event_states(archive, "s1") == ["RUNNING", "COMPLETED"]


def test_a_full_disk_keeps_records_in_the_journal_until_there_is_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "archive.sqlite3"
    Archive(path).record(make_session("before", state=SessionState.COMPLETED, duration=1.0))
    disk = FullDisk(monkeypatch, path)
    archive = Archive(path)
    said = told(archive)
    big = make_session("big", task=BIG_TASK, agents=(agent("a"),))
    archive.record(big, event("RUNNING"))
    archive.record(big.model_copy(update={"summary": "halfway"}), event("pause", "control"))
    archive.heartbeat()  # still full: the records wait
    assert len(said) == 1 and said[0].startswith(f"disk full: {path} (database or disk is full)")
    assert [s.id for s in Archive(path).list_sessions()] == ["before"]
    disk.free()
    archive.heartbeat()
    assert archive.problem is None and not archive.journal.path.exists()
    assert archive.get("big").summary == "halfway"
    assert event_states(archive, "big") == ["RUNNING", "pause"]
    assert [s.id for s in archive.list_sessions(search="pelicans")] == ["big"]


def test_kept_records_are_written_exactly_once(
    tmp_path: Path, quick_retry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The archive took the journal's records and the run died before the journal went: the
    next start finds the journal and writes none of them again."""
    path = tmp_path / "archive.sqlite3"
    archive = Archive(path)
    archive.record(make_session(), event("RUNNING"))
    other = hold_write_lock(path)
    archive.record(make_session(summary="1"), event("pause", "control"))
    archive.record(make_session(state=SessionState.COMPLETED, duration=2.0), event("COMPLETED"))
    other.execute("ROLLBACK")
    journal = archive.journal.path
    real_unlink = Path.unlink

    def died_first(self: Path, missing_ok: bool = False) -> None:
        if self == journal:
            raise OSError("killed before the journal was removed")
        real_unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", died_first)
    archive.heartbeat()
    monkeypatch.undo()
    assert journal.exists() and archive.problem is None
    again = Archive(path)  # the next start
    assert not journal.exists()
    assert event_states(again, "s1") == ["RUNNING", "pause", "COMPLETED"]
    assert again.get("s1").state is SessionState.COMPLETED


def test_records_a_dead_run_kept_are_written_before_recovery_judges_them(
    tmp_path: Path, quick_retry: None
) -> None:
    path = tmp_path / "archive.sqlite3"
    Archive(path).close()
    other = hold_write_lock(path)
    run = Archive(path)
    run.record(make_session("orphan", agents=(agent("a"),)), event("RUNNING"))
    run.close()  # its lock goes, as in a crash; its record is in the journal only
    other.execute("ROLLBACK")
    after = Archive(path)
    assert after.get("orphan").state is SessionState.RUNNING  # written at the open
    assert after.recover() == ["orphan"]
    record = after.get("orphan")
    assert record.state is SessionState.INTERRUPTED
    assert [a.state for a in record.agents] == [AgentState.INTERRUPTED]


def test_records_wait_in_memory_in_order_while_the_journal_cannot_be_written_either(
    tmp_path: Path, quick_retry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "archive.sqlite3"
    archive = Archive(path)
    other = hold_write_lock(path)
    append = Journal.append

    def disk_full(self: Journal, entries: list[dict[str, Any]]) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Journal, "append", disk_full)
    archive.record(make_session(), event("RUNNING"))
    archive.record(make_session(summary="1"), event("pause", "control"))
    assert archive.problem is not None
    assert f"the journal cannot be written either (disk full: {archive.journal.path}" in (
        archive.problem
    )
    monkeypatch.setattr(Journal, "append", append)
    archive.record(make_session(summary="2"), event("resume", "control"))  # all three, in order
    assert [e["event"]["state"] for e in archive.journal.pending()] == [
        "RUNNING",
        "pause",
        "resume",
    ]
    monkeypatch.setattr(Journal, "append", disk_full)
    archive.record(make_session(state=SessionState.COMPLETED, duration=1.0), event("COMPLETED"))
    other.execute("ROLLBACK")
    archive.heartbeat()  # the journal's, then the one held in memory
    assert event_states(archive, "s1") == ["RUNNING", "pause", "resume", "COMPLETED"]
    assert archive.problem is None and not archive.journal.path.exists()


def test_a_journal_append_is_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path / "archive.sqlite3.journal")
    journal.append([{"n": 1}])
    before = journal.path.read_bytes()

    def failing(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(OSError):
        journal.append([{"n": 2}, {"n": 3}])
    monkeypatch.undo()
    assert journal.path.read_bytes() == before  # nothing of them: they are appended again
    journal.append([{"n": 4}])
    assert journal.pending() == [{"n": 1}, {"n": 4}]


def test_run_prints_its_record_while_another_program_holds_the_archive(
    home: Path, tmp_path: Path
) -> None:
    path = archive_file(home)
    other = hold_write_lock(path)
    try:  # the real retry: five seconds, once; then the session goes on without waiting
        done = cli(home, "run", "solo", "a busy day", "--json", "--cwd", str(tmp_path))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert done.stderr.count("cowork-tui: warning:") == 1, done.stderr
    assert f"busy: {path} (another program holds its write lock)" in done.stderr
    assert Archive(path).get(record["id"]).to_json() == record  # at the next start


def test_run_prints_its_record_on_a_full_disk(home: Path, tmp_path: Path) -> None:
    path = archive_file(home)
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, "run", "solo", BIG_TASK, "--json", "--cwd",
         str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env=os.environ | {"COWORK_TUI_HOME": str(home)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert done.stderr.count("cowork-tui: warning:") == 1, done.stderr
    assert f"disk full: {path} (database or disk is full)" in done.stderr
    assert Archive(path).get(record["id"]).to_json() == record


# --- damaged, foreign --------------------------------------------------------------------


def damage(path: Path) -> None:
    """Garbage over the root page of the sessions table."""
    conn = REAL_CONNECT(path)
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sessions'").fetchone()
    conn.close()
    with open(path, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * page_size)


def test_a_damaged_archive_is_reported_and_no_session_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    first = Archive(path)
    for i in range(100):
        first.record(make_session(f"old-{i}", state=SessionState.COMPLETED, duration=1.0))
    first.close()
    damage(path)
    damaged = digest(path)
    archive = Archive(path)
    said = told(archive)
    final = make_session("new", state=SessionState.COMPLETED, duration=1.0)
    archive.record(final, event("COMPLETED"))
    assert said == [] and archive.problem is not None  # told at the open, before `told`
    assert archive.problem.startswith(f"damaged: {path} (database disk image is malformed")
    assert f"move it away (to {path}.damaged" in archive.problem
    assert Archive(path).problem == archive.problem  # every start says it
    assert digest(path) == damaged  # not written to
    archive.close()
    path.rename(path.with_name("archive.sqlite3.damaged"))
    fresh = Archive(path)  # a new archive, with what was kept
    assert fresh.problem is None and fresh.get("new").to_json() == final.to_json()
    assert not fresh.journal.path.exists()


def test_run_on_a_damaged_archive_says_so_and_keeps_its_record(home: Path, tmp_path: Path) -> None:
    path = archive_file(home)
    first = Archive(path)
    for i in range(100):
        first.record(make_session(f"old-{i}", state=SessionState.COMPLETED, duration=1.0))
    first.close()
    damage(path)
    done = cli(home, "run", "solo", "a task", "--json", "--cwd", str(tmp_path))
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert done.stderr.count("cowork-tui: warning:") == 1
    assert f"damaged: {path} (database disk image is malformed" in done.stderr
    listed = cli(home, "history", "list")  # a read-only command: it reads and says what waits
    assert listed.returncode == 1 and f"damaged: {path}" in listed.stderr
    path.rename(path.with_name("archive.sqlite3.damaged"))
    assert Archive(path).get(record["id"]).to_json() == record


def test_a_file_swapped_in_under_a_live_run_is_never_written_nor_its_wal_removed(
    tmp_path: Path,
) -> None:
    path = archive_file(tmp_path)
    path.parent.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.archive_child", str(path), "live", "loop"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline().startswith("ready")
        wal = path.with_name("archive.sqlite3-wal")
        assert wal.exists()
        garbage = path.with_name("garbage")
        garbage.write_bytes(b"not an archive at all\n" * 1000)
        garbage.rename(path)  # under the live run
        before = digest(path)
        with pytest.raises(InputError, match=r"not a readable cowork-tui archive \(not an SQLite"):
            Archive(path)
        refused = cli(tmp_path, "history", "list")
        assert refused.returncode == 2 and "not a readable cowork-tui archive" in refused.stderr
        assert digest(path) == before and wal.exists()
    finally:
        child.kill()
        child.wait()


def test_another_programs_database_is_never_written(tmp_path: Path) -> None:
    for application_id, tables in ((0x12345678, ""), (0, "CREATE TABLE notes (body TEXT)")):
        path = tmp_path / f"{application_id}" / "archive.sqlite3"
        path.parent.mkdir()
        conn = REAL_CONNECT(path)
        conn.execute(f"PRAGMA application_id = {application_id}")
        conn.execute(tables or "CREATE TABLE other (x)")
        conn.commit()
        conn.close()
        before = digest(path)
        for read_only in (False, True):
            with pytest.raises(InputError, match="not a cowork-tui archive"):
                Archive(path, read_only=read_only)
        assert digest(path) == before
        assert sorted(p.name for p in path.parent.iterdir()) == ["archive.sqlite3"]


# --- commands that only read -------------------------------------------------------------


def files_of(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): digest(p) for p in folder.rglob("*") if p.is_file()}


def test_read_only_commands_never_write_the_archive(home: Path, tmp_path: Path) -> None:
    """A crashed run's session reads INTERRUPTED (as recovery will write it), but only a
    command that runs sessions writes that; an older archive is read, not migrated."""
    path = archive_file(home)
    dead = Archive(path)
    dead.record(make_session("crashed", agents=(agent("a"),)), event("RUNNING"))
    dead.close()  # as if killed: its lock is free
    before = files_of(home / "data")
    listed = cli(home, "history", "list", "--json")
    shown = cli(home, "history", "show", "crashed", "--json")
    for done in (listed, shown, cli(home, "marketplace", "list", "--json"),
                 cli(home, "plan", "solo", "a task")):  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert [s["state"] for s in json.loads(listed.stdout)] == ["INTERRUPTED"]
    assert json.loads(shown.stdout)["agents"][0]["state"] == "INTERRUPTED"
    after = files_of(home / "data")
    assert {name: after[name] for name in before} == before
    assert all(not name.endswith(".journal") for name in after)
    assert Archive(path, read_only=True).list_sessions()[0].state is SessionState.INTERRUPTED
    conn = REAL_CONNECT(path)
    assert conn.execute("SELECT state FROM sessions").fetchall() == [("RUNNING",)]
    conn.close()
    older = tmp_path / "older" / "data" / "archive.sqlite3"
    older.parent.mkdir(parents=True)
    shutil.copy(FIXTURES / "archive_v1.sqlite3", older)
    old_bytes = digest(older)
    done = cli(older.parent.parent, "history", "list", "--json")
    assert done.returncode == 0, done.stderr
    assert {s["id"] for s in json.loads(done.stdout)} == {"s-finished-0001", "s-running-0002"}
    assert digest(older) == old_bytes


def test_read_only_commands_create_no_archive(prepared: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(prepared, home)
    assert not archive_file(home).exists()
    listed = cli(home, "history", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    for args in (("marketplace", "list", "--json"), ("plan", "solo", "a task")):
        assert cli(home, *args).returncode == 0
    assert cli(home, "history", "show", "nothing").returncode == 2
    assert not archive_file(home).exists() and not (home / "data" / "owners").exists()


def read_only_mount(folder: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """`command` with `folder` mounted read-only (a mount namespace of its own)."""
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return subprocess.run(
        ["unshare", "--mount", "sh", "-c", script, str(folder), *command],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env=os.environ | {"COWORK_TUI_HOME": str(folder)},
    )  # fmt: skip


def mounts_permitted(tmp_path: Path) -> bool:
    return shutil.which("unshare") is not None and read_only_mount(tmp_path, "true").returncode == 0


@pytest.fixture
def read_only_home(home: Path, tmp_path: Path) -> Iterator[Path]:
    if not mounts_permitted(tmp_path):
        pytest.skip("a read-only mount is not permitted here (unshare --mount)")
    archive = Archive(archive_file(home))
    archive.record(make_session("kept", state=SessionState.COMPLETED, duration=1.0))
    archive.close()
    yield home


def test_history_reads_an_archive_on_a_read_only_home(read_only_home: Path) -> None:
    python = [sys.executable, "-m", "cowork_tui"]
    listed = read_only_mount(read_only_home, *python, "history", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [s["id"] for s in json.loads(listed.stdout)] == ["kept"]
    shown = read_only_mount(read_only_home, *python, "history", "show", "kept", "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == "kept"
    write = (
        "import sys; from pathlib import Path; from cowork_tui.core.archive.store import Archive;"
        "print(Archive(Path(sys.argv[1])).problem)"
    )
    opened = read_only_mount(read_only_home, sys.executable, "-c", write,
                             str(archive_file(read_only_home)))  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.startswith(f"read-only: {archive_file(read_only_home)}")


def test_the_machine_problems_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk at the open (an older archive to migrate) is no "unreadable archive"."""
    path = tmp_path / "archive.sqlite3"
    shutil.copy(FIXTURES / "archive_v1.sqlite3", path)
    FullDisk(monkeypatch, path)
    archive = Archive(path)
    assert archive.problem is not None
    assert archive.problem.startswith(f"disk full: {path} (")
    assert "database or disk is full" in archive.problem and "not a readable" not in archive.problem
    during = make_session("during")
    archive.record(during, event("RUNNING"))
    monkeypatch.undo()
    assert Archive(path).get("during").to_json() == during.to_json()
    conn = REAL_CONNECT(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()
