"""Engine overhead and control latency.

1. 1,000 zero-work agents at max parallel 10, through the engine, against the same work
   through a bare anyio CapacityLimiter (the baseline, measured in the same run):
   an in-process null backend, and `true` command agents against bare `true` processes.
2. Pause latency (request → every process of 10 `sleep` agents stopped, read in /proc) and
   cancel latency (request → every process gone), over 20 runs.

Goals: overhead ≤ 1 ms per agent, pause ≤ 100 ms, cancel ≤ grace + 200 ms.
Run: python benchmarks/engine.py [--agents N] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Awaitable, Callable
from functools import partial

import anyio

from cowork_tui.core.engine.backends.base import (
    AgentContext,
    AgentOutcome,
    AgentReporter,
    AgentRun,
    Backend,
)
from cowork_tui.core.engine.backends.command import CommandBackend
from cowork_tui.core.engine.local import LocalEngine
from cowork_tui.core.engine.protocol import LaunchRequest
from cowork_tui.core.models import AgentSpec, Item, Plan, SessionState, Subtask
from cowork_tui.core.procs import all_gone, all_stopped, group_members

PARALLEL = 10
GRACE = 5.0


class NullBackend(Backend):
    name = "null"

    async def start(self, ctx: AgentContext, reporter: AgentReporter) -> AgentRun:
        return _NullRun()


class _NullRun(AgentRun):
    async def wait(self) -> AgentOutcome:
        return AgentOutcome(ok=True)

    async def pause(self) -> None:
        pass

    async def resume(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def wide_request(spec: AgentSpec, n: int, backend: str = "null") -> LaunchRequest:
    item = Item(name="bench", marketplace="bench", agents=(spec,))
    subtasks = tuple(Subtask(id=f"s{i}", agent=spec.name, prompt="-") for i in range(n))
    return LaunchRequest(
        item=item,
        task="benchmark",
        backend=backend,
        max_parallel=PARALLEL,
        plan=Plan(pattern="parallel", subtasks=subtasks),
    )


async def timed(work: Callable[[], Awaitable[None]]) -> float:
    began = time.perf_counter()
    await work()
    return time.perf_counter() - began


async def through_limiter(n: int, one: Callable[[], Awaitable[None]]) -> None:
    limiter = anyio.CapacityLimiter(PARALLEL)

    async def agent() -> None:
        async with limiter:
            await one()

    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(agent)


async def through_engine(engine: LocalEngine, request: LaunchRequest) -> None:
    record = await engine.wait(engine.launch(request))
    assert record.state is SessionState.COMPLETED, record.error


async def noop() -> None:
    await anyio.lowlevel.checkpoint()


async def bare_true() -> None:
    await anyio.run_process(["sh", "-c", "true"])


async def overhead(n: int) -> dict[str, float]:
    backends = {"null": NullBackend(), "command": CommandBackend()}
    async with LocalEngine(backends, grace_seconds=GRACE) as engine:
        null_req = wide_request(AgentSpec(name="null"), n)
        true_req = wide_request(AgentSpec(name="t", kind="command", command="true"), n)
        await through_engine(engine, wide_request(AgentSpec(name="null"), 50))  # warm-up
        base_null = min([await timed(lambda: through_limiter(n, noop)) for _ in range(3)])
        eng_null = min([await timed(lambda: through_engine(engine, null_req)) for _ in range(3)])
        base_true = eng_true = float("inf")
        for _ in range(2):  # alternate, so neither gets a warmer machine
            base_true = min(base_true, await timed(lambda: through_limiter(n, bare_true)))
            eng_true = min(eng_true, await timed(lambda: through_engine(engine, true_req)))
    return {
        "null_engine_s": eng_null,
        "null_baseline_s": base_null,
        "null_overhead_ms_per_agent": (eng_null - base_null) / n * 1000,
        "null_ratio": eng_null / base_null,
        "true_engine_s": eng_true,
        "true_baseline_s": base_true,
        "true_overhead_ms_per_agent": (eng_true - base_true) / n * 1000,
        "true_ratio": eng_true / base_true,
    }


async def wait_for(check: Callable[[], bool]) -> float:
    """Seconds until `check()` holds, polling /proc-based checks every 1 ms."""
    began = time.perf_counter()
    while not check():
        await anyio.sleep(0.001)
    return time.perf_counter() - began


async def control_latency(runs: int) -> dict[str, float]:
    spec = AgentSpec(name="sleeper", kind="command", command="sleep 30 & sleep 30; wait")
    request = wide_request(spec, PARALLEL, backend="command")
    pauses, cancels, reported = [], [], []
    async with LocalEngine({"command": CommandBackend()}, grace_seconds=GRACE) as engine:
        for _ in range(runs):
            sid = engine.launch(request)
            pids: list[int] = []
            while len(pids) < 3 * PARALLEL:  # each agent: sh and its two sleeps
                await anyio.sleep(0.01)
                record = engine.snapshot(sid)
                pids = [p for a in record.agents if a.pgid for p in group_members(a.pgid)]
            began = time.perf_counter()
            engine.pause(sid)
            pauses.append(await wait_for(partial(all_stopped, pids)))
            while engine.snapshot(sid).state is not SessionState.PAUSED:
                await engine.changed(engine.version)
            reported.append(time.perf_counter() - began)
            began = time.perf_counter()
            engine.cancel(sid)
            cancels.append(await wait_for(partial(all_gone, pids)))
            record = await engine.wait(sid)
            assert record.state is SessionState.CANCELLED
    return {
        "pause_ms_median": statistics.median(pauses) * 1000,
        "pause_ms_max": max(pauses) * 1000,
        "paused_state_ms_median": statistics.median(reported) * 1000,
        "cancel_ms_median": statistics.median(cancels) * 1000,
        "cancel_ms_max": max(cancels) * 1000,
    }


async def main(agents: int, runs: int) -> None:
    figures = await overhead(agents)
    print(f"{agents} zero-work agents at max parallel {PARALLEL}:")
    for kind in ("null", "true"):
        print(
            f"  {kind:>4}: engine {figures[f'{kind}_engine_s']:.3f} s, "
            f"bare limiter {figures[f'{kind}_baseline_s']:.3f} s, "
            f"overhead {figures[f'{kind}_overhead_ms_per_agent']:.3f} ms/agent, "
            f"ratio {figures[f'{kind}_ratio']:.2f}x"
        )
    latency = await control_latency(runs)
    print(f"controls over {runs} runs of {PARALLEL} sleep agents (grace {GRACE:g} s):")
    print(
        f"  pause: median {latency['pause_ms_median']:.1f} ms, max {latency['pause_ms_max']:.1f} ms"
        f" (PAUSED shown after {latency['paused_state_ms_median']:.1f} ms median)"
    )
    print(
        f"  cancel: median {latency['cancel_ms_median']:.1f} ms, "
        f"max {latency['cancel_ms_max']:.1f} ms"
    )
    print(" ".join(f"{k}={v:.3f}" for k, v in {**figures, **latency}.items()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    anyio.run(main, args.agents, args.runs)
