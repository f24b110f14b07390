"""Names from item data that become file names (plugin and agent names, step and subtask ids):
one rule, checked where they are read, and checked again where a path is built."""

from __future__ import annotations

import re
from pathlib import Path

# no separator, no leading dot: such a name is one entry of the folder it is put in
_SAFE = re.compile(r"^[A-Za-z0-9][\w.-]*$", re.ASCII)
RULE = "must be letters, digits, '-', '_' or '.', starting with a letter or digit"


def is_safe(name: str) -> bool:
    return bool(_SAFE.match(name))


def inside(folder: Path, name: str) -> Path:
    """`folder / name` for a safe name; ValueError for any other (it could leave `folder`)."""
    if not is_safe(name):
        raise ValueError(f"{name!r} cannot name a file: it {RULE}")
    return folder / name
