"""Process groups on Linux/POSIX: signal them, list their members, tell a pid from its reuse.

Shared by the command backend (pause/stop) and crash recovery (kill what a dead run left).
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

_SESSION_ENV = b"COWORK_SESSION_ID="  # the command backend sets it for every agent
_PROC = Path("/proc")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat from field 3 (state) on; None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # field 2 (comm) is in parentheses and may itself hold spaces or parentheses
    return raw[raw.rfind(")") + 2 :].split()


def process_start_time(pid: int) -> float | None:
    """When the process started, in seconds since boot (stat field 22); None if it is gone."""
    fields = _stat_fields(pid)
    return int(fields[19]) / _CLOCK_TICKS if fields else None


def process_state(pid: int) -> str | None:
    """The one-letter state (R, S, T, Z...), None if the process is gone."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def _stop_pending(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            lines = [ln for ln in f if ln.startswith(("SigPnd:", "ShdPnd:"))]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    bit = 1 << (signal.SIGSTOP - 1)
    return any(int(ln.split()[1], 16) & bit for ln in lines)


def is_same_process(pid: int, started: float) -> bool:
    """The process `pid` is still the one that started at `started` (not a reused pid), and
    alive: a zombie (dead, its parent has not reaped it yet) is not."""
    now = process_start_time(pid)
    if now is None or process_state(pid) == "Z":
        return False
    return abs(now - started) < 1.5 / _CLOCK_TICKS


def group_states(pgid: int, *, after_leader: bool = False) -> dict[int, str]:
    """The live (non-zombie) processes of a process group, with their one-letter state.

    `after_leader`: look only at pids above the group's (its members are forked after it),
    a quicker scan that may miss a member whose pid wrapped around.
    """
    states = {}
    group = str(pgid)
    for name in os.listdir("/proc"):
        if name.isdigit() and (not after_leader or int(name) >= pgid):
            fields = _stat_fields(int(name))
            if fields and fields[2] == group and fields[0] not in "ZX":
                states[int(name)] = fields[0]
    return states


def group_members(pgid: int, *, after_leader: bool = False) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    return list(group_states(pgid, after_leader=after_leader))


def is_stopped(pid: int) -> bool:
    """Stopped by SIGSTOP (state T), gone, or certain to stop before it runs again: a SIGSTOP
    is pending while it sleeps in the kernel (e.g. `sh` in vfork, waiting for a child that
    was stopped before its exec)."""
    state = process_state(pid)
    return state is None or state in "TtZX" or _stop_pending(pid)


def all_stopped(pids: list[int]) -> bool:
    return all(is_stopped(pid) for pid in pids)


def all_gone(pids: list[int]) -> bool:
    return all((process_state(pid) or "X") in "ZX" for pid in pids)


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> bool:
    """Send `sig` to the group; False when no process of it is left (or it is not ours)."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def session_processes(session_id: str) -> list[int]:
    """Live processes whose environment names this session (ours only: others are unreadable)."""
    wanted = _SESSION_ENV + session_id.encode()
    found = []
    for entry in _PROC.glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if wanted in environ.split(b"\0") and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def signal_processes(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def kill_session_processes(session_id: str) -> None:
    signal_processes(session_processes(session_id), signal.SIGKILL)
