"""Cold start in a real terminal: cowork-tui against a bare Textual app (Header, Static, Footer).

Each start is a fresh interpreter (imports included) in a 120x40 pseudo-terminal, with an empty
temporary HOME and COWORK_TUI_HOME (no user config, no ~/.claude plugins), timed from just before
the process starts. First frame: the first write reaching the bottom row (Textual writes a full
screen top to bottom, the footer's row last). Ready: the marketplace table shows its repo-health
row (the bare app is ready at its first frame); after the warm-up start, the rows come from the
rows cache, shown while the workspace opens. Then ctrl+q. Medians of N runs, after a warm-up.
Run: python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time

ROWS, COLUMNS = 40, 120
BOTTOM_ROW = re.compile(rb"\x1b\[%d;\d+H" % ROWS)  # cursor moved to the bottom row
TABLE_ROW = re.compile(rb"repo-health +cowork-tui +installed")  # not the details pane's title
ANSI = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-_])")
TIMEOUT = 20.0

BARE = """
from textual.app import App
from textual.widgets import Footer, Header, Static

class Bare(App[None]):
    def compose(self):
        yield Header()
        yield Static("hello")
        yield Footer()

Bare().run()
"""


def read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the app's end of the terminal is closed
        return b""


def start(command: list[str], home: str, ready: re.Pattern[bytes] | None) -> tuple[float, float]:
    """Seconds to the first frame and to the ready marker of one start in a pseudo-terminal."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = os.environ | {"COWORK_TUI_HOME": home, "HOME": home, "TERM": "xterm-256color"}
    began = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    output, first_frame, ready_at = b"", 0.0, 0.0
    try:
        while not ready_at:
            if time.perf_counter() - began > TIMEOUT or process.poll() is not None:
                missing = "ready marker" if first_frame else "first frame"
                text = ANSI.sub(b"", output).decode(errors="replace")[-500:]
                status = "still running" if process.poll() is None else f"exit {process.poll()}"
                elapsed = time.perf_counter() - began
                sys.exit(f"{command[1:]!r:.60}: no {missing} after {elapsed:.1f} s ({status}); "
                         f"last output:\n{text}")  # fmt: skip
            if select.select([master], [], [], 0.05)[0]:
                output += read(master)
                now = time.perf_counter() - began
                if not first_frame and BOTTOM_ROW.search(output):
                    first_frame = now
                if first_frame and (ready is None or ready.search(ANSI.sub(b"", output))):
                    ready_at = now
        os.write(master, b"\x11")  # ctrl+q
        deadline = time.perf_counter() + 10
        while process.poll() is None and time.perf_counter() < deadline:
            if select.select([master], [], [], 0.05)[0]:
                read(master)  # drain, so the app never blocks writing its teardown
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        os.close(master)
    return first_frame, ready_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    bare_cmd = [sys.executable, "-c", BARE]
    cowork_cmd = [sys.executable, "-m", "cowork_tui"]
    with tempfile.TemporaryDirectory() as home:
        start(cowork_cmd, home, TABLE_ROW)  # warm the file cache and bytecode once, for both
        start(bare_cmd, home, None)
        bare = [start(bare_cmd, home, None)[0] for _ in range(args.runs)]
        cowork = [start(cowork_cmd, home, TABLE_ROW) for _ in range(args.runs)]
    bare_ms = statistics.median(bare) * 1000
    frame_ms = statistics.median(first for first, _ in cowork) * 1000
    ready_ms = statistics.median(ready for _, ready in cowork) * 1000
    print(f"bare Textual app: first frame median {bare_ms:.0f} ms over {args.runs} starts")
    print(f"cowork-tui:       first frame median {frame_ms:.0f} ms, "
          f"marketplace rows {ready_ms:.0f} ms")  # fmt: skip
    print(f"startup_ms={frame_ms:.0f} baseline_ms={bare_ms:.0f} ratio={frame_ms / bare_ms:.2f} "
          f"ready_ms={ready_ms:.0f} ready_ratio={ready_ms / bare_ms:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
