"""Text shared by the CLI and the UI: terminal-safe text, one-line cuts, durations, numbers."""

from __future__ import annotations

import re

from .errors import InputError

# escape sequences: CSI (colours, cursor), OSC (title, clipboard), two-byte ones
_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[0-~])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 (but tab, newline), DEL, C1


def printable(text: str) -> str:
    """`text` without escape sequences and control characters: agent output cannot drive the
    user's terminal (colours, titles, the clipboard)."""
    return _CONTROL.sub("", _ESCAPE.sub("", text))


def one_line(text: str, width: int) -> str:
    """`text` on one line (whitespace runs made single spaces), cut to `width` with "…"."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def duration(seconds: float | None) -> str:
    """`4.2s`, `3m07s`, `2h05m`; `—` when unknown."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def parse_int(text: str, what: str, low: int, high: int | None = None) -> int:
    """A whole number in `low..high` from user input; InputError naming `what` otherwise."""
    try:
        value = int(text.strip())
    except ValueError:
        raise InputError(f"{what}: not a whole number: {text!r}") from None
    if high is not None and not low <= value <= high:
        raise InputError(f"{what}: must be between {low} and {high}")
    if value < low:
        raise InputError(f"{what}: must be at least {low}")
    return value
