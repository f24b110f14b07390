"""The user's Claude Code marketplaces and installed plugins, read only and leniently.

Sources (under `Path.home()`, resolved at call time):
- `~/.claude/plugins/known_marketplaces.json`: `{name: {source: {...}, installLocation, ...}}`
- `~/.claude/settings.json` → `extraKnownMarketplaces`: `{name: {source: {...}}}`
- `~/.claude/plugins/installed_plugins.json`: `{version: 2, plugins: {"p@m": [{installPath,
  version, scope, ...}]}}` (version 1 held one object per plugin instead of a list)
A marketplace source is `{"source": "directory" | "file", "path"}` (on disk) or `github`/`git`/
`url` (remote; readable when Claude Code keeps a local copy at `installLocation`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from .git import github_url
from .json_files import read_json
from .loader import MARKETPLACE_FILE
from .runner import FetchError
from .sources import REMOTE, describe_remote


@dataclass(frozen=True)
class ClaudeMarketplace:
    name: str
    origin: str  # in words: a folder, or "github owner/repo"
    folder: Path | None  # where .claude-plugin/marketplace.json is, when on disk
    url: str | None = None  # the git URL it was added from, when remote


@dataclass(frozen=True)
class ClaudeInstall:
    plugin: str
    marketplace: str
    path: Path | None  # the installed copy, when it is there


@dataclass
class ClaudeSetup:
    marketplaces: list[ClaudeMarketplace] = field(default_factory=list)
    installs: list[ClaudeInstall] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def discover_claude() -> ClaudeSetup:
    home = Path.home()
    plugins_dir = home / ".claude" / "plugins"
    setup = ClaudeSetup()
    known = _json_object(plugins_dir / "known_marketplaces.json", setup)
    settings = _json_object(home / ".claude" / "settings.json", setup)
    extra = settings.get("extraKnownMarketplaces")
    extra = extra if isinstance(extra, dict) else {}
    for name, spec in [*known.items(), *((n, s) for n, s in extra.items() if n not in known)]:
        if isinstance(spec, dict) and isinstance(name, str) and "@" not in name:
            setup.marketplaces.append(_marketplace(name, spec, home))
    installed = _json_object(plugins_dir / "installed_plugins.json", setup).get("plugins")
    for ref, records in installed.items() if isinstance(installed, dict) else []:
        plugin, _, market = str(ref).rpartition("@")
        if plugin and market:
            setup.installs.append(ClaudeInstall(plugin, market, _install_path(records)))
    return setup


def _json_object(file: Path, setup: ClaudeSetup) -> dict[str, Any]:
    if not file.exists():
        return {}
    try:
        data = read_json(file)
    except InputError as exc:
        setup.warnings.append(f"{exc} (Claude Code's file, skipped)")
        return {}
    return data if isinstance(data, dict) else {}


def _marketplace(name: str, spec: dict[str, Any], home: Path) -> ClaudeMarketplace:
    source = spec.get("source")
    source = source if isinstance(source, dict) else {}
    kind, path = source.get("source"), source.get("path")
    if kind in ("directory", "file") and isinstance(path, str):
        folder = _folder_of(home / Path(path).expanduser())
        return ClaudeMarketplace(name, str(folder), folder)
    remote = describe_remote(source) if source else "unknown source"
    url = _git_url(source)
    location = spec.get("installLocation")
    if isinstance(location, str) and (Path(location) / MARKETPLACE_FILE).is_file():
        return ClaudeMarketplace(name, f"{remote} (local copy: {location})", Path(location), url)
    return ClaudeMarketplace(name, f"{REMOTE}: {remote}", None, url)


def _git_url(source: dict[str, Any]) -> str | None:
    """The URL of a `github` (`repo`) or `git`/`url` (`url`) marketplace source."""
    try:
        if source.get("source") == "github" and isinstance(source.get("repo"), str):
            return github_url(source["repo"])
        if isinstance(source.get("url"), str):
            return str(source["url"])
    except FetchError:
        pass
    return None


def _folder_of(path: Path) -> Path:
    """A marketplace folder from a `path` naming the folder or its marketplace.json."""
    if path.name == MARKETPLACE_FILE.name and path.parent.name == MARKETPLACE_FILE.parent.name:
        return path.parent.parent
    return path


def _install_path(records: Any) -> Path | None:
    for record in records if isinstance(records, list) else [records]:
        location = record.get("installPath") if isinstance(record, dict) else None
        if isinstance(location, str) and Path(location).is_dir():
            return Path(location)
    return None
