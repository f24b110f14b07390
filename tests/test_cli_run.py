"""`cowork-tui run --json` end to end, through the real command line, on command agents."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from cowork_tui.cli.progress import progress_table
from cowork_tui.cli.run import describe_result

from .marketplaces import cli, prepared_home, write_marketplace
from .ui_fixtures import RUNNING

ITEMS: dict[str, dict[str, Any]] = {
    "capped": {
        "agents": {
            f"w{i}": {"command": "echo start >> log; sleep 0.4; echo end >> log; echo done"}
            for i in range(5)
        },
        "cowork": {
            "maxParallelAgents": 2,
            "workflow": [{"id": f"w{i}", "agent": f"w{i}"} for i in range(5)],
        },
    },
    "piped": {
        "agents": {
            "writer": {"command": "echo hello from $COWORK_AGENT"},
            "shouter": {"command": "tr a-z A-Z"},
        },
        "cowork": {
            "workflow": [
                {"id": "write", "agent": "writer"},
                {"id": "shout", "agent": "shouter", "after": ["write"]},
            ]
        },
    },
    "partial": {
        "agents": {
            "breaks": {"command": "echo about to fail >&2; exit 3"},
            "works": {"command": "echo fine"},
            "needs": {"command": "echo never"},
        },
        "cowork": {
            "workflow": [
                {"id": "bad", "agent": "breaks"},
                {"id": "good", "agent": "works"},
                {"id": "after-bad", "agent": "needs", "after": ["bad"]},
            ]
        },
    },
    "stubborn": {
        "agents": {
            "hangs": {"command": "trap '' TERM; sleep 30", "timeout": 1},
            "quick": {"command": "echo quick"},
        },
        "cowork": {
            "workflow": [{"id": "hang", "agent": "hangs"}, {"id": "quick", "agent": "quick"}]
        },
    },
    "needy": {
        "agents": {"solo": {"command": "echo ran > ran"}},
        "cowork": {"requires": ["sh", "cowork-no-such-tool"]},
    },
    "forks": {
        "agents": {
            "spawner": {
                "command": "sleep 60 & echo $! >> pids; sh -c 'sleep 60 & echo $! >> pids; wait' & "
                "echo $! >> pids; echo $$ >> pids; wait"
            }
        },
    },
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepared_home(tmp_path_factory, ITEMS)


def run_json(home: Path, item: str, cwd: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    done = cli(home, "run", item, "a task", "--json", "--cwd", str(cwd), *extra)
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_parallel_cap_holds_exactly(home: Path, tmp_path: Path) -> None:
    code, record = run_json(home, "capped", tmp_path)
    assert code == 0 and record["state"] == "COMPLETED" and not record["partial"]
    running = peak = 0
    for line in (tmp_path / "log").read_text().split():
        running += 1 if line == "start" else -1
        peak = max(peak, running)
    assert peak == 2
    assert record["max_parallel"] == 2 and record["agent_count"] == 5
    assert record["backend"] == "command"  # no model agent: nothing simulated, whatever `auto` is


def test_max_parallel_flag_overrides_the_item(home: Path, tmp_path: Path) -> None:
    code, record = run_json(home, "capped", tmp_path, "--max-parallel", "1")
    assert code == 0 and record["max_parallel"] == 1
    assert (tmp_path / "log").read_text().split() == ["start", "end"] * 5


def test_the_local_engine_runs_the_session_whatever_the_temporal_address(
    home: Path, tmp_path: Path
) -> None:
    code, record = run_json(
        home, "piped", tmp_path, "--engine", "local", "--temporal-address", "127.0.0.1:1"
    )
    assert code == 0 and record["state"] == "COMPLETED" and record["engine"] == "local"


def test_upstream_output_reaches_the_next_agent_on_stdin(home: Path, tmp_path: Path) -> None:
    code, record = run_json(home, "piped", tmp_path)
    assert code == 0
    shout = next(a for a in record["agents"] if a["subtask"] == "shout")
    assert "HELLO FROM WRITER" in shout["output_preview"]
    assert record["plan"]["pattern"] == "sequential"


def test_failure_leaves_siblings_and_skips_dependents(home: Path, tmp_path: Path) -> None:
    code, record = run_json(home, "partial", tmp_path)
    states = {a["subtask"]: a["state"] for a in record["agents"]}
    assert states == {"bad": "FAILED", "good": "SUCCEEDED", "after-bad": "SKIPPED"}
    assert code == 3 and record["state"] == "COMPLETED" and record["partial"]
    assert "bad" in record["failed_subtasks"]
    bad = next(a for a in record["agents"] if a["subtask"] == "bad")
    assert "about to fail" in bad["error"]


def test_agent_ignoring_sigterm_times_out_within_timeout_and_grace(
    home: Path, tmp_path: Path
) -> None:
    code, record = run_json(home, "stubborn", tmp_path)
    hang = next(a for a in record["agents"] if a["subtask"] == "hang")
    assert hang["state"] == "TIMED_OUT"
    assert hang["duration_s"] < 1 + 0.5 + 1.0  # timeout + grace + slack for a busy machine
    assert code == 3


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP], ids=["SIGINT", "SIGHUP"])
def test_signal_cancels_and_leaves_no_grandchild(
    home: Path, tmp_path: Path, signum: signal.Signals
) -> None:
    env = os.environ | {"COWORK_TUI_HOME": str(home)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cowork_tui",
            "run",
            "forks",
            "a task",
            "--json",
            "--cwd",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    pids_file = tmp_path / "pids"
    deadline = time.monotonic() + 30
    while len(pids_file.read_text().split() if pids_file.exists() else []) < 4:
        assert time.monotonic() < deadline, "agent never started"
        time.sleep(0.05)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert json.loads(out)["state"] == "CANCELLED"
    for pid in map(int, pids_file.read_text().split()):
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), f"process {pid} survived"


# `cowork-tui ARGS...` that sends itself SIGNUM at the earliest moment: as soon as the
# session exists (its row is in the archive), before anything else runs
SIGNAL_AT_LAUNCH = """\
import os, sys
from cowork_tui.cli import main
from cowork_tui.core.engine.local import LocalEngine

