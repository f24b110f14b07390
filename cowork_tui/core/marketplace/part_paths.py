"""Where a plugin's part files are: the paths plugin.json and the marketplace entry list,
resolved inside the plugin folder; the plugin's folders, each read once (`os.scandir`); and
where their symlinks lead, kept inside the marketplace folder (else left out, with a warning).
"""

from __future__ import annotations

import operator
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sources import SourceError, resolve_inside

Entries = dict[str, os.DirEntry[str]]  # a folder's entries by name
_NAME = operator.attrgetter("name")


@dataclass
class Problems:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Fields:
    """The component fields of a plugin: plugin.json's and the marketplace entry's."""

    folder: Path  # the plugin folder, resolved
    root: Path  # the marketplace folder, resolved: where the plugin's symlinks may lead
    manifest: dict[str, Any]
    manifest_where: str  # `…/plugin.json: ` for messages
    entry: dict[str, Any]
    entry_where: str  # `marketplace.json: plugins[3].`
    at_root: bool  # the entry's source is the marketplace folder itself


# --- listed paths ------------------------------------------------------------------------


def component_paths(
    fields: Fields, top: Entries, key: str, problems: Problems
) -> list[tuple[Path, bool]]:
    """The plugin's `key/` folder (unless plugin.json lists `key`: that replaces it), plus what
    plugin.json and the entry list; each with whether it is a folder."""
    default = [] if key in fields.manifest else default_folder(fields, top, key, problems)
    listed = listed_paths(fields, key, problems)
    return [(path, True) for path in default] + [(path, path.is_dir()) for path in listed]


def listed_paths(
    fields: Fields, key: str, problems: Problems, *, entry_only: bool = False
) -> list[Path]:
    found = []
    sources = [(fields.entry, fields.entry_where)]
    if not entry_only:
        sources.insert(0, (fields.manifest, fields.manifest_where))
    for data, where in sources:
        value = data.get(key)
        if value is None:
            continue
        paths = [value] if isinstance(value, str) else value
        if not isinstance(paths, list):
            problems.errors.append(f"{where}{key}: must be a path or a list of paths")
            continue
        found += resolved_paths(
            fields.folder, paths, f"{where}{key}", problems, indexed=value is paths
        )
    return found


def resolved_paths(
    folder: Path, paths: list[Any], where: str, problems: Problems, indexed: bool = False
) -> list[Path]:
    found = []
    for j, path in enumerate(paths):
        spot = f"{where}[{j}]" if indexed else where
        if not isinstance(path, str) or not path.strip():
            problems.errors.append(f"{spot}: must be a relative path string")
            continue
        try:
            target = resolve_inside(folder, folder / path)
        except SourceError as exc:
            problems.errors.append(f"{spot}: {exc}")
            continue
        if target is None:
            problems.errors.append(f"{spot}: {path!r} escapes the plugin folder")
        elif not target.exists():
            problems.errors.append(f"{spot}: {path!r} not found")
        else:
            found.append(target)
    return found


def markdown_files(
    fields: Fields, paths: list[tuple[Path, bool]], problems: Problems
) -> list[Path]:
    """The files of `paths` (real ones), the `*.md` of the folders among them; each file once."""
    unique: dict[str, Path] = {}  # where it really is → as found
    for path, is_folder in paths:
        if not is_folder:
            unique.setdefault(str(path), path)
            continue
        for entry in scan(path):
            if entry.name.endswith(".md") and entry.is_file():
                real = real_path(fields, path, entry, problems)
                if real is not None:
                    unique.setdefault(str(real), as_found(path, entry, real))
    return list(unique.values())


# --- the plugin's folders, read once, and where their symlinks lead ----------------------


def folder_entries(folder: Path) -> Entries | None:
    """The entries of `folder` by name (one read says which parts a plugin has); None when
    there is no such folder, none when it cannot be read."""
    try:
        with os.scandir(folder) as entries:
            return {entry.name: entry for entry in entries}
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return {}


def scan(folder: Path) -> list[os.DirEntry[str]]:
    """The entries of `folder`, sorted by name (none when it is no folder or unreadable)."""
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=_NAME)
    except OSError:
        return []


def default_folder(fields: Fields, top: Entries, name: str, problems: Problems) -> list[Path]:
    """The plugin's own `name/` folder (where it really is), when it has one."""
    entry = top.get(name)
    if entry is None or not entry.is_dir():
        return []
    real = real_path(fields, fields.folder, entry, problems)
    return [real] if real is not None else []


def real_path(
    fields: Fields, folder: Path, entry: os.DirEntry[str], problems: Problems
) -> Path | None:
    """Where `entry` of `folder` (a real folder inside the marketplace) really is: itself, or
    where its symlink leads while that stays inside the marketplace (else None, warned)."""
    path = folder / entry.name  # a third the time of Path(entry.path)
    return inside_root(fields, path, problems) if entry.is_symlink() else path


def as_found(folder: Path, entry: os.DirEntry[str], real: Path) -> Path:
    """The path of `entry` of `folder`, which really is `real`."""
    return folder / entry.name if entry.is_symlink() else real


def inside_root(fields: Fields, link: Path, problems: Problems) -> Path | None:
    """The target of the symlink `link`, or None when it leads out of the marketplace folder
    or cannot be resolved (a loop): the check listed paths get; a warning names the link."""
    try:
        target = resolve_inside(fields.root, link)
    except SourceError as exc:
        problems.warnings.append(f"{link}: {exc}; not loaded")
        return None
    if target is None:
        problems.warnings.append(
            f"{link}: a symlink leading out of the marketplace folder "
            f"(to {os.readlink(link)!r}); not loaded"
        )
    return target
