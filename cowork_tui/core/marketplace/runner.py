"""git and npm, run for one fetch: argument lists (no shell), no prompt, one deadline for all
the commands of the fetch, their stderr lines fed to a progress callback as they come."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable

from ..text import printable

Progress = Callable[[str], None]
DEFAULT_TIMEOUT = 300.0  # seconds for a whole fetch, every command of it together
_KEPT_LINES = 200  # stderr lines kept to explain a failure
_ERROR_PREFIXES = ("fatal: ", "error: ", "npm error ", "npm ERR! ")
_NOISE = ("npm error code ", "npm ERR! code ", "A complete log of this run")


class FetchError(Exception):
    """A fetch that cannot be done; the message is the problem, without the item's name."""


class FetchTimeout(FetchError):
    """The fetch ran out of time (a hung server, a huge repository)."""


class Runner:
    """Runs the commands of one fetch; they share one deadline, `timeout` seconds from now."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, progress: Progress | None = None) -> None:
        self.timeout = timeout
        self.progress = progress
        self.deadline = time.monotonic() + timeout
        # no credential prompt can block a fetch; npm does not look for a newer npm
        self.env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "npm_config_update_notifier": "false"}

    def __call__(self, argv: list[str]) -> str:
        """The standard output of `argv`; FetchError naming the tool and its error otherwise."""
        try:
            proc = subprocess.Popen(
                argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own group, to kill it whole; no terminal to ask on
            )
        except FileNotFoundError:
            raise FetchError(f"{argv[0]} not found on PATH") from None
        with proc:  # closes its pipes and waits for it
            try:
                out, lines = self._collect(proc)
            finally:
                if proc.returncode is None:  # not reaped yet: the group id is still its own
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
        if proc.returncode != 0:
            raise FetchError(f"{argv[0]}: {_explain(lines, proc.returncode)}")
        return out.decode(errors="replace")

    def _collect(self, proc: subprocess.Popen[bytes]) -> tuple[bytes, deque[str]]:
        """Read its stdout and stderr until both close and it exits, or raise FetchTimeout."""
        assert proc.stdout is not None and proc.stderr is not None
        out = bytearray()
        err = _Lines(self.progress)
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ, out.extend)
            selector.register(proc.stderr, selectors.EVENT_READ, err.feed)
            while selector.get_map():
                for key, _ in selector.select(self._left()):
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        key.data(chunk)
                    else:
                        selector.unregister(key.fileobj)
        err.feed(b"\n")
        try:
            proc.wait(self._left())
        except subprocess.TimeoutExpired:
            raise self._timed_out() from None
        return bytes(out), err.lines

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self._timed_out()
        return left

    def _timed_out(self) -> FetchTimeout:
        return FetchTimeout(f"timed out after {self.timeout:g} s")


class _Lines:
    """stderr cut into lines at newlines and carriage returns (git's progress counters)."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.lines: deque[str] = deque(maxlen=_KEPT_LINES)
        self._partial = b""

    def feed(self, chunk: bytes) -> None:
        *complete, self._partial = (self._partial + chunk).replace(b"\r", b"\n").split(b"\n")
        for raw in complete:
            line = printable(raw.decode(errors="replace")).strip()
            if line:
                self.lines.append(line)
                if self.progress:
                    self.progress(line)


def _explain(lines: deque[str], code: int) -> str:
    """The first error line of the tool's stderr, without its `fatal: ` prefix."""
    for line in lines:
        prefix = next((p for p in _ERROR_PREFIXES if line.startswith(p)), None)
        if prefix and not any(noise in line for noise in _NOISE):
            return line.removeprefix(prefix)
    return lines[-1] if lines else f"exit code {code}"