launch = LocalEngine.launch


def launch_then_signal(self, request):
    session_id = launch(self, request)
    os.kill(os.getpid(), int(sys.argv[1]))
    return session_id


LocalEngine.launch = launch_then_signal
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_as_the_session_starts_cancels_it(
    home: Path, tmp_path: Path, signum: signal.Signals
) -> None:
    script = tmp_path / "signal_at_launch.py"
    script.write_text(SIGNAL_AT_LAUNCH)
    root = Path(__file__).parents[1]  # the cowork_tui under test
    args = ["run", "piped", "a task", "--json", "--cwd", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, str(script), str(int(signum)), *args],
        capture_output=True, text=True, timeout=120,
        env=os.environ | {"COWORK_TUI_HOME": str(home), "PYTHONPATH": str(root)},
    )  # fmt: skip
    assert done.returncode == 130, done.stderr
    record = json.loads(done.stdout)
    assert record["state"] == "CANCELLED" and record["error"] == f"cancelled ({signum.name})"
    shown = cli(home, "history", "show", record["id"], "--json")
    assert json.loads(shown.stdout)["state"] == "CANCELLED"


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_missing_requirement_fails_the_session_before_anything_runs(
    home: Path, tmp_path: Path
) -> None:
    code, record = run_json(home, "needy", tmp_path)
    assert code == 1 and record["state"] == "FAILED"
    assert "'cowork-no-such-tool' not found on PATH" in record["error"]
    assert "'sh'" not in record["error"]
    assert not (tmp_path / "ran").exists()


