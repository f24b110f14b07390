"""Remote plugins and git marketplaces fetched into the data folder, laid out as Claude Code
keeps them: plugins in a versioned cache, `<data>/plugins/cache/<marketplace>/<plugin>/<commit
or npm version>/`, marketplaces cloned into `<data>/marketplaces/<name>/`.

A fetch is staged in a hidden folder beside its destination and renamed into place, so a
failure leaves nothing; symbolic links that lead out of the fetched folder are removed (and
reported); every failure is one InputError line naming the plugin (or marketplace) and its source.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import InputError
from ..names import inside
from ..text import printable
from .git import GitTarget, checkout, git_url, github_url, head, origin_url, update
from .npm import NpmTarget, unpack
from .runner import DEFAULT_TIMEOUT, FetchError, Progress, Runner
from .sources import describe_remote

_OWNER_REPO = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


@dataclass(frozen=True)
class FetchedPlugin:
    folder: Path  # the plugin, in the cache
    source: str  # the source in words: `git-subdir https://… (plugins/x) @ main`
    version: str | None  # its plugin.json's `version`
    commit: str | None  # the full commit hash, for a git source
    npm_version: str | None  # the version packed, for an npm source
    warnings: tuple[str, ...] = ()  # symbolic links removed


@dataclass(frozen=True)
class MarketplaceClone:
    name: str
    folder: Path
    url: str
    commit: str
    previous: str | None = None  # the commit before `update_marketplace`
    warnings: tuple[str, ...] = ()  # symbolic links removed


def fetch_plugin(
    data_dir: Path,
    marketplace: str,
    plugin: str,
    source: Mapping[str, Any],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
) -> FetchedPlugin:
    """`plugin` of `marketplace` from its remote `source` (an object as marketplace.json has
    it), fetched into the cache unless it is there already (a pinned sha is, once fetched)."""
    words = describe_remote(dict(source))
    try:
        target = parse_source(source)
        versions = _inside(data_dir / "plugins" / "cache", marketplace, plugin)
        if isinstance(target, GitTarget) and target.sha and (versions / target.sha).is_dir():
            return _fetched(versions / target.sha, words, commit=target.sha)
        return _fetch_into(versions, target, words, Runner(timeout, progress))
    except FetchError as exc:
        raise InputError(_line(f"{plugin}@{marketplace} ({words}): {exc}")) from None


def parse_source(source: Mapping[str, Any]) -> GitTarget | NpmTarget:
    """What to fetch for a source object; FetchError naming the field at fault."""
    kind = source.get("source")
    if kind == "npm":
        package = _required(source, "package")
        return NpmTarget(package, _optional(source, "version"), _optional(source, "registry"))
    if kind == "github":
        url = github_url(_required(source, "repo"))
    elif kind in ("url", "git-subdir"):
        url = git_url(_required(source, "url"))
    else:
        raise FetchError(f"source {kind!r} cannot be installed (github, url, git-subdir or npm)")
    path = _required(source, "path") if kind == "git-subdir" else _optional(source, "path")
    sha = _optional(source, "sha")
    return GitTarget(url, sha.lower() if sha else None, _optional(source, "ref"), path)


def marketplace_git_url(text: str) -> str:
    """What `marketplace add TEXT` clones: `owner/repo` (not a local path) → its GitHub URL; a
    git URL as given; a local repository's path made absolute."""
    text = text.strip()
    if _OWNER_REPO.fullmatch(text) and not Path(text).exists():
        return github_url(text)
    return git_url(text)


def clone_marketplace(
    data_dir: Path,
    source: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
) -> MarketplaceClone:
    """The git marketplace `source` (see `marketplace_git_url`) cloned into
    `<data>/marketplaces/<name>/`, its name the one its marketplace.json gives."""
    try:
        url = marketplace_git_url(source)
        root = data_dir / "marketplaces"
        with _staging(root) as stage:
            repo = stage / "repo"
            commit = checkout(Runner(timeout, progress), GitTarget(url), repo)
            name = _marketplace_name(repo)
            folder = _inside(root, name)
            if folder.exists():
                raise FetchError(f"marketplace {name!r} is there already: {folder}")
            warnings = _remove_links_out(repo, "marketplace")
            repo.rename(folder)
    except FetchError as exc:
        raise InputError(_line(f"marketplace {source}: {exc}")) from None
    return MarketplaceClone(name, folder, url, commit, warnings=warnings)


