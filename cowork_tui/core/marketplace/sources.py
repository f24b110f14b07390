"""Where a marketplace entry's plugin lives: a folder inside the marketplace, or somewhere remote.

Claude Code's `source` forms: `"./relative"` (or a bare name under `metadata.pluginRoot`), and
objects `{"source": "github" | "url" | "git-subdir" | "npm" | "pip" | ..., ...}`. Remote ones
are listed as not available offline; a relative one escaping the marketplace folder is refused.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REMOTE = "remote — not available offline"


class SourceError(Exception):
    """The source cannot be used; the message is the problem, without the file or field."""


@dataclass(frozen=True)
class PluginSource:
    text: str  # as shown to the user: "./plugins/x", or the remote origin in words
    folder: Path | None = None  # on disk: where, resolved (is it a folder? its reader finds)


def resolve_source(value: Any, root: Path, plugin_root: str | None) -> PluginSource:
    """`value` of an entry's `source`, for a marketplace folder `root` (already resolved)."""
    if isinstance(value, str):
        return _from_string(value, root, plugin_root)
    if isinstance(value, dict):
        return PluginSource(f"{REMOTE}: {describe_remote(value)}")
    raise SourceError("must be a relative path string or a source object")


def _from_string(value: str, root: Path, plugin_root: str | None) -> PluginSource:
    text = value.strip()
    if not text:
        raise SourceError("must not be empty")
    if "://" in text or text.startswith("git@"):
        return PluginSource(f"{REMOTE}: {text}")
    if os.path.isabs(text):
        raise SourceError(f"{text!r} must be relative to the marketplace folder")
    relative = text in (".", "./") or text.startswith(("./", "../"))
    if not relative and not plugin_root:
        return PluginSource(f"{REMOTE}: {text}")
    base = root if relative else root / (plugin_root or "")
    folder = resolve_inside(root, base / text)
    if folder is None:
        raise SourceError(f"{text!r} escapes the marketplace folder")
    return PluginSource(text, folder)


def resolve_inside(root: Path, path: Path) -> Path | None:
    """`path` resolved (symlinks followed), or None when it leads out of `root` (resolved);
    SourceError when it cannot be resolved at all (a NUL byte, a symlink loop)."""
    if _plain_below(root, path):
        return path
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise SourceError(f"{str(path)!r} cannot be resolved: {exc}") from None
    return resolved if resolved.is_relative_to(root) else None


def _plain_below(root: Path, path: Path) -> bool:
    """Whether `path` is `root` (resolved) and then names that exist and are neither symlinks
    nor `..`: it is resolved already, as one lstat a name below `root` tells (`resolve` makes
    one a component of the whole path)."""
    depth = len(root.parts)
    below = path.parts[depth:]
    if path.parts[:depth] != root.parts or ".." in below:
        return False
    step = str(root)
    for name in below:
        step = os.path.join(step, name)
        try:
            if stat.S_ISLNK(os.lstat(step).st_mode):
                return False
        except (OSError, ValueError):  # missing, or a NUL byte: `resolve` says what it is
            return False
    return True


def describe_remote(source: dict[str, Any]) -> str:
    """A source object in words: `github owner/repo`, `npm @scope/pkg`, `git <url> (path)`."""
    kind = source.get("source")
    where = source.get("repo") or source.get("package") or source.get("url") or source.get("path")
    parts = [str(kind) if kind else "unknown source", str(where) if where else ""]
    if source.get("path") and where != source.get("path"):
        parts.append(f"({source['path']})")
    ref = source.get("ref") or source.get("version")
    if isinstance(ref, str) and ref:
        parts.append(f"@ {ref}")
    return " ".join(p for p in parts if p)
