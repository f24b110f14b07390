"""Process groups on Linux/POSIX: signal them, list their members, tell a pid from its reuse;
the process tree below a process, which holds whatever left its group when that process is a
subreaper (`become_subreaper`, `under_subreaper`).

Shared by the command backend (pause/stop), the engine (what a session's agents leave behind)
and crash recovery (kill what a dead run left).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_SESSION_ENV = b"COWORK_SESSION_ID="  # the command backend sets it for every agent
_PROC = Path("/proc")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
_subreaper: bool | None = None  # set once per process


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


def pid_namespace() -> int | None:
    """This process's PID namespace (the inode of /proc/self/ns/pid); None when unknown or when
    /proc is another namespace's (e.g. `unshare --pid` without remounting it): then no pid
    found in /proc is one this process may signal."""
    try:
        if int(os.readlink("/proc/self")) != os.getpid():
            return None
        return os.stat("/proc/self/ns/pid").st_ino
    except (OSError, ValueError):
        return None


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
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z" and _same_start(fields, started)


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


def become_subreaper() -> bool:
    """Make this process adopt its orphaned descendants (Linux): a process that leaves its
    group and loses its parent stays below us, instead of going to init. Once per process;
    False where the system has no such thing."""
    global _subreaper
    if _subreaper is None:
        _subreaper = False
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):
                libc = ctypes.CDLL(None, use_errno=True)
                _subreaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    return _subreaper


def under_subreaper(argv: list[str], report: int, drain: float, grace: float) -> list[str] | None:
    """`argv` run by an init of its own (`agent_init.py`), which writes the pid of `argv`'s
    process (the leader of its process group) to the file descriptor `report` and ends all
    `argv` leaves behind; None where that cannot be (not Linux, no Python interpreter)."""
    if not sys.platform.startswith("linux") or not sys.executable or getattr(sys, "frozen", False):
        return None
    init = str(Path(__file__).with_name("agent_init.py"))
    return [sys.executable, "-I", "-S", init, str(report), str(drain), str(grace), *argv]


@dataclass(frozen=True)
class ProcessInfo:
    """One process, as /proc showed it."""

    pid: int
    ppid: int
    pgid: int
    started: float  # seconds since boot
    zombie: bool


def process_table() -> dict[int, ProcessInfo]:
    """Every process we can see, in one pass over /proc (empty where there is no /proc)."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return {}
    for name in names:
        if name.isdigit() and (fields := _stat_fields(int(name))):
            table[int(name)] = ProcessInfo(
                pid=int(name),
                ppid=int(fields[1]),
                pgid=int(fields[2]),
                started=int(fields[19]) / _CLOCK_TICKS,
                zombie=fields[0] in "ZX",
            )
    return table


def descendants(pid: int, started: float) -> list[ProcessInfo]:
    """The processes below `pid` (its children, theirs...), zombies included, whatever their
    group; none when `pid` is no longer the process that started at `started` (a reused pid)."""
    table = process_table()
    root = table.get(pid)
    if root is None or not _same_time(root.started, started):
        return []
    children: defaultdict[int, list[ProcessInfo]] = defaultdict(list)
    for info in table.values():
        children[info.ppid].append(info)
    found: dict[int, ProcessInfo] = {}
    todo = [pid]
    while todo:
        for child in children[todo.pop()]:
            if child.pid not in found and child.pid != pid:
                found[child.pid] = child
                todo.append(child.pid)
    return list(found.values())


def signal_each(processes: Iterable[ProcessInfo], sig: int) -> None:
    """Signal those of these processes that are still the ones found (never a reused pid)."""
    for info in processes:
        if is_same_process(info.pid, info.started):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(info.pid, sig)


def reap(processes: Iterable[ProcessInfo]) -> None:
    """Collect the exit status of those of these processes that ended as children of ours:
    orphans we adopted (as a subreaper), that nobody else waits for. Only a zombie with the
    start time found is reaped (a zombie's pid is not reused: never another process's status)."""
    me = str(os.getpid())
    for info in processes:
        fields = _stat_fields(info.pid)
        if fields and fields[0] == "Z" and fields[1] == me and _same_start(fields, info.started):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(info.pid, os.WNOHANG)


def _same_start(fields: list[str], started: float) -> bool:
    return _same_time(int(fields[19]) / _CLOCK_TICKS, started)


def _same_time(a: float, b: float) -> bool:
    """Two start times of one process (they are read in clock ticks)."""
    return abs(a - b) < 1.5 / _CLOCK_TICKS
