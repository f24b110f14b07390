"""Records the archive could not take (busy beyond its retry, disk full, damaged), kept beside
it as JSON lines, fsynced, until they are written into the archive — exactly once: the archive
keeps how many entries of which journal file it holds (table `journal_replayed`).

The file's first line names its generation (a random id). Appends take an exclusive `flock`;
whoever writes the entries into the archive holds it until the file is removed, so no entry
goes to a file on its way out.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_FORMAT = "cowork-tui journal"


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entries: list[dict[str, Any]]) -> None:
        """Append entries durably (written and fsynced); OSError when the disk refuses."""
        lines = [json.dumps(entry, separators=(",", ":")) for entry in entries]
        with self._locked(create=True) as fd:
            assert fd is not None
            size = os.fstat(fd).st_size
            if size == 0:
                lines.insert(0, json.dumps({"format": _FORMAT, "generation": secrets.token_hex(8)}))
            elif os.pread(fd, 1, size - 1) != b"\n":
                lines.insert(0, "")  # after a line cut short by a crash: start a new one
            data = ("\n".join(lines) + "\n").encode()
            try:
                while data:
                    data = data[os.write(fd, data) :]
                os.fsync(fd)
            except OSError:  # none of them, not a part: they are appended again later
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                raise
            if size == 0:  # a new file: its name must last too (the entries are in it)
                with contextlib.suppress(OSError):
                    _fsync_folder(self.path.parent)

    @contextmanager
    def replaying(self) -> Iterator[tuple[str, list[dict[str, Any]]] | None]:
        """(generation, entries) with appends held off, None without a journal; the file is
        removed when the block ends without an error (the entries are in the archive then)."""
        with self._locked(create=False) as fd:
            if fd is None:
                yield None
                return
            with open(fd, "rb", closefd=False) as file:
                header, *lines = file.read().split(b"\n")
            yield _generation(header), [entry for line in lines if (entry := _entry(line))]
            with contextlib.suppress(OSError):  # left: its entries are known to be written
                self.path.unlink()

    def pending(self) -> list[dict[str, Any]]:
        """The entries waiting (read without a lock: for showing, not for writing)."""
        try:
            lines = self.path.read_bytes().split(b"\n")[1:]
        except FileNotFoundError:
            return []
        return [entry for line in lines if (entry := _entry(line))]

    @contextmanager
    def _locked(self, *, create: bool) -> Iterator[int | None]:
        """The journal file, exclusively locked: None when there is none (and not `create`)."""
        flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | (os.O_CREAT if create else 0)
        while True:
            try:
                fd = os.open(self.path, flags, 0o600)
            except FileNotFoundError:
                yield None
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if _same_file(fd, self.path):  # not removed while we waited for the lock
                    yield fd
                    return
            finally:
                os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _generation(header: bytes) -> str:
    try:
        data = json.loads(header)
    except ValueError:
        return ""  # cut short by a crash before any entry was complete
    return str(data.get("generation", "")) if isinstance(data, dict) else ""


def _entry(line: bytes) -> dict[str, Any] | None:
    """An entry, or None for a blank line or the remains of one cut short by a crash."""
    try:
        entry = json.loads(line) if line.strip() else None
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
