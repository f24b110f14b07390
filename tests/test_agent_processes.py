"""An agent's processes that leave its group (a double fork, setsid) and drop COWORK_SESSION_ID
still end with the agent — cancelled, done or failed — and leave no zombie (DESIGN §7)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cowork_tui import cli
from cowork_tui.core import procs
from cowork_tui.core.models import AgentState, SessionRecord, SessionState
from cowork_tui.core.procs import (
    ProcessInfo,
    descendants,
    is_same_process,
    process_start_time,
    process_table,
    session_processes,
    signal_each,
)
from tests.engine_support import (
    agent_line,
    command,
    item_of,
    plan_of,
    request,
    running_engine,
    step,
    until,
)

pytestmark = pytest.mark.anyio

A, S = AgentState, SessionState

# a process that leaves the agent's group and session, loses its parent and its label, and
# tells the agent its pid (through a FIFO: the agent waits for it) before the agent goes on
ESCAPE = (
    "mkfifo escaped; "
    "( setsid env -u COWORK_SESSION_ID sh -c 'echo $$ > escaped; exec sleep 60' & ); "
    "read pid < escaped; echo $pid; "
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def escapees() -> Iterator[list[ProcessInfo]]:
    """The escaped processes a test found; any left (the code under test failed) is killed."""
    found: list[ProcessInfo] = []
    yield found
    signal_each(found, signal.SIGKILL)


def escaped(record: SessionRecord, found: list[ProcessInfo]) -> ProcessInfo:
    """The process the agent printed, checked to have really escaped: another group, no
    COWORK_SESSION_ID, not the child of the agent's shell."""
    pid = int(agent_line(record, "a") or 0)
    info = process_table()[pid]
    found.append(info)
    agent = record.agent("a")
    assert agent is not None and agent.pgid is not None
    assert info.pgid == pid != agent.pgid and info.ppid != agent.pgid
    assert pid not in session_processes(record.id)
    return info


def vanished(info: ProcessInfo) -> bool:
    """Ended and reaped: no process, not even a zombie, has its pid and start time."""
    return process_start_time(info.pid) != info.started


async def test_an_escaped_process_ends_when_its_session_is_cancelled(
    tmp_path: Path, escapees: list[ProcessInfo]
) -> None:
    req = request(item_of(command("a", ESCAPE + "exec sleep 60")), plan_of(step("a")), cwd=tmp_path)
    async with running_engine() as engine:
        sid = engine.launch(req)
        running = await until(engine, sid, lambda r: agent_line(r, "a") is not None)
        process = escaped(running, escapees)
        engine.cancel(sid)
        record = await engine.wait(sid)
    assert record.state is S.CANCELLED
    assert vanished(process)


@pytest.mark.parametrize(
    ("end", "state"), [("exit 0", A.SUCCEEDED), ("exit 3", A.FAILED)], ids=["done", "failed"]
)
async def test_an_escaped_process_ends_with_its_agent(
    tmp_path: Path, escapees: list[ProcessInfo], end: str, state: AgentState
) -> None:
    req = request(item_of(command("a", ESCAPE + end)), plan_of(step("a")), cwd=tmp_path)
    async with running_engine() as engine:
        sid = engine.launch(req)
        running = await until(engine, sid, lambda r: agent_line(r, "a") is not None)
        process = escaped(running, escapees)
        ended = await until(engine, sid, lambda r: r.agent("a").state.terminal)  # type: ignore[union-attr]
        assert ended.agent("a").state is state  # type: ignore[union-attr]
        assert vanished(process)  # when its agent ends, not only with the session
        await engine.wait(sid)


def test_the_process_tree_never_names_a_reused_pid() -> None:
    shell = subprocess.Popen(["sh", "-c", "sleep 60 & echo $!; wait"], stdout=subprocess.PIPE)
    try:
        assert shell.stdout is not None
        child = int(shell.stdout.readline())
        started = process_start_time(shell.pid)
        assert started is not None
        (below,) = descendants(shell.pid, started)
        assert below.pid == child and below.ppid == shell.pid
        assert descendants(shell.pid, started + 1) == []  # that pid, another process
        signal_each([replace(below, started=below.started + 1)], signal.SIGKILL)
        assert is_same_process(child, below.started)  # not signalled: not the one found
        signal_each([below], signal.SIGKILL)
        assert shell.wait(timeout=10) == 0  # its `wait` returned: the child was killed
    finally:
        shell.kill()
        shell.wait()


def test_a_subreaper_adopts_and_reaps_what_its_children_orphan() -> None:
    code = (
        "import os, subprocess, signal\n"
        "from cowork_tui.core.procs import become_subreaper, process_table, reap, signal_each\n"
        "print(become_subreaper())\n"
        "out = subprocess.run(['sh', '-c', '(sleep 60 >/dev/null 2>&1 & echo $!)'], "
        "capture_output=True, text=True).stdout\n"
        "orphan = process_table()[int(out)]\n"
        "print(orphan.ppid == os.getpid())\n"
        "signal_each([orphan], signal.SIGKILL)\n"
        "os.waitid(os.P_PID, orphan.pid, os.WEXITED | os.WNOWAIT)  # it is a zombie now\n"
        "reap([orphan])\n"
        "print(orphan.pid in process_table())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "True", "False"], out.stderr


@pytest.mark.parametrize(
    ("argv", "adopts"),
    [
        (["run", "no-such-item", "a task"], True),
        (["launch", "no-such-item", "a task"], True),
        (["resume", "no-such-session"], True),
        (["history", "list"], False),
    ],
    ids=["run", "launch", "resume", "history"],
)
def test_the_commands_that_run_sessions_adopt_orphans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], adopts: bool
) -> None:
    calls: list[str] = []

    def become_subreaper() -> bool:
        calls.append(argv[0])
        return True

    monkeypatch.setenv("COWORK_TUI_HOME", str(tmp_path))
    monkeypatch.setattr(procs, "become_subreaper", become_subreaper)
    cli.main(argv)
    assert calls == ([argv[0]] if adopts else [])
