"""Who owns a session, told apart in a way that holds across PID namespaces and pid reuse.

Each process that writes sessions holds an exclusive `flock` on a lock file of its own,
`owners/<id>.lock` beside the archive, for as long as it runs. A held lock proves its owner
alive — the kernel drops it when the process dies, whichever PID namespace either side is in,
and a pid's reuse changes nothing. A free lock, or no lock file, proves it dead. The owner's
pid, start time and PID namespace are kept too: its process groups may be signalled only from
the same namespace, where its pids name the same processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..procs import pid_namespace, process_start_time

_ID = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True)
class Owner:
    id: str | None  # its lock's; None when no lock could be made: the pid rule of old
    pid: int
    started: float  # seconds since boot (0.0: unknown)
    pid_ns: int | None  # the inode of its /proc/self/ns/pid (None: unknown)


def owners_folder(archive: Path) -> Path:
    return archive.parent / "owners"


class OwnerLock:
    """This process's lock, taken when it is made and held until `release` (or its end)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        lock_id = secrets.token_hex(8)
        self._fd: int | None = None
        with contextlib.suppress(OSError):  # a read-only or full disk: the pid rule of old
            self._fd = _take(folder, lock_id)
        pid = os.getpid()
        self.owner = Owner(
            lock_id if self._fd is not None else None,
            pid,
            process_start_time(pid) or 0.0,
            pid_namespace(),
        )

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            (self.folder / f"{self.owner.id}.lock").unlink()
        os.close(self._fd)
        self._fd = None


def _take(folder: Path, lock_id: str) -> int:
    """Make the lock file and lock it; it appears under its name already locked (a sweep
    never sees it free while its owner lives)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    making = folder / f".{lock_id}.new"
    fd = os.open(making, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(making, folder / f"{lock_id}.lock")
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            making.unlink()
        raise
    return fd


def lock_held(folder: Path, owner_id: str) -> bool:
    """The owner's lock is held: it lives. False only when it is provably dead (its lock free,
    or its file gone); an id or a file that cannot be checked counts as alive."""
    if not _ID.fullmatch(owner_id):
        return True
    try:
        fd = os.open(folder / f"{owner_id}.lock", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:  # held (EWOULDBLOCK), or the lock cannot be tried
        return True
    finally:
        os.close(fd)
    return False


def forget(folder: Path, owner_id: str) -> None:
    """Remove a dead owner's lock file (locked while it goes: never a live one's)."""
    path = folder / f"{owner_id}.lock"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        path.unlink()
    except OSError:
        pass
    finally:
        os.close(fd)


def lock_ids(folder: Path) -> list[str]:
    """The ids of the lock files there (live owners' and dead ones' not yet forgotten)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [name[:-5] for name in names if name.endswith(".lock") and _ID.fullmatch(name[:-5])]
