"""Errors a user can act on: they name the file and the field at fault."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the TUI's first frame imports this module, before pydantic loads
    from pydantic import ValidationError


class InputError(Exception):
    """Bad input from the user or a file (exit code 2 on the CLI)."""


class ControlError(Exception):
    """A control that cannot apply now (e.g. pausing a finished session)."""


_MACHINE_CAUSES = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "disk I/O error",
}


def machine_cause(exc: OSError) -> str | None:
    """What the machine refused, as a user says it ("disk full", "read-only"...), if it is
    one of those."""
    return _MACHINE_CAUSES.get(exc.errno or 0)


def describe_error(exc: BaseException) -> str:
    """`OSError: [Errno 28] No space left on device`, also from inside a task group's wrapper."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def field_path(loc: tuple[int | str, ...]) -> str:
    """`("plugins", 3, "cowork", "maxParallelAgents")` → `plugins[3].cowork.maxParallelAgents`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def describe_validation_error(file: str, exc: ValidationError, prefix: str = "") -> str:
    """One line per problem: `file: path.to.field: message`."""
    lines = []
    for err in exc.errors():
        path = field_path(tuple(err["loc"]))
        where = (
            ".".join(p for p in (prefix, path) if p) if not path.startswith("[") else prefix + path
        )
        lines.append(f"{file}: {where or '(root)'}: {err['msg'].lower()}")
    return "\n".join(lines)
