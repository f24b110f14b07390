"""Adding, updating and removing the user's marketplaces: a folder read where it is, or a git
repository cloned into the data folder (one Claude Code has already is used, not cloned)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from ..errors import InputError
from ..models import Marketplace
from .claude_code import discover_claude
from .fetch import clone_marketplace, marketplace_git_url
from .fetch import update_marketplace as pull_marketplace
from .install_state import load_marketplace_folders, save_marketplace_folders
from .loaded_catalog import LoadedCatalog
from .loader import MARKETPLACE_FILE, load_marketplace
from .runner import FetchError, Progress


class MarketplaceEdits(LoadedCatalog):
    def add_marketplace(
        self, source: Path | str, *, progress: Progress | None = None
    ) -> tuple[Marketplace, str | None]:
        """Remember the marketplace `source`: a folder (or its marketplace.json), read where it
        is; else a git URL, a local repository or `owner/repo`, cloned into the data folder.
        Nothing is stored when it cannot be read. The note says why nothing was added: Claude
        Code has it (read-only, never cloned twice), or it is added already."""
        folder = _local_marketplace(source)
        if folder is None:
            claude = self._claude_has(str(source))
            if claude is not None:
                return (
                    claude,
                    f"Claude Code has it already as {claude.name!r}: using it (read-only)",
                )
            return self._add_folder(self._clone(str(source), progress)), None
        if folder in load_marketplace_folders(self.paths.marketplaces_file):
            return self._named(load_marketplace(folder).name), "added already"
        return self._add_folder(folder), None

    def _clone(self, source: str, progress: Progress | None) -> Path:
        clone = clone_marketplace(self.paths.data_dir, source, progress=progress)
        for warning in clone.warnings:
            self.warnings.append(f"marketplace {clone.name}: {warning}")
        return clone.folder

    def _claude_has(self, source: str) -> Marketplace | None:
        """Claude Code's marketplace cloned from the same repository as `source`, if any."""
        try:
            url = _same_repo(marketplace_git_url(source))
        except FetchError as exc:
            raise InputError(f"marketplace {source}: {exc}") from None
        names = {m.name for m in self._all_loaded() if m.kind == "claude"}
        for known in discover_claude().marketplaces if self._claude else []:
            if known.url and _same_repo(known.url) == url and known.name in names:
                return self._named(known.name)
        return None

    def _add_folder(self, folder: Path) -> Marketplace:
        """Remember the marketplace folder `folder`; a clone of ours is removed if refused."""
        try:
            market = load_marketplace(folder, kind="user")
            if market.errors:
                raise InputError("\n".join(market.errors))
            taken = next((m for m in self._all_loaded() if m.name == market.name), None)
            if taken is not None:
                raise InputError(
                    f"{folder / MARKETPLACE_FILE}: name: a marketplace named {market.name!r} is "
                    f"already known ({taken.origin})"
                )
            folders = load_marketplace_folders(self.paths.marketplaces_file)
            save_marketplace_folders(self.paths.marketplaces_file, [*folders, folder])
        except (InputError, OSError):
            if self._is_clone(folder):
                shutil.rmtree(folder, ignore_errors=True)
            raise
        loaded = self._all_loaded()  # what a reload would give, without reading it all again
        claude = next((n for n, m in enumerate(loaded) if m.kind == "claude"), len(loaded))
        loaded.insert(claude, market)
        self._shown = None
        return self._named(market.name)

    def update_marketplaces(
        self, name: str | None = None, *, progress: Progress | None = None
    ) -> list[tuple[Marketplace, str]]:
        """Pull the user's git marketplaces and re-read their folders (`name`: that one only);
        each with what changed in words. Claude Code's stay as Claude Code keeps them."""
        folders = load_marketplace_folders(self.paths.marketplaces_file)
        by_name = {m.name: m for m in self._all_loaded()}
        if name is not None:
            market = by_name.get(name)
            if market is None:
                raise InputError(
                    f"unknown marketplace {name!r} (see `cowork-tui marketplace list`)"
                )
            if market.kind != "user" or market.path not in folders:
                raise InputError(
                    f"marketplace {name!r} is {market.origin}: "
                    + ("Claude Code updates it" if market.kind == "claude" else "not updatable")
                )
        done: list[tuple[Path, str]] = []
        for folder in folders:
            market = next((m for m in self._all_loaded() if m.path == folder), None)
            if name is not None and (market is None or market.name != name):
                continue
            if self._is_clone(folder):
                clone = pull_marketplace(folder, progress=progress)
                self.warnings.extend(f"marketplace {clone.name}: {w}" for w in clone.warnings)
                moved = clone.previous != clone.commit
                done.append((folder, f"{(clone.previous or '')[:12]} -> {clone.commit[:12]}"
                             if moved else f"at {clone.commit[:12]}, no new commit"))  # fmt: skip
            else:
                done.append((folder, "re-read"))
        self.reload()
        markets = {m.path: m for m in self.marketplaces()}
        return [(markets[folder], what) for folder, what in done if folder in markets]

    def remove_marketplace(self, name: str) -> tuple[Marketplace, list[str]]:
        """Forget a marketplace the user added (its clone removed), and uninstall its items
        (their copies stay in the cache); the refs uninstalled."""
        market = next((m for m in self._all_loaded() if m.name == name), None)
        folders = load_marketplace_folders(self.paths.marketplaces_file)
        if market is None or market.path not in folders:
            known = f": it is {market.origin}" if market is not None else ""
            raise InputError(f"marketplace {name!r} was not added with `marketplace add`{known}")
        state = self._install_state()
        refs = [ref for ref in state.records if ref.rpartition("@")[2] == name]
        for ref in refs:
            state.remove(ref)
        save_marketplace_folders(self.paths.marketplaces_file,
                                 [f for f in folders if f != market.path])  # fmt: skip
        if market.path is not None and self._is_clone(market.path):
            shutil.rmtree(market.path, ignore_errors=True)
        self.reload()
        return market, refs

    def _is_clone(self, folder: Path) -> bool:
        """Whether `folder` is a marketplace cloned by cowork-tui (in the data folder)."""
        return folder.parent == self.paths.data_dir / "marketplaces" and (folder / ".git").is_dir()


