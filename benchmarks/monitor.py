"""CPU time of the monitor: N agents reporting progress every second, watched for D seconds.

cowork-tui's monitor (refresh every 3 s, changed panels updated in place) against a naive
dashboard that recomposes N bordered Static panels every 3 s. Both read the same simulated
feed (every agent's record replaced each second), each in its own process, headless.
Run: python benchmarks/monitor.py [--seconds D]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from cowork_tui.core.models import AgentRecord, AgentState, SessionRecord, SessionState, Tokens

REFRESH = 3.0


class Feed:
    """An engine stand-in: one session of `n` agents, every record replaced each second."""

    def __init__(self, n: int) -> None:
        now = datetime.now(UTC)
        self.version = 1
        self.record = SessionRecord(
            id="bench", item="bench", marketplace="bench", task="benchmark",
            state=SessionState.RUNNING, started_at=now,
            agents=tuple(
                AgentRecord(subtask=f"a{i}", agent="worker", state=AgentState.RUNNING,
                            started_at=now, prompt=f"part {i}")
                for i in range(n)
            ),
        )  # fmt: skip

    async def run(self) -> None:
        tick = 0
        while True:
            await asyncio.sleep(1)
            tick += 1
            agents = tuple(
                a.model_copy(update={
                    "progress": (tick % 100) / 100, "step": f"step {tick}",
                    "tokens": Tokens(input=tick * 100, output=tick * 10),
                    "output_tail": (*a.output_tail[-3:], f"line {tick}"),
                })
                for a in self.record.agents
            )  # fmt: skip
            self.version += 1
            self.record = self.record.model_copy(update={"agents": agents})

    def snapshots(self) -> tuple[SessionRecord, ...]:
        return (self.record,)

    def snapshot(self, session_id: str) -> SessionRecord:
        return self.record

    async def shutdown(self, reason: str = "") -> None:
        return None


class Naive(App[None]):
    """Re-renders everything every 3 s: N bordered Static panels, recomposed."""

    CSS = "Static { border: round white; height: auto; }"

    def __init__(self, feed: Feed) -> None:
        super().__init__()
        self.feed = feed

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            for a in self.feed.record.agents:
                yield Static(
                    f"{a.subtask} {a.state} {a.step}\n{(a.progress or 0):.0%} "
                    f"{a.tokens.total} tokens\n" + "\n".join(a.output_tail)
                )
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(REFRESH, self.recompose)


async def measure(kind: str, n: int, seconds: float) -> float:
    feed = Feed(n)
    if kind == "naive":
        app: App[Any] = Naive(feed)
    else:
        from cowork_tui.core.workspace import Workspace
        from cowork_tui.ui.app import CoworkApp

        @asynccontextmanager
        async def factory() -> AsyncIterator[Any]:
            yield feed

        app = CoworkApp(Workspace.open(), engine_factory=factory)
    async with app.run_test(size=(120, 40)) as pilot:
        if kind == "cowork":
            await pilot.press("2")
        feeding = asyncio.create_task(feed.run())
        await pilot.pause()
        began = time.process_time()
        await asyncio.sleep(seconds)
        used = time.process_time() - began
        feeding.cancel()
    return used


def in_subprocess(kind: str, n: int, seconds: float, home: str) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(n), str(seconds)],
        check=True, capture_output=True, text=True,
        env=os.environ | {"COWORK_TUI_HOME": home},
    )  # fmt: skip
    return float(json.loads(out.stdout.strip().splitlines()[-1])["cpu"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, n, seconds = args.child
        print(json.dumps({"cpu": asyncio.run(measure(kind, int(n), float(seconds)))}))
        return
    results = []
    with tempfile.TemporaryDirectory() as home:
        for n in (10, 100):
            ours = in_subprocess("cowork", n, args.seconds, home)
            naive = in_subprocess("naive", n, args.seconds, home)
            print(f"{n:>3} agents, {args.seconds:.0f} s: cowork-tui {ours:.2f} s CPU, "
                  f"naive {naive:.2f} s CPU, ratio {ours / naive:.2f}")  # fmt: skip
            results.append(
                f"cpu{n}_s={ours:.2f} naive{n}_s={naive:.2f} ratio{n}={ours / naive:.2f}"
            )
    print(" ".join(results))


if __name__ == "__main__":
    main()
