"""Process groups on Linux/POSIX: signal them, list their members, tell a pid from its reuse.

Shared by the command backend (pause/stop) and crash recovery (kill what a dead run left).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

_PROC = Path("/proc")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat from field 3 (state) on; None when the process is gone."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
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


def is_same_process(pid: int, started: float) -> bool:
    """The process `pid` is still the one that started at `started` (not a reused pid)."""
    now = process_start_time(pid)
    return now is not None and abs(now - started) < 1.5 / _CLOCK_TICKS


def group_states(pgid: int) -> dict[int, str]:
    """The live (non-zombie) processes of a process group, with their one-letter state."""
    states = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and fields[2] == str(pgid) and fields[0] not in "ZX":
                states[int(entry.name)] = fields[0]
    return states


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    return list(group_states(pgid))


def group_stopped(pgid: int) -> bool:
    """Every live process of the group is stopped (SIGSTOP took effect)."""
    return all(state in "Tt" for state in group_states(pgid).values())


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> bool:
    """Send `sig` to the group; False when no process of it is left (or it is not ours)."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True
