"""A command agent's init, run as `python -I -S agent_init.py REPORT DRAIN GRACE ARGV...`.

A subreaper (Linux), so all the agent starts stays below it, even what leaves the group and
loses its parent (a double fork, setsid). It runs ARGV as the leader of a new session and
process group (its pid written to the file descriptor REPORT), stays out of that group (pause
and stop signal the group), and once ARGV has exited gives the rest DRAIN seconds to end, then
SIGTERM and GRACE seconds, then SIGKILL (what a killed process started comes to it in turn); it
reaps it all and exits as ARGV did. Standard library only: it starts before anything else.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time

_PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def main(argv: list[str]) -> None:
    report, drain, grace, command = int(argv[0]), float(argv[1]), float(argv[2]), argv[3:]
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    leader = os.fork()
    if leader == 0:
        _exec(report, command)
    os.close(report)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == leader:
            break
    try:
        _reap_for(drain)
        _signal_children(signal.SIGTERM, signal.SIGCONT)
        _reap_for(grace)
        while True:
            _signal_children(signal.SIGKILL)
            os.waitpid(-1, 0)
    except ChildProcessError:
        pass  # no child left
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # killed by a signal: so is the init, for whoever waits for it
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code if code >= 0 else 128 - code)


def _exec(report: int, command: list[str]) -> None:
    """In the child: become the group's leader, say so, and run the command."""
    try:
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores them; the command must not
            signal.signal(sig, signal.SIG_DFL)
        os.setsid()
        os.write(report, str(os.getpid()).encode())
        os.close(report)
        os.execvp(command[0], command)
    except OSError as exc:
        os.write(2, f"{command[0]}: {exc.strerror}\n".encode())
    os._exit(127)


def _reap_for(seconds: float) -> None:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if os.waitpid(-1, os.WNOHANG)[0] == 0:
            time.sleep(0.005)


def _signal_children(*signals: int) -> None:
    me = str(os.getpid())
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[1] == me:
                    for sig in signals:
                        os.kill(int(name), sig)
        except (OSError, IndexError):
            pass  # gone meanwhile


if __name__ == "__main__":
    main(sys.argv[1:])
