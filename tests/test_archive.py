"""The archive: written as sessions run, read back exactly, searched, migrated; newer refused."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from cowork_tui.core.archive import schema as archive_schema
from cowork_tui.core.archive.report import session_markdown
from cowork_tui.core.archive.schema import SCHEMA_VERSION, NewerArchiveError
from cowork_tui.core.archive.store import Archive, keep_alive
from cowork_tui.core.errors import InputError
from cowork_tui.core.models import (
    AgentRecord,
    AgentState,
    Plan,
    SessionEvent,
    SessionRecord,
    SessionState,
    Subtask,
    Tokens,
)

FIXTURES = Path(__file__).parent / "fixtures"
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def make_session(
    session_id: str = "s1",
    state: SessionState = SessionState.RUNNING,
    task: str = "summarise the quarterly report",
    item: str = "analyst",
    duration: float | None = None,
    agents: tuple[AgentRecord, ...] = (),
    **extra: object,
) -> SessionRecord:
    plan = Plan(
        pattern="parallel",
        subtasks=tuple(Subtask(id=a.subtask, agent=a.agent, prompt=a.prompt) for a in agents),
    )
    return SessionRecord(
        id=session_id, item=item, marketplace="market", task=task, state=state, started_at=T0,
        ended_at=T0 + timedelta(seconds=duration) if duration is not None else None,
        duration_s=duration, plan=plan, agents=agents, agent_count=len(agents), **extra,
    )  # fmt: skip


def agent(subtask: str, state: AgentState = AgentState.RUNNING, **extra: object) -> AgentRecord:
    return AgentRecord(subtask=subtask, agent=f"{subtask}-agent", prompt=f"do {subtask}",
                       state=state, started_at=T0, **extra)  # fmt: skip


def event(state: str, kind: str = "session", **extra: Any) -> SessionEvent:
    return SessionEvent(at=T0, kind=kind, state=state, **extra)


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive(tmp_path / "data" / "archive.sqlite3")


def finished(tmp_path: Path) -> SessionRecord:
    out = tmp_path / "outputs" / "s1-research.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text("Full findings: the flamingo migration data\n" * 50)
    return make_session(
        state=SessionState.COMPLETED, partial=True, duration=95.0, summary="Revenue grew 4%",
        failed_subtasks=("write",), tokens=Tokens(input=100, output=50), cost_usd=0.0123,
        agents=(
            agent("research", AgentState.SUCCEEDED, output_path=str(out), duration_s=60.0,
                  output_preview="Full findings", tokens=Tokens(input=100, output=50),
                  cost_usd=0.0123, model="claude-sonnet-4", cost_source="claude-cli",
                  cost_note="Claude Code's prices; the price table's: $0.012000"),
            agent("write", AgentState.FAILED, error="writer exited with 3 | oops"),
        ),
    )  # fmt: skip


def test_a_session_reads_back_exactly_as_recorded(archive: Archive, tmp_path: Path) -> None:
    record = finished(tmp_path)
    archive.record(record, event("COMPLETED"))
    assert archive.get("s1").to_json() == record.to_json()


def test_sessions_are_written_as_they_run(archive: Archive, tmp_path: Path) -> None:
    running = make_session(agents=(agent("research"), agent("write", AgentState.PENDING)))
    archive.record(running, event("RUNNING"))
    other_reader = Archive(archive.path)
    assert other_reader.get("s1").state is SessionState.RUNNING
    assert [a.state for a in other_reader.get("s1").agents] == ["RUNNING", "PENDING"]
    archive.record(finished(tmp_path), event("COMPLETED"))
    assert other_reader.get("s1").state is SessionState.COMPLETED
    assert [e.state for e in other_reader.events("s1")] == ["RUNNING", "COMPLETED"]


def test_event_log_keeps_controls_with_their_reason(archive: Archive) -> None:
    archive.record(make_session(), event("RUNNING"))
    archive.record(make_session(), event("pause", kind="control", reason="user"))
    archive.record(make_session(), event("cancel", kind="control", subtask="a", reason="SIGINT"))
    log = archive.events("s1")
    assert [(e.kind, e.subtask, e.state, e.reason) for e in log] == [
        ("session", None, "RUNNING", None),
        ("control", None, "pause", "user"),
        ("control", "a", "cancel", "SIGINT"),
    ]


def test_outputs_are_kept_as_files_with_their_sha256(archive: Archive, tmp_path: Path) -> None:
    record = finished(tmp_path)
    archive.record(record)
    path = Path(record.agents[0].output_path or "")
    assert archive.output_sha256("s1", "research") == hashlib.sha256(path.read_bytes()).hexdigest()
    assert archive.output_sha256("s1", "write") is None


def test_search_covers_task_summary_and_outputs_newest_first(
    archive: Archive, tmp_path: Path
) -> None:
    archive.record(finished(tmp_path))
    archive.record(make_session("s2", task="plan the flamingo exhibit"))
    archive.record(make_session("s3", task="unrelated"))
    assert [s.id for s in archive.list_sessions(search="flamingo")] == ["s2", "s1"]
    assert [s.id for s in archive.list_sessions(search="revenue")] == ["s1"]
    assert [s.id for s in archive.list_sessions(search="quarterly")] == ["s1"]
    assert [s.id for s in archive.list_sessions(search="flam")] == ["s2", "s1"]  # as you type
    assert [s.id for s in archive.list_sessions(search="flamingo exhibit")] == ["s2"]
    assert archive.list_sessions(search="zebra") == []
    assert archive.list_sessions(search='"(*') == []  # no word to look for: nothing matches


def test_list_pages_and_filters(archive: Archive, tmp_path: Path) -> None:
    for i in range(5):
        archive.record(make_session(f"s{i}", state=SessionState.COMPLETED, duration=1.0))
    archive.record(make_session("live"))
    assert [s.id for s in archive.list_sessions(limit=2)] == ["live", "s4"]
    assert [s.id for s in archive.list_sessions(limit=2, offset=2)] == ["s3", "s2"]
    assert [s.id for s in archive.list_sessions(state="running")] == ["live"]
    summary = archive.list_sessions(limit=1, offset=1)[0]
    assert (summary.item, summary.state, summary.duration_s) == ("analyst", "COMPLETED", 1.0)


def test_get_by_unique_prefix_or_suffix_and_clear_errors(archive: Archive) -> None:
    archive.record(make_session("abc-1"))
    archive.record(make_session("abd-2"))
    assert archive.get("abc").id == "abc-1"
    assert archive.get("d-2").id == "abd-2"  # the monitor shows ids' ends
    with pytest.raises(InputError, match="ambiguous: abc-1, abd-2"):
        archive.get("ab")
    with pytest.raises(InputError, match="no session with id 'zz'"):
        archive.get("zz")


def test_item_stats_need_three_real_sessions_and_ignore_interruptions(archive: Archive) -> None:
    for i, (state, minutes) in enumerate(
        [("COMPLETED", 2), ("COMPLETED", 4), ("FAILED", 9), ("INTERRUPTED", 50)]
    ):
        archive.record(
            make_session(f"a{i}", SessionState(state), duration=minutes * 60.0, backend="claude")
        )
    for i in range(2):
        archive.record(make_session(f"b{i}", SessionState.COMPLETED, item="rare", duration=6.0))
    for i in range(4):  # simulated: says nothing real about the item
        archive.record(make_session(f"c{i}", SessionState.COMPLETED, item="demoed", duration=1.0))
    stats = archive.item_stats()
    assert set(stats) == {"analyst@market"}
    analyst = stats["analyst@market"]
    assert analyst.sessions == 3
    assert analyst.avg_session_minutes == pytest.approx(3.0)
    assert analyst.completion_rate == pytest.approx(2 / 3)


def test_files_are_private_to_the_user(archive: Archive) -> None:
    archive.record(make_session())
    found = list(archive.path.parent.rglob("*"))
    assert {p.name for p in found} >= {"archive.sqlite3", "owners"}  # and the owner's lock
    for path in (archive.path.parent, *found):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path


def test_archive_is_wal_and_passes_integrity_checks(archive: Archive, tmp_path: Path) -> None:
    archive.record(make_session())
    archive.record(finished(tmp_path))
    conn = sqlite3.connect(archive.path, isolation_level=None)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.execute("INSERT INTO session_text(session_text) VALUES ('integrity-check')")


def test_heartbeat_keeps_alive_until_cancelled(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    beats: list[float] = []

    async def beat_until_three() -> None:
        three = anyio.Event()
        beat = archive.heartbeat

        def counted() -> None:
            beat()
            beats.append(time.time())
            if len(beats) == 3:  # it keeps beating: not just once
                three.set()

        monkeypatch.setattr(archive, "heartbeat", counted)
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(keep_alive, archive, 0.01)
                await three.wait()
                tg.cancel_scope.cancel()

    anyio.run(beat_until_three)
    conn = sqlite3.connect(archive.path)
    ((pid, last),) = conn.execute("SELECT pid, heartbeat_at FROM owner_locks").fetchall()
    assert pid == os.getpid() and last == pytest.approx(beats[-1], abs=1)
    anyio.run(anyio.sleep, 0.05)
    assert len(beats) == 3  # cancelled: no beat after


def test_reader_sees_only_committed_states(archive: Archive) -> None:
    """Each record changes the session and all its agents together; a reader never sees a mix."""
    agents = tuple(agent(f"a{i}") for i in range(4))
    archive.record(make_session(agents=agents, summary="0"))
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            moved = tuple(a.model_copy(update={"step": str(n)}) for a in agents)
            archive.record(make_session(agents=moved, summary=str(n), version=n), event("RUNNING"))

    writer = threading.Thread(target=write)
    writer.start()
    reader = Archive(archive.path)
    seen = set()
    try:
        for _ in range(300):
            record = reader.get("s1")
            steps = {a.step for a in record.agents if a.step}
            assert steps <= {record.summary}, (record.summary, steps)
            seen.add(record.summary)
    finally:
        stop.set()
        writer.join()
    assert len(seen) > 1  # the writer really was writing meanwhile


def test_reader_is_not_blocked_by_an_open_write(archive: Archive) -> None:
    archive.record(make_session())
    writer = sqlite3.connect(archive.path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE sessions SET state = 'FAILED'")
    conn = sqlite3.connect(archive.path, isolation_level=None, timeout=0)
    assert conn.execute("SELECT state FROM sessions").fetchone() == ("RUNNING",)
    assert archive.list_sessions()[0].state is SessionState.RUNNING
    writer.execute("COMMIT")
    assert archive.list_sessions()[0].state is SessionState.FAILED


def test_markdown_report_is_readable(tmp_path: Path) -> None:
    text = session_markdown(finished(tmp_path))
    assert text.startswith("# analyst@market: COMPLETED (partial)")
    for part in (
        "**Task:** summarise the quarterly report",
        "## Plan (parallel)",
        "| research | research-agent | — | do research |",
        "## Failures",
        "- `write`: writer exited with 3 \\| oops",
        "### research — research-agent: SUCCEEDED",
        "- Tokens: 150 (input 100, output 50, cache read 0, cache write 0)",
        "- Cost: $0.0123",
        "## Summary",
    ):
        assert part in text, part


# --- schema versions ---------------------------------------------------------------------


def test_migration_from_v1_keeps_everything_and_indexes_it(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    shutil.copy(FIXTURES / "archive_v1.sqlite3", path)
    archive = Archive(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    record = archive.get("s-finished")
    assert (record.state, record.partial, record.duration_s) == ("COMPLETED", True, 270.0)
    assert record.tokens.total == 2000 and record.cost_usd == 0.042
    assert [(a.subtask, a.state) for a in record.agents] == [
        ("research", "SUCCEEDED"),
        ("draft", "FAILED"),
    ]
    assert record.plan is not None and len(record.plan.subtasks) == 2
    assert [e.state for e in archive.events("s-finished-0001")] == [
        "RUNNING",
        "FAILED",
        "COMPLETED",
    ]
    assert [s.id for s in archive.list_sessions()] == ["s-running-0002", "s-finished-0001"]
    assert [s.id for s in archive.list_sessions(search="swansea")] == ["s-finished-0001"]
    assert [s.id for s in archive.list_sessions(search="lagoons")] == ["s-finished-0001"]
    assert [s.id for s in archive.list_sessions(search="turbines")] == ["s-running-0002"]
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    archive.close()
    assert Archive(path).get("s-running").state is SessionState.RUNNING  # reopening: no-op


def test_migration_to_v3_makes_negative_token_counts_zero(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    shutil.copy(FIXTURES / "archive_v1.sqlite3", path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE agents SET tok_input = -500 WHERE subtask = 'research'")
    conn.execute("UPDATE sessions SET tok_input = tok_input - 10000")
    conn.commit()
    record = Archive(path).get("s-finished")  # would not validate with a negative count
    research = record.agent("research")
    assert research is not None and research.tokens.input == 0
    assert record.tokens.input == 0


def test_migration_to_v6_makes_every_session_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "archive.sqlite3"
    shutil.copy(FIXTURES / "archive_v1.sqlite3", path)
    with monkeypatch.context() as at_v5:
        at_v5.setattr(archive_schema, "MIGRATIONS", archive_schema.MIGRATIONS[:5])
        at_v5.setattr(archive_schema, "SCHEMA_VERSION", 5)
        archive_schema.migrate(sqlite3.connect(path, isolation_level=None), path)
    conn = sqlite3.connect(path)
    assert "engine" not in [row[1] for row in conn.execute("PRAGMA table_info(sessions)")]
    archive = Archive(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (6,)
    assert archive.get("s-finished").engine == archive.get("s-running").engine == "local"
    assert archive.live_ids("local") == ["s-running-0002"] and archive.live_ids("temporal") == []


def test_failed_migration_leaves_the_old_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "archive.sqlite3"
    shutil.copy(FIXTURES / "archive_v1.sqlite3", path)

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE sessions ADD COLUMN half_done TEXT")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(archive_schema, "MIGRATIONS", (*archive_schema.MIGRATIONS, broken))
    monkeypatch.setattr(archive_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(RuntimeError):
        archive_schema.migrate(sqlite3.connect(path, isolation_level=None), path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (1,)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(sessions)")]
    assert "half_done" not in columns and "indexed" not in columns


def test_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = path.read_bytes(), path.stat().st_mtime_ns
    with pytest.raises(NewerArchiveError) as refused:
        Archive(path)
    message = str(refused.value)
    assert str(path) in message
    assert f"version {SCHEMA_VERSION + 1}" in message and f"version {SCHEMA_VERSION})" in message
    assert isinstance(refused.value, InputError)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.sqlite3"]


def test_a_file_that_is_not_an_archive_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    path.write_text(json.dumps({"not": "sqlite"}) * 200)
    before = path.read_bytes()
    with pytest.raises(InputError, match="not a readable cowork-tui archive"):
        Archive(path)
    assert path.read_bytes() == before
