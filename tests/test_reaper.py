"""The reaper on a worker host: a worker killed -9 leaves no process of the sessions it still
watched — stopped, ignoring SIGTERM or out of their group alike — and nothing else is touched
(DESIGN §8)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from cowork_tui.core.procs import (
    ProcessInfo,
    all_gone,
    is_stopped,
    process_table,
    reap,
    session_processes,
    signal_each,
)
from cowork_tui.core.reaper import Reaper
from tests.engine_support import GRACE, gone, reach

pytestmark = pytest.mark.anyio

# an agent's processes: one in its group, one in a session of its own; their pids printed
AGENT = "sleep 300 & echo $!; setsid sleep 300 & echo $!; wait"

# a worker stand-in: its reaper watches session X, whose agent it starts, and not Y, whose
# agent it starts too; it prints the pids, then waits for a line (a normal exit) or its death
WORKER = """
import json, os, signal, subprocess, sys
from cowork_tui.core.reaper import Reaper

grace, x, y, script, mode = float(sys.argv[1]), *sys.argv[2:]
signal.signal(signal.SIGINT, signal.SIG_IGN)  # the reaper's survival is under test, not ours


def agent(session, script):
    env = {**os.environ, "COWORK_SESSION_ID": session}
    return subprocess.Popen(
        ["sh", "-c", script], env=env, stdout=subprocess.PIPE, text=True, start_new_session=True
    )


with Reaper(grace) as reaper:
    reaper.watch(x)
    ax = agent(x, script)
    xs = [ax.pid, int(ax.stdout.readline()), int(ax.stdout.readline())]
    ay = agent(y, "exec sleep 300")
    if mode == "unwatch":
        reaper.unwatch(x)
    print(json.dumps({"x": xs, "y": [ay.pid], "reaper": reaper.pid}), flush=True)
    sys.stdin.readline()
"""


@dataclass
class Worker:
    process: subprocess.Popen[str]
    x: list[int]  # session X's processes
    y: list[int]  # session Y's
    reaper: int
    session_x: str


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def started() -> Iterator[list[ProcessInfo]]:
    """What the tests started; whatever is left (Y's agent, or what the reaper missed) is
    killed at the end."""
    found: list[ProcessInfo] = []
    yield found
    signal_each(found, signal.SIGKILL)
    reap(found)


def start_worker(
    started: list[ProcessInfo],
    script: str = AGENT,
    grace: float = GRACE,
    mode: str = "watch",
    labelled: bool = False,
) -> Worker:
    """`labelled`: the worker itself carries session X's label (the reaper must spare it)."""
    x, y = f"x-{uuid.uuid4().hex}", f"y-{uuid.uuid4().hex}"
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(grace), x, y, script, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "COWORK_SESSION_ID": x} if labelled else None,
        start_new_session=True,  # a group of its own, like a worker started from a terminal
    )
    assert process.stdout is not None
    pids = json.loads(process.stdout.readline())
    table = process_table()
    started += [table[pid] for pid in [process.pid, *pids["x"], *pids["y"], pids["reaper"]]]
    return Worker(process, pids["x"], pids["y"], pids["reaper"], x)


def kill9(worker: Worker) -> None:
    """kill -9 of the worker's whole process group (the reaper is not in it)."""
    os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait()


async def test_a_killed_worker_leaves_no_process_of_its_sessions(
    started: list[ProcessInfo],
) -> None:
    # ignoring SIGTERM (so do the sleeps, which inherit it): only SIGKILL ends them
    worker = start_worker(started, script=f"trap '' TERM; {AGENT}")
    kill9(worker)
    await reach(worker.x, gone, timeout=GRACE + 10)
    await reach([worker.reaper], gone)
    assert session_processes(worker.session_x) == []
    assert not any(gone(pid) for pid in worker.y)  # an unwatched session is left alone


async def test_a_stopped_agent_is_continued_to_end(started: list[ProcessInfo]) -> None:
    # a grace far longer than the wait below: SIGTERM ends them, not the SIGKILL after it
    worker = start_worker(started, grace=300)
    for pid in worker.x:
        os.kill(pid, signal.SIGSTOP)
    await reach(worker.x, is_stopped)
    kill9(worker)
    await reach(worker.x, gone)
    await reach([worker.reaper], gone)


async def test_an_unwatched_session_is_left_alone(started: list[ProcessInfo]) -> None:
    worker = start_worker(started, mode="unwatch")
    kill9(worker)
    await reach([worker.reaper], gone)
    assert not any(gone(pid) for pid in worker.x + worker.y)


async def test_a_normal_close_ends_what_is_still_watched(started: list[ProcessInfo]) -> None:
    worker = start_worker(started, labelled=True)
    worker.process.communicate("exit\n", timeout=GRACE + 10)
    assert worker.process.returncode == 0
    assert all_gone(worker.x)  # close() waited for the reaper, which waited for them
    assert not any(gone(pid) for pid in worker.y)


async def test_the_reaper_outlives_an_interrupt_of_its_worker(
    started: list[ProcessInfo],
) -> None:
    worker = start_worker(started)
    await reach([worker.reaper], lambda pid: ignores(pid, signal.SIGINT, signal.SIGHUP))
    os.killpg(worker.process.pid, signal.SIGINT)  # ctrl+c at the worker's terminal
    for sig in (signal.SIGINT, signal.SIGHUP):  # and even straight at the reaper
        os.kill(worker.reaper, sig)
    kill9(worker)
    await reach(worker.x, gone, timeout=GRACE + 10)  # it was still there to end them


async def test_a_dead_reaper_is_told_once_and_never_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reaper = Reaper(GRACE)
    os.kill(reaper.pid, signal.SIGKILL)
    await reach([reaper.pid], gone)
    with caplog.at_level(logging.ERROR, logger="cowork_tui.core.reaper"):
        reaper.watch("a")
        reaper.unwatch("a")
        reaper.close()
    assert [r.getMessage() for r in caplog.records] == [
        f"the reaper (pid {reaper.pid}) is gone: a killed worker may leave processes behind"
    ]


def ignores(pid: int, *signals: int) -> bool:
    """The process ignores these signals (it has set them up: it is ready)."""
    with open(f"/proc/{pid}/status") as f:
        mask = next(int(ln.split()[1], 16) for ln in f if ln.startswith("SigIgn:"))
    return all(mask & (1 << (sig - 1)) for sig in signals)
