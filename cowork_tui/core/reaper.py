"""A reaper on each worker host: no process of a session outlives the worker that ran it
(DESIGN §8), not even when the worker is killed -9 and can clean up nothing itself.

`Reaper` starts `python -m cowork_tui.core.reaper GRACE` with a pipe to its stdin; the worker
writes `watch SESSION_ID` before it starts a session's agents and `unwatch SESSION_ID` once the
session is done there. The pipe reaches EOF when the worker is gone, however it ended (or at
`Reaper.close`): then the reaper ends every process of each session still watched, found by
COWORK_SESSION_ID so what left its agent's process group too: SIGTERM and SIGCONT, GRACE
seconds, SIGKILL. Standard library only (procs is too): one starts with each worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from types import TracebackType

from .procs import (
    all_gone,
    is_same_process,
    process_start_time,
    session_processes,
    signal_processes,
)

log = logging.getLogger(__name__)

_KILL_WAIT = 5.0  # a SIGKILLed process ends at once, unless asleep in the kernel: then on waking


class Reaper:
    """The worker's end of its reaper. Cheap and synchronous (a line written to a pipe), so it
    may be called from the worker's event loop; it never raises once the reaper is gone."""

    def __init__(self, grace_seconds: float) -> None:
        env = {k: v for k, v in os.environ.items() if k != "COWORK_SESSION_ID"}  # not one of them
        # a session of its own: what ends the worker's terminal or group does not reach it; the
        # pipe is not inherited (O_CLOEXEC), so only the worker's death closes it
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(grace_seconds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        assert self._process.stdin is not None  # stdin=PIPE
        self._pipe = self._process.stdin
        self._lost = False

    @property
    def pid(self) -> int:
        return self._process.pid

    def watch(self, session_id: str) -> None:
        """Call it before the session's first agent starts here."""
        self._send("watch", session_id)

    def unwatch(self, session_id: str) -> None:
        self._send("unwatch", session_id)

    def close(self) -> None:
        """End the sessions still watched, as the worker's death would, and wait for that
        (up to their grace period)."""
        with contextlib.suppress(OSError):  # it is gone: what was left unwritten is moot
            self._pipe.close()
        self._process.wait()

    def __enter__(self) -> Reaper:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, verb: str, session_id: str) -> None:
        if self._lost:
            return
        try:
            self._pipe.write(f"{verb} {session_id}\n".encode())
            self._pipe.flush()
        except (OSError, ValueError):  # it died (a broken pipe), or it was closed
            self._lost = True
            log.error(
                "the reaper (pid %d) is gone: a killed worker may leave processes behind", self.pid
            )


def end_sessions(session_ids: Iterable[str], grace: float, spare: set[int]) -> None:
    """SIGTERM (and SIGCONT: a stopped process handles it only once continued), `grace`
    seconds, then SIGKILL until none is left; never to a pid in `spare`."""
    session_ids = list(session_ids)

    def found() -> list[int]:
        return [pid for s in session_ids for pid in session_processes(s) if pid not in spare]

    pids = found()
    signal_processes(pids, signal.SIGTERM)
    signal_processes(pids, signal.SIGCONT)
    _wait_gone(pids, grace)
    while left := found():  # again: not a reused pid, and what they started meanwhile
        signal_processes(left, signal.SIGKILL)
        if not _wait_gone(left, _KILL_WAIT):
            break


def _wait_gone(pids: list[int], seconds: float) -> bool:
    until = time.monotonic() + seconds
    while not all_gone(pids):
        if time.monotonic() > until:
            return False
        time.sleep(0.02)
    return True


def main(grace: float) -> None:
    for sig in (signal.SIGINT, signal.SIGHUP):  # what ends the worker's terminal must not end us
        signal.signal(sig, signal.SIG_IGN)
    worker = os.getppid()
    started = process_start_time(worker)
    watched: set[str] = set()
    for line in sys.stdin.buffer:  # until EOF: the worker is gone, or closed its end
        verb, _, session_id = line.decode(errors="replace").strip().partition(" ")
        if verb == "watch":
            watched.add(session_id)
        elif verb == "unwatch":
            watched.discard(session_id)
    alive = started is not None and is_same_process(worker, started)  # a normal close
    end_sessions(watched, grace, {os.getpid(), worker} if alive else {os.getpid()})


if __name__ == "__main__":
    main(float(sys.argv[1]))
