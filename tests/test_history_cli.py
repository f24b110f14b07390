"""`history` through the real command line, and kill -9 of a real `cowork-tui run`."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cowork_tui.cli.history import describe_sessions
from cowork_tui.core.archive.queries import SessionSummary
from cowork_tui.core.archive.schema import SCHEMA_VERSION
from cowork_tui.core.models import SessionState

from .marketplaces import cli, prepared_home

ITEMS: dict[str, dict[str, Any]] = {
    "sleepy": {
        "agents": {
            "forker": {
                "command": "sleep 60 & echo $! >> pids; sh -c 'sleep 60 & echo $! >> pids; wait' & "
                "echo $! >> pids; echo $$ >> pids; wait"
            },
            "quick": {"command": "echo quick result"},
        },
        "cowork": {
            "workflow": [{"id": "fork", "agent": "forker"}, {"id": "quick", "agent": "quick"}]
        },
    },
    "talky": {"agents": {"talker": {"command": "echo the story so far; sleep 60"}}},
    "fast": {
        "agents": {
            "first": {"command": "echo pelican findings"},
            "second": {"command": "echo second part; exit 4"},
        },
        "cowork": {"workflow": [{"id": "one", "agent": "first"}, {"id": "two", "agent": "second"}]},
    },
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepared_home(tmp_path_factory, ITEMS)


def history(home: Path, *args: str) -> Any:
    done = cli(home, "history", *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def archive_file(home: Path) -> Path:
    return home / "data" / "archive.sqlite3"


def processes_in(folder: Path) -> list[int]:
    """Live (non-zombie) processes working in `folder`: the agents of one run."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(entry / "cwd")) == folder:
                stat = (entry / "stat").read_text()
                if stat.rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_kill_9_of_run_at_random_points(home: Path, tmp_path: Path) -> None:
    rng = random.Random(7)
    interrupted = 0
    for i in range(20):
        folder = tmp_path / f"run{i}"
        folder.mkdir()
        task = f"crash run {i}"
        run = subprocess.Popen(
            [sys.executable, "-m", "cowork_tui", "run", "sleepy", task, "--json",
             "--cwd", str(folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=os.environ | {"COWORK_TUI_HOME": str(home)},
        )  # fmt: skip
        time.sleep(rng.uniform(0.2, 2.5))  # before, while and after the agents start
        run.kill()
        run.wait()
        sessions = [s for s in history(home, "list", "--limit", "100") if s["task"] == task]
        conn = sqlite3.connect(archive_file(home))
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",), f"run {i}"
        conn.close()
        deadline = time.monotonic() + 10
        while processes_in(folder):
            assert time.monotonic() < deadline, f"run {i}: {processes_in(folder)} survived"
            time.sleep(0.05)
        if sessions:
            (session,) = sessions
            assert session["state"] == "INTERRUPTED", f"run {i}"
            record = history(home, "show", session["id"])
            quick = next((a for a in record["agents"] if a["subtask"] == "quick"), None)
            if quick and quick["state"] == "SUCCEEDED":
                assert "quick result" in quick["output_preview"]
            interrupted += 1
    assert interrupted >= 5  # most kills land while the session runs


def test_a_killed_run_keeps_what_its_agents_wrote(home: Path, tmp_path: Path) -> None:
    run = subprocess.Popen(
        [sys.executable, "-m", "cowork_tui", "run", "talky", "tell", "--cwd", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=os.environ | {"COWORK_TUI_HOME": str(home)},
    )  # fmt: skip
    outputs = home / "data" / "outputs"
    deadline = time.monotonic() + 30
    while not any("story" in f.read_text() for f in outputs.glob("*/talker.txt")):
        assert time.monotonic() < deadline, "the agent never wrote"
        time.sleep(0.05)
    run.kill()
    run.wait()
    (session,) = [s for s in history(home, "list") if s["task"] == "tell"]
    (talker,) = history(home, "show", session["id"])["agents"]
    assert session["state"] == "INTERRUPTED" and talker["state"] == "INTERRUPTED"
    assert talker["output_preview"] == "the story so far\n"
    assert Path(talker["output_path"]).read_text() == "the story so far\n"


def test_history_list_show_and_export(home: Path, tmp_path: Path) -> None:
    done = cli(home, "run", "fast", "study the pelican colony", "--json", "--cwd", str(tmp_path))
    assert done.returncode == 3, done.stderr  # one agent failed: partial
    ran = json.loads(done.stdout)
    listed = history(home, "list", "--search", "pelican")
    assert [s["id"] for s in listed] == [ran["id"]]
    summary = listed[0]
    for key in ("id", "item", "marketplace", "task", "state", "partial", "started_at",
                "ended_at", "duration_s", "cost_usd", "tokens", "agent_count"):  # fmt: skip
        assert key in summary, key
    assert (summary["state"], summary["partial"], summary["agent_count"]) == ("COMPLETED", True, 2)
    assert history(home, "show", ran["id"][:-2]) == ran  # by a unique prefix, exactly the record
    markdown = cli(home, "history", "show", ran["id"], "--markdown")
    assert markdown.returncode == 0
    assert markdown.stdout.startswith("# fast@testmarket: COMPLETED (partial)")
    assert "## Failures" in markdown.stdout and "pelican findings" in markdown.stdout
    text = cli(home, "history", "show", ran["id"])
    assert ran["id"] in text.stdout and "events:" in text.stdout
    table = cli(home, "history", "list", "--limit", "1")
    assert table.stdout.splitlines()[0].split()[:2] == ["ID", "STARTED"]
    assert ran["id"] in table.stdout


def test_unknown_id_is_a_usage_error(home: Path) -> None:
    done = cli(home, "history", "show", "no-such-session")
    assert done.returncode == 2
    assert "no-such-session" in done.stderr and "Traceback" not in done.stderr


def test_newer_archive_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = archive_file(tmp_path)
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    before = path.read_bytes()
    done = cli(tmp_path, "history", "list")
    assert done.returncode == 2
    assert str(path) in done.stderr and f"version {SCHEMA_VERSION + 5}" in done.stderr
    assert "Traceback" not in done.stderr
    assert path.read_bytes() == before


def test_history_list_keeps_each_session_on_one_line() -> None:
    task = "fix the parser\n\n" + "and then the lexer " * 10
    row = SessionSummary(
        id="20260102-030405-abc123", item="repo-health", marketplace="cowork-tui", task=task,
        state=SessionState.COMPLETED, partial=False, backend="command", started_at=None,
        ended_at=None, duration_s=1.0, cost_usd=0.0, tokens=0, agent_count=2,
    )  # fmt: skip
    listing = describe_sessions([row])
    line = listing.splitlines()[1]
    assert line.endswith("  fix the parser and then the lexer and then the lexer and th…")