def update_marketplace(
    folder: Path, *, timeout: float = DEFAULT_TIMEOUT, progress: Progress | None = None
) -> MarketplaceClone:
    """The marketplace cloned in `folder` moved to its remote's default branch as it is now."""
    run = Runner(timeout, progress)
    try:
        if not (folder / ".git").is_dir():
            raise FetchError("not a git clone")
        previous = head(run, folder)
        url = origin_url(run, folder)
        commit = update(run, folder)
        warnings = _remove_links_out(folder, "marketplace")
    except FetchError as exc:
        raise InputError(_line(f"marketplace {folder}: {exc}")) from None
    return MarketplaceClone(folder.name, folder, url, commit, previous, warnings)


def _fetch_into(
    versions: Path, target: GitTarget | NpmTarget, words: str, run: Runner
) -> FetchedPlugin:
    commit = npm_version = None
    with _staging(versions) as stage:
        if isinstance(target, NpmTarget):
            folder, npm_version = unpack(run, target, stage / "npm")
        else:
            repo = stage / "repo"
            commit = checkout(run, target, repo)
            shutil.rmtree(repo / ".git")
            folder = _subfolder(repo, target.path) if target.path else repo
        warnings = _remove_links_out(folder, "plugin")
        destination = _inside(versions, re.sub(r"[^\w.-]", "_", commit or npm_version or ""))
        try:
            folder.rename(destination)
        except OSError:
            if not destination.is_dir():  # else: the same commit or version, fetched meanwhile
                raise
    return _fetched(destination, words, commit, npm_version, warnings)


def _fetched(
    folder: Path,
    words: str,
    commit: str | None = None,
    npm_version: str | None = None,
    warnings: tuple[str, ...] = (),
) -> FetchedPlugin:
    return FetchedPlugin(folder, words, _plugin_version(folder), commit, npm_version, warnings)


@contextlib.contextmanager
def _staging(parent: Path) -> Iterator[Path]:
    """A new hidden folder in `parent`, removed on exit; after a failure the folders made for
    it are removed too, when empty."""
    made = [folder for folder in (parent, *parent.parents) if not folder.exists()]
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".fetch-", dir=parent))
    failed = True
    try:
        yield stage
        failed = False
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        for folder in made if failed else ():  # the deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()


def _subfolder(repo: Path, path: str) -> Path:
    """The folder `path` of the checkout: a real folder, reached through no symbolic link."""
    parts = PurePosixPath(path).parts
    folder = repo.joinpath(*parts)
    if not folder.is_dir() or folder.resolve() != repo.resolve().joinpath(*parts):
        raise FetchError(f"path {path!r} is not a folder of the repository")
    return folder


def _remove_links_out(folder: Path, what: str) -> tuple[str, ...]:
    """Remove the symbolic links under `folder` that lead out of it; each one in words."""
    root = folder.resolve()
    removed = []
    for parent, dirs, files in os.walk(folder):
        dirs[:] = [name for name in dirs if name != ".git"]
        for name in sorted((*dirs, *files)):
            link = Path(parent, name)
            if link.is_symlink() and not _leads_inside(link, root):
                removed.append(
                    _line(
                        f"{link.relative_to(folder)}: symbolic link to {os.readlink(link)} "
                        f"leads out of the {what} folder: removed"
                    )
                )
                link.unlink()
    return tuple(removed)


def _leads_inside(link: Path, root: Path) -> bool:
    try:
        return link.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a loop of links
        return False


def _marketplace_name(repo: Path) -> str:
    file = repo / ".claude-plugin" / "marketplace.json"
    try:
        name = json.loads(file.read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        raise FetchError("not a marketplace: no readable .claude-plugin/marketplace.json") from None
    if not isinstance(name, str):
        raise FetchError(".claude-plugin/marketplace.json: name: must be a string")
    return name


def _plugin_version(folder: Path) -> str | None:
    try:
        data = json.loads((folder / ".claude-plugin" / "plugin.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, str) else None


def _inside(root: Path, *names: str) -> Path:
    """`root/names...`, each name one safe folder name (no separator, no `..`)."""
    for name in names:
        try:
            root = inside(root, name)
        except ValueError as exc:
            raise FetchError(str(exc)) from None
    return root


def _required(source: Mapping[str, Any], key: str) -> str:
    value = _optional(source, key)
    if value is None:
        raise FetchError(f"{key} is missing")
    return value


def _optional(source: Mapping[str, Any], key: str) -> str | None:
    value = source.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise FetchError(f"{key} must be a non-empty string")
    return value.strip()


def _line(text: str) -> str:
    """One line, no escape sequence: item data reaches the terminal."""
    return " ".join(printable(text).split())