def _local_marketplace(source: Path | str) -> Path | None:
    """The marketplace folder `source` names (itself, its .claude-plugin, its marketplace.json),
    or None when it is no such folder (a git URL, a repository to clone, `owner/repo`)."""
    try:
        folder = _marketplace_folder(Path(source).expanduser().resolve())
    except (OSError, RuntimeError, ValueError) as exc:
        raise InputError(f"{source}: cannot be resolved: {exc}") from None
    if (folder / MARKETPLACE_FILE).is_file():
        return folder
    text = str(source).strip()
    if "://" in text or "@" in text or _OWNER_REPO.fullmatch(text) or (folder / ".git").exists():
        return None  # git clones it, or says what is wrong
    if (folder / "HEAD").is_file() and (folder / "objects").is_dir():
        return None  # a bare repository
    raise InputError(f"{folder / MARKETPLACE_FILE}: not found (a marketplace folder has one)")


_OWNER_REPO = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")  # GitHub's, as `marketplace add` takes


def _same_repo(url: str) -> str:
    """A git URL compared loosely: no trailing `/` or `.git`, GitHub's without case."""
    url = url.strip().rstrip("/").removesuffix(".git")
    return url.lower() if "github.com" in url.lower() else url


def _marketplace_folder(path: Path) -> Path:
    """The marketplace folder from a path naming it, its .claude-plugin, or marketplace.json."""
    if path.name == MARKETPLACE_FILE.name:
        path = path.parent
    if path.name == MARKETPLACE_FILE.parent.name:
        path = path.parent
    return path
