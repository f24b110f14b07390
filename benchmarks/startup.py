"""Cold start to first frame: cowork-tui against a bare Textual app (Header, Static, Footer).

Each start is a fresh interpreter (imports included) under an empty COWORK_TUI_HOME; the app
runs headless and exits right after its first screen update. Median of N runs each.
Run: python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

BARE = """
from textual.app import App
from textual.widgets import Footer, Header, Static

class Bare(App[None]):
    def compose(self):
        yield Header()
        yield Static("hello")
        yield Footer()

async def first_frame(pilot):
    await pilot.pause()
    pilot.app.exit()

Bare().run(headless=True, size=(120, 40), auto_pilot=first_frame)
"""

COWORK = """
from cowork_tui.core.workspace import Workspace
from cowork_tui.ui.app import CoworkApp

async def first_frame(pilot):
    await pilot.pause()
    pilot.app.exit()

CoworkApp(Workspace.open()).run(headless=True, size=(120, 40), auto_pilot=first_frame)
"""


def start_seconds(source: str, home: str) -> float:
    env = os.environ | {"COWORK_TUI_HOME": home}
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", source], check=True, env=env, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        start_seconds(COWORK, home)  # warm the file cache and bytecode once, for both
        start_seconds(BARE, home)
        bare = [start_seconds(BARE, home) for _ in range(args.runs)]
        cowork = [start_seconds(COWORK, home) for _ in range(args.runs)]
    bare_s, cowork_s = statistics.median(bare), statistics.median(cowork)
    print(f"bare Textual app: median {bare_s * 1000:.0f} ms over {args.runs} starts")
    print(f"cowork-tui:       median {cowork_s * 1000:.0f} ms over {args.runs} starts")
    print(f"startup_ms={cowork_s * 1000:.0f} baseline_ms={bare_s * 1000:.0f} "
          f"ratio={cowork_s / bare_s:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
