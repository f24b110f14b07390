"""CPU of the monitor watching a live session, in a real terminal: cowork-tui's grid and table
against a naive dashboard, at 10 and 100 agents.

cowork-tui runs `cowork-tui launch` of an item of N command agents that each print a `::progress`
line and an output line every second (at most 10 run at once: the cap's ceiling), in a 120x40
pseudo-terminal, with its real engine and archive; the table is shown with `v`. The naive
dashboard (no engine) fully re-renders N bordered panels of the same records every 3 s, their
figures changing each second. CPU is the process's own (utime + stime of /proc, the agents'
shells not counted), over the same window after the same warm-up.
Run: python benchmarks/monitor.py [--seconds D]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.marketplaces import write_marketplace  # noqa: E402

ROWS, COLUMNS = 40, 120
WARM_UP = 4.0  # seconds: started, laid out, agents running
TICKS = os.sysconf("SC_CLK_TCK")
AGENT = 'i=0; while :; do i=$((i+1)); echo "::progress 0.$((i % 10)) step $i"; echo "line $i"; sleep 1; done'  # noqa: E501

NAIVE = """
import sys
from textual.app import App
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

N = int(sys.argv[1])

class Naive(App[None]):
    CSS = "Static { border: round white; height: auto; }"
    tick = 0

    def compose(self):
        yield Header()
        with VerticalScroll():
            for n in range(N):
                t = self.tick
                yield Static(f"a{n} RUNNING step {t}\\n{t % 10}0% {t * 110} tokens\\n"
                             f"line {t - 2}\\nline {t - 1}\\nline {t}")
        yield Footer()

    def on_mount(self):
        self.set_interval(1, self.advance)
        self.set_interval(3, self.recompose)

    def advance(self):
        self.tick += 1

Naive().run()
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def watch(command: list[str], env: dict[str, str], keys: bytes, seconds: float) -> float:
    """CPU seconds the process uses over `seconds`, after the warm-up and `keys`."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = os.environ | env | {"TERM": "xterm-256color"}
    process = subprocess.Popen(
        command, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)

    def drain(until: float) -> None:  # the app never blocks writing to its terminal
        while time.monotonic() < until:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    return

    try:
        drain(time.monotonic() + WARM_UP)
        if keys:
            os.write(master, keys)
            drain(time.monotonic() + 1)
        if process.poll() is not None:
            sys.exit(f"{command!r:.80} ended early (exit {process.returncode})")
        began = cpu_seconds(process.pid)
        drain(time.monotonic() + seconds)
        return cpu_seconds(process.pid) - began
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        os.close(master)


def cowork(n: int, keys: bytes, seconds: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        agents = {f"a{i}": {"command": AGENT} for i in range(n)}
        steps = [{"id": f"a{i}", "agent": f"a{i}"} for i in range(n)]
        items = {"live": {"agents": agents, "cowork": {"maxParallelAgents": 10, "workflow": steps}}}
        market = write_marketplace(home / "market", items, name="bench")
        env = {"COWORK_TUI_HOME": str(home / "cowork"), "HOME": str(home)}
        cli = [sys.executable, "-m", "cowork_tui"]
        for args in (["marketplace", "add", str(market)], ["install", "--yes", "live@bench"]):
            subprocess.run([*cli, *args], env=os.environ | env, check=True, capture_output=True)
        return watch([*cli, "launch", "live@bench", "watch them"], env, keys, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    results = []
    for n in (10, 100):
        naive = watch([sys.executable, "-c", NAIVE, str(n)], {}, b"", args.seconds)
        grid = cowork(n, b"", args.seconds)
        table = cowork(n, b"v", args.seconds)
        print(f"{n:>3} agents, {args.seconds:.0f} s: naive {naive:.2f} s CPU; cowork-tui grid "
              f"{grid:.2f} s (ratio {grid / naive:.2f}), table {table:.2f} s "
              f"(ratio {table / naive:.2f})")  # fmt: skip
        results.append(
            f"naive{n}_s={naive:.2f} grid{n}_s={grid:.2f} grid{n}_ratio={grid / naive:.2f} "
            f"table{n}_s={table:.2f} table{n}_ratio={table / naive:.2f}"
        )
    print(" ".join(results))


if __name__ == "__main__":
    main()
