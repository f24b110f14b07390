"""Reading JSON files with errors that name the file and the spot, and writing them safely."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import InputError, machine_cause

# the machine's reasons a file cannot be written, as a user says them


class WriteError(OSError):
    """A file cowork-tui keeps cannot be written, for a reason of the machine's (exit 1 on the
    CLI): `read-only: /home/u/.config/cowork-tui/marketplaces.json (Read-only file system)`."""

    def __init__(self, file: Path, exc: OSError) -> None:
        cause = machine_cause(exc) or "cannot write"
        self.message = f"{cause}: {file} ({exc.strerror or exc}); nothing was changed"
        super().__init__(exc.errno, self.message)

    def __str__(self) -> str:
        return self.message


def read_json(file: Path) -> Any:
    """The parsed file; InputError naming the file (and line/column) when it cannot be used."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{file}: not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{file}: cannot read: {exc}") from None
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{file}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{file}: not valid JSON: {exc or 'nested too deeply'}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def write_private_json(file: Path, data: Any) -> None:
    """Write `data` atomically (temp file + os.replace), readable by the owner only (0600);
    WriteError, the file as it was, when the machine refuses (read-only, full)."""
    try:
        _write_atomically(file, data)
    except OSError as exc:
        raise WriteError(file, exc) from exc


def _write_atomically(file: Path, data: Any) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, file)
    except BaseException:
        with contextlib.suppress(OSError):  # the error that brought us here is the one to tell
            Path(tmp).unlink(missing_ok=True)
        raise
