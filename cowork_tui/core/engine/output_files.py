"""Agents' output files on disk: private (0600 files in 0700 folders, whatever the umask, DESIGN
§7), and the result each agent handed downstream, kept beside its output for a resumed session.
"""

from __future__ import annotations

import itertools
import logging
import os
import stat
from pathlib import Path
from typing import IO

from .backends.output import BoundedText

log = logging.getLogger(__name__)

DOWNSTREAM_CHARS = 65_536  # the part of an output handed to the next agent in memory


class OutputError(Exception):
    """An agent's output could not be written (e.g. the disk is full): its backend ends it."""


def open_output(output_file: Path, *, append: bool) -> IO[str]:
    """An agent's output file, open to write (appended to, or emptied), in a private folder."""
    private_folder(output_file.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = _private_open(output_file, flags)
    return open(fd, "w", encoding="utf-8")


def bounded(text: str) -> str:
    half = BoundedText(head=DOWNSTREAM_CHARS // 2, tail=DOWNSTREAM_CHARS // 2)
    half.add(text)
    return half.text()


def _result_file(output_file: Path) -> Path:
    return output_file.with_suffix(".result")


def save_result(output_file: Path, result: str) -> None:
    """Keep what downstream agents got, for a resumed session (beside the output file)."""
    target = _result_file(output_file)
    try:
        private_folder(target.parent)
        partial = target.with_suffix(".result.partial")
        fd = _private_open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        with open(fd, "w", encoding="utf-8") as file:
            file.write(result)
        partial.replace(target)
    except OSError as exc:  # a resume then reads the output file instead
        log.warning("cowork-tui: cannot keep the result of %s (%s)", output_file.stem, exc)


def private_folder(folder: Path) -> Path:
    """`folder`, made if missing (its missing parents too), readable by the user only: 0700
    whatever the umask, an existing one (an older cowork-tui's 0755) made so. OSError when it
    cannot be (e.g. a file is in the way)."""
    missing = list(itertools.takewhile(lambda path: not path.exists(), (folder, *folder.parents)))
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)
    for path in missing or [folder]:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode) and stat.S_IMODE(mode) != 0o700:
            path.chmod(0o700)
    return folder


def _private_open(path: Path, flags: int) -> int:
    """`os.open` of an output file, created 0600; an existing regular file is made 0600 too
    (whatever the umask, or an older cowork-tui's 0644), anything else (a device) left as is."""
    fd = os.open(path, flags, 0o600)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode) and stat.S_IMODE(mode) != 0o600:
            os.fchmod(fd, 0o600)
    except OSError:
        os.close(fd)
        raise
    return fd


def saved_result(output_file: Path) -> str | None:
    """The result kept when it succeeded; else (an older session) its output."""
    for file in (_result_file(output_file), output_file):
        if file.is_file():
            return read_bounded(file)
    return None


def read_bounded(file: Path) -> str:
    text = BoundedText(head=DOWNSTREAM_CHARS // 2, tail=DOWNSTREAM_CHARS // 2)
    try:
        with file.open(encoding="utf-8", errors="replace") as lines:
            for chunk in iter(lambda: lines.read(1 << 20), ""):
                text.add(chunk)
    except OSError:
        return ""
    return text.text()
