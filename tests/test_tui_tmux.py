"""The real app in a real terminal (tmux), driven by keys as a user would: launch, pause (the
agent processes really stop), resume, cancel, history, quit; and the terminal closing."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cowork_tui.core.procs import process_state

from .marketplaces import cli, prepared_home

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

TICKING = "echo $$ >> pids; while :; do echo tick; sleep 0.2; done"
ITEMS = {
    "ticking": {
        "agents": {"one": {"command": TICKING}, "two": {"command": TICKING}},
        "cowork": {"workflow": [{"id": "one", "agent": "one"}, {"id": "two", "agent": "two"}]},
    }
}


class Terminal:
    """One tmux session on a socket of its own, running cowork-tui."""

    def __init__(self, home: Path, cwd: Path, *args: str) -> None:
        self.socket = f"cowork-tui-test-{os.getpid()}-{time.monotonic_ns()}"
        env = f"COWORK_TUI_HOME={home} HOME={home}"
        command = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "cowork_tui", *args))
        self.tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "40", "-c", str(cwd),
                  f"env {env} {command}")  # fmt: skip

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t").stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def app_pid(self) -> int:
        return int(self.tmux("display-message", "-p", "-t", "t", "#{pane_pid}").stdout)

    def alive(self) -> bool:
        return self.tmux("has-session", "-t", "t").returncode == 0

    def close(self) -> None:
        self.tmux("kill-server")


def until(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.1)


def agent_pids(cwd: Path) -> list[int]:
    file = cwd / "pids"
    return [int(pid) for pid in file.read_text().split()] if file.exists() else []


def states(pids: list[int]) -> set[str]:
    return {process_state(pid) or "gone" for pid in pids}


@pytest.fixture
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepared_home(tmp_path_factory, ITEMS)


@pytest.fixture
def launched(home: Path, tmp_path: Path) -> Iterator[Terminal]:
    terminal = Terminal(home, tmp_path, "launch", "ticking@testmarket", "tick away")
    app = terminal.app_pid()
    try:
        until(lambda: len(agent_pids(tmp_path)) == 2, "both agents started")
        yield terminal
    finally:
        terminal.close()
        if states([app]) - {"gone", "Z"}:  # a failed test leaves nothing behind
            os.kill(app, signal.SIGKILL)


def test_launch_pause_resume_cancel_history_quit(launched: Terminal, tmp_path: Path) -> None:
    pids = agent_pids(tmp_path)
    until(lambda: "RUNNING" in launched.screen(), "the monitor shows the session running")
    launched.keys("p")
    until(lambda: states(pids) == {"T"}, "every agent process stopped")
    until(lambda: "PAUSED" in launched.screen(), "the monitor shows PAUSED")
    launched.keys("r")
    until(lambda: "T" not in states(pids), "the agents run again")
    launched.keys("c")
    until(lambda: "Cancel session" in launched.screen(), "cancel asks first")
    launched.keys("y")
    until(lambda: states(pids) <= {"gone", "Z"}, "no agent process left")
    until(lambda: "CANCELLED" in launched.screen(), "the monitor shows CANCELLED")
    launched.keys("3")
    until(lambda: "ticking@testmarket" in launched.screen(), "history lists the session")
    assert "CANCELLED" in launched.screen()
    launched.keys("q")
    until(lambda: not launched.alive(), "the app quit")


def test_closing_the_terminal_interrupts_the_session(
    launched: Terminal, home: Path, tmp_path: Path
) -> None:
    pids, app = agent_pids(tmp_path), launched.app_pid()
    launched.close()  # SIGHUP, as when the terminal window closes
    until(lambda: states([app]) <= {"gone", "Z"}, "the app exited")  # not hung on the dead tty

    def archived_interrupted() -> bool:
        sessions = json.loads(cli(home, "history", "list", "--json").stdout)
        return [s["state"] for s in sessions] == ["INTERRUPTED"]

    until(archived_interrupted, "the session archived as INTERRUPTED")
    until(lambda: states(pids) <= {"gone", "Z"}, "no agent process left")