def test_unknown_item_is_a_usage_error(home: Path, tmp_path: Path) -> None:
    done = cli(home, "run", "no-such-item", "x", "--json")
    assert done.returncode == 2
    assert "no-such-item" in done.stderr and "Traceback" not in done.stderr


def test_item_stats_come_from_local_history_once_there_are_a_few(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = tmp_path_factory.mktemp("statshome")
    items = {
        "piped": ITEMS["piped"]
        | {"cowork": ITEMS["piped"]["cowork"] | {"completionRate": 0.5, "avgSessionMinutes": 12}}
    }
    cli(home, "marketplace", "add", str(write_marketplace(tmp_path_factory.mktemp("m"), items)))
    cli(home, "install", "--yes", "piped@testmarket")

    def stats() -> dict[str, Any]:
        listing = json.loads(cli(home, "marketplace", "list", "--json").stdout)
        found: dict[str, Any] = next(i for i in listing if i["ref"] == "piped@testmarket")
        return found["stats"]  # type: ignore[no-any-return]

    assert stats() == {
        "avgSessionMinutes": 12,
        "completionRate": 0.5,
        "sessions": 0,
        "source": "published",
    }
    for _ in range(3):
        assert run_json(home, "piped", tmp_path_factory.mktemp("cwd"))[0] == 0
    local = stats()
    assert local["source"] == "local history" and local["sessions"] == 3
    assert local["completionRate"] == 1.0 and local["avgSessionMinutes"] < 1


def test_live_progress_shows_agent_steps_verbatim() -> None:
    step = "[/b] brackets [red]stay[/red]"  # markup in an agent's step must not crash or vanish
    running = RUNNING.agents[1].model_copy(update={"step": step})
    record = RUNNING.model_copy(update={"agents": (RUNNING.agents[0], running)})
    console = Console(width=300, record=True, file=io.StringIO())
    console.print(progress_table(record))
    assert step in console.export_text()


def test_invalid_input_exits_2_before_any_session(tmp_path: Path) -> None:
    home = tmp_path / "home"
    broken = {"agents": {"a": {"command": "echo hi"}}, "cowork": {"maxParallelAgents": 0}}
    market = write_marketplace(tmp_path / "market", {"broken": broken, **ITEMS})
    assert cli(home, "marketplace", "add", str(market)).returncode == 0
    empty_task = cli(home, "run", "repo-health", "  ")
    assert empty_task.returncode == 2 and "task: must not be empty" in empty_task.stderr
    broken_item = cli(home, "run", "broken@testmarket", "a task")
    assert broken_item.returncode == 2
    assert "marketplace.json: plugins[0].cowork.maxParallelAgents" in broken_item.stderr
    assert json.loads(cli(home, "history", "list", "--json").stdout) == []


def test_the_printed_result_cannot_drive_the_terminal() -> None:
    record = RUNNING.model_copy(update={"summary": "done\x1b[2J\x1b]0;pwned\x07\x9b\ttab\nnext"})
    text = describe_result(record)
    assert "\x1b" not in text and "\x07" not in text
    assert text.endswith("done\ttab\nnext")  # the sequences go whole, not just their ESC


def test_an_unusable_data_folder_is_reported_plainly(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    done = cli(tmp_path, "history", "list")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("cowork-tui: ") and str(tmp_path / "data") in done.stderr
    assert "internal error" not in done.stderr


def test_an_unusable_archive_stops_only_the_commands_that_read_it(tmp_path: Path) -> None:
    (tmp_path / "data" / "archive.sqlite3").mkdir(parents=True)
    problem = "archive.sqlite3: cannot use the archive (unable to open database file)"
    for args in (("history", "list"), ("marketplace", "list", "--json")):
        done = cli(tmp_path, *args)
        assert done.returncode == 2 and problem in done.stderr and "internal" not in done.stderr
    listed = cli(tmp_path, "marketplace", "list")
    assert listed.returncode == 0 and "repo-health" in listed.stdout
    assert f"warning: {tmp_path / 'data' / problem}" in listed.stderr
