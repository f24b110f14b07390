"""The marketplace table's rows as last shown, kept so the TUI's first screen shows them at once,
before the catalog loads (no pydantic, no YAML: this module imports neither).

The cache is valid while everything it was built from is unchanged: the files that say which
marketplaces and installs there are, and every file of the folders the catalog read (their
count, sizes and times).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

VERSION = 1
Row = list[list[str]]  # the cells of a row: [text, style]


def claude_files(home: Path) -> list[Path]:
    """Claude Code's files that say which marketplaces and plugins it has."""
    return [
        home / ".claude" / "plugins" / "known_marketplaces.json",
        home / ".claude" / "plugins" / "installed_plugins.json",
        home / ".claude" / "settings.json",
    ]


def load_rows(cache: Path, files: Iterable[Path]) -> list[tuple[str, Row]] | None:
    """The cached (key, cells) rows, or None when anything they came from changed."""
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data["version"] != VERSION or data["files"] != _stamps(files):
            return None
        if data["folders"] != {folder: _tree(Path(folder)) for folder in data["folders"]}:
            return None
        return [(key, cells) for key, cells in data["rows"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_rows(
    cache: Path, rows: list[tuple[str, Row]], files: Iterable[Path], folders: Iterable[Path]
) -> None:
    """Keep `rows`, with the state of `files` and `folders` they were built from (private,
    written whole or not at all)."""
    data: dict[str, Any] = {
        "version": VERSION,
        "files": _stamps(files),
        "folders": {str(f): _tree(f) for f in sorted(set(folders))},
        "rows": rows,
    }
    cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)
        os.replace(partial, cache)
    except OSError:  # a cache: not having one only costs time
        partial.unlink(missing_ok=True)


def _stamps(files: Iterable[Path]) -> dict[str, list[int]]:
    stamps = {}
    for file in files:
        try:
            stat = file.stat()
        except OSError:
            stamps[str(file)] = [0, 0]
        else:
            stamps[str(file)] = [stat.st_mtime_ns, stat.st_size]
    return stamps


def _tree(folder: Path) -> list[int]:
    """[files, total size, latest time] of everything under `folder` (links not followed)."""
    count = size = latest = 0
    stack = [folder]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                stat = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            latest = max(latest, stat.st_mtime_ns)
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            else:
                count, size = count + 1, size + stat.st_size
    return [count, size, latest]
