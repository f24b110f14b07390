"""The catalog: every known marketplace (bundled, user-added, Claude Code's) and install state.

Trust: an item that can act on the machine (command agents, MCP servers, hooks) is installed
only once the user saw all of it and agreed; hashes of what they agreed to are stored. A run
checks the commands again (`check_trust`); MCP servers and hooks run only while their hash
still matches (`Item.extras_trusted`). The bundled marketplace ships with the package and is
trusted.
"""

from __future__ import annotations

import difflib
import re
import shutil
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..models import Item, Marketplace
from ..paths import Paths
from .claude_code import ClaudeInstall, discover_claude
from .dependencies import Dependency, parse_dependencies, satisfies
from .fetch import FetchedPlugin, clone_marketplace, fetch_plugin, marketplace_git_url
from .fetch import update_marketplace as pull_marketplace
from .install_state import InstallState, load_marketplace_folders, save_marketplace_folders
from .json_files import read_json
from .loader import (
    MARKETPLACE_FILE,
    PLUGIN_FILE,
    CachedPlugin,
    load_marketplace,
    load_plugin_folder,
    marketplace_extras,
)
from .rows_cache import claude_files
from .runner import FetchError, Progress
from .trust import acts_on_the_machine, commands_hash, extras_hash, trust_prompt

Extras = tuple[dict[str, dict[str, Any]], dict[str, str]]  # raw entries by name, renames
BUNDLED_DIR = Path(__file__).resolve().parents[2] / "bundled"


class Catalog:
    def __init__(self, paths: Paths, *, bundled: Path = BUNDLED_DIR, claude: bool = True) -> None:
        """`claude=False` leaves Claude Code's marketplaces out (e.g. for tests)."""
        self.paths = paths
        self._bundled = bundled
        self._claude = claude
        self._loaded: list[Marketplace] | None = None
        self._state: InstallState | None = None
        self._shown: list[Marketplace] | None = None  # the loaded ones with install state
        self._refs: dict[str, Item] = {}  # the first item of each ref, of `_shown`
        self.warnings: list[str] = []  # Claude Code files that could not be read
        self._fetched: dict[str, tuple[FetchedPlugin, Item]] = {}  # the last fetch of a ref
        self._extras: dict[Path, Extras] = {}  # `marketplace_extras` of each, as loaded

    # --- reading ----------------------------------------------------------------------

    def marketplaces(self) -> list[Marketplace]:
        """Bundled first, then the user's, then Claude Code's; items carry install state.
        A name already taken by an earlier marketplace is skipped."""
        return list(self._with_states())

    def items(self) -> list[Item]:
        return [item for market in self._with_states() for item in market.items]

    def is_installed(self, ref: str) -> bool:
        """Whether the item `plugin@marketplace` is known and installed."""
        self._with_states()
        item = self._refs.get(ref)
        return item is not None and item.installed

    def find(self, ref: str) -> Item:
        """`plugin` or `plugin@marketplace`; InputError when unknown or ambiguous."""
        items = self.items()
        name, _, market = ref.strip().partition("@")
        unique: dict[str, Item] = {}  # a later entry of the same ref is a broken duplicate
        for item in items:
            if item.name == name and (not market or item.marketplace == market):
                unique.setdefault(item.ref, item)
        found = list(unique.values())
        if len(found) == 1:
            return found[0]
        if found:
            refs = ", ".join(i.ref for i in found)
            raise InputError(f"item {ref!r} is ambiguous: say which one ({refs})")
        close = difflib.get_close_matches(ref, [i.ref for i in items] + [i.name for i in items])
        hint = f"; did you mean {', '.join(dict.fromkeys(close))}?" if close else ""
        raise InputError(f"unknown item {ref!r}{hint} (see `cowork-tui marketplace list`)")

    def cache_inputs(self) -> tuple[list[Path], list[Path]]:
        """What the catalog is read from: the files that list marketplaces and installs, and
        the folders of every marketplace and installed plugin it read."""
        files = [self.paths.marketplaces_file, self.paths.installed_file,
                 *claude_files(Path.home())]  # fmt: skip
        markets = [m.path for m in self._all_loaded() if m.path is not None]
        plugins = [
            item.path
            for market in self._all_loaded()
            for item in market.items
            if item.path is not None and not any(item.path.is_relative_to(m) for m in markets)
        ]
        return files, [*markets, *plugins]

    def stamp(self) -> tuple[float, ...]:
        """Changes when marketplaces are added or items installed (by any process)."""
        files = (self.paths.marketplaces_file, self.paths.installed_file)
        return tuple(f.stat().st_mtime_ns if f.exists() else 0 for f in files)

    def reload(self) -> None:
        self._loaded = None
        self._state = None
        self._shown = None

    # --- changing ---------------------------------------------------------------------

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

    def is_remote(self, item: Item) -> bool:
        """Whether `item`'s entry has a remote source: installing it fetches it."""
        market = self._market_of(item)
        if market is None or market.path is None:
            return False
        entry = self._extras_of(market.path)[0].get(item.name, {})
        return _remote_source(entry.get("source")) is not None

    def fetch(self, ref: str, *, progress: Progress | None = None) -> tuple[FetchedPlugin, Item]:
        """The remote item `ref` fetched into the cache, and the item as loaded from there
        (installed or not, as it was: the caller installs it)."""
        item = self.find(ref)
        market = self._market_of(item)
        entry = self._extras_of(market.path)[0].get(item.name, {}) if market and market.path else {}
        source = _remote_source(entry.get("source"))
        if market is None or market.path is None or source is None:
            raise InputError(f"{item.ref}: not a remote item: {item.source or 'no source'}")
        fetched = fetch_plugin(
            self.paths.data_dir, item.marketplace, item.name, source, progress=progress
        )
        cached = {item.ref: CachedPlugin(fetched.folder, _cached_words(fetched.source,
                                         fetched.commit, fetched.npm_version))}  # fmt: skip
        loaded = load_marketplace(market.path, kind=market.kind, name=market.name,
                                  origin=market.origin, cached=cached)  # fmt: skip
        found = next(i for i in loaded.items if i.name == item.name)
        found = found.model_copy(update={"warnings": (*found.warnings, *fetched.warnings)})
        self._fetched[item.ref] = (fetched, self._with_state(loaded, found))
        return self._fetched[item.ref]

    def install(self, ref: str, *, yes: bool, progress: Progress | None = None) -> Item:
        """Install an item; one that can act on the machine needs `yes` (the user saw it). A
        remote one is fetched first (`progress` hears git's or npm's lines)."""
        item = self.find(ref)
        if self.is_bundled(item):
            return item
        fetched = None
        if self.is_remote(item):  # fetched just now to be shown, else fetched here
            shown = self._fetched.pop(item.ref) if item.ref in self._fetched else None
            fetched, item = shown or self.fetch(item.ref, progress=progress)
            self._fetched.pop(item.ref, None)
        if not item.available:
            raise InputError(f"{item.ref}: cannot be installed: {_why_unavailable(item)}")
        if self.needs_confirmation(item) and not yes:
            raise InputError(
                f"{item.ref} {trust_prompt(item)}\n"
                f"Check them, then confirm with: cowork-tui install {item.ref} --yes"
            )
        self._install_state().add(item, fetched)
        self._loaded = None if fetched else self._loaded  # it loads from the cache now
        self._shown = None
        return self.find(item.ref)

    def unmet_dependencies(self, item: Item) -> list[tuple[Dependency, str]]:
        """Its dependencies not installed, or installed at a version out of range; each with
        why in words."""
        unmet = []
        for dependency in self.dependencies(item):
            ref = dependency.ref(item.marketplace)
            self._with_states()
            have = self._refs.get(ref)
            if have is None or not have.installed:
                unmet.append(
                    (dependency, f"item {ref} is not installed (cowork-tui install {ref})")
                )
            elif dependency.version and not satisfies(have.version, dependency.version):
                unmet.append((dependency, f"item {ref} is at version {have.version or 'unknown'}, "
                              f"{item.ref} needs {dependency.version}"))  # fmt: skip
        return unmet

    def dependencies(self, item: Item) -> list[Dependency]:
        """`dependencies` of its marketplace entry and of its plugin.json, unreadable ones
        left out (`marketplace check` says why)."""
        return self._dependencies(item)[0]

    def _dependencies(self, item: Item) -> tuple[list[Dependency], list[str]]:
        market = self._market_of(item)
        entry = self._extras_of(market.path)[0].get(item.name, {}) if market and market.path else {}
        found, problems = parse_dependencies(
            entry.get("dependencies"), f"{market.path if market else ''}: {item.name}.dependencies"
        )
        plugin_file = item.path / PLUGIN_FILE if item.path else None
        if plugin_file is not None and plugin_file.is_file():
            try:
                manifest = read_json(plugin_file)
            except InputError:
                manifest = {}  # the item's own errors say so
            more, wrong = parse_dependencies(
                manifest.get("dependencies") if isinstance(manifest, dict) else None,
                f"{plugin_file}: dependencies",
            )
            found += [d for d in more if d.name not in {f.name for f in found}]
            problems += wrong
        return found, problems

    def _extras_of(self, folder: Path) -> Extras:
        """A marketplace's raw entries and renames, read once per load (every item asks)."""
        if folder not in self._extras:
            self._extras[folder] = marketplace_extras(folder)
        return self._extras[folder]

    def _market_of(self, item: Item) -> Marketplace | None:
        return next((m for m in self._all_loaded() if m.name == item.marketplace), None)

    def uninstall(self, ref: str) -> Item:
        item = self.find(ref)
        if self.is_bundled(item):
            raise InputError(f"{item.ref}: bundled items come installed and cannot be uninstalled")
        if item.ref not in self._install_state().records:
            raise InputError(f"{item.ref}: not installed")
        self._install_state().remove(item.ref)
        self._shown = None
        return self.find(item.ref)

    def needs_confirmation(self, item: Item) -> bool:
        """Whether installing `item` needs the user to agree to what it can do."""
        if not acts_on_the_machine(item) or self.is_bundled(item):
            return False
        record = self._install_state().records.get(item.ref)
        return record is None or (record.commands_sha256, record.extras_sha256) != (
            commands_hash(item),
            extras_hash(item),
        )

    def _commands_unconfirmed(self, item: Item) -> bool:
        digest = commands_hash(item)
        if digest is None or self.is_bundled(item):
            return False
        record = self._install_state().records.get(item.ref)
        return record is None or record.commands_sha256 != digest

    def is_bundled(self, item: Item) -> bool:
        """Bundled items come installed and trusted, for good."""
        return any(m.kind == "bundled" and m.name == item.marketplace for m in self._all_loaded())

    def check_trust(self, item: Item) -> None:
        """Before a run: InputError unless the item's commands are the ones the user trusted."""
        if not self._commands_unconfirmed(item):
            return
        if item.ref not in self._install_state().records:
            raise InputError(
                f"{item.ref}: not installed; it {trust_prompt(item)}\n"
                f"Check them, then install with: cowork-tui install {item.ref} --yes"
            )
        raise InputError(
            f"{item.ref}: its commands changed since you installed it; now it "
            f"{trust_prompt(item)}\n"
            f"Check them, then trust them with: cowork-tui install {item.ref} --yes"
        )

    # --- internals --------------------------------------------------------------------

    def _install_state(self) -> InstallState:
        if self._state is None:
            self._state = InstallState(self.paths.installed_file)
        return self._state

    def _all_loaded(self) -> list[Marketplace]:
        if self._loaded is None:
            self._extras = {}
            self._loaded = self._load_all()
        return self._loaded

    def _with_states(self) -> list[Marketplace]:
        """The loaded marketplaces, their items with install state (made once per change)."""
        if self._shown is None:
            shown = [
                m.model_copy(update={"items": tuple(self._with_state(m, i) for i in m.items)})
                for m in self._all_loaded()
            ]
            self._refs = {}
            for item in (item for market in shown for item in market.items):
                self._refs.setdefault(item.ref, item)
            self._shown = shown
        return self._shown

    def _named(self, name: str) -> Marketplace:
        return next(m for m in self.marketplaces() if m.name == name)

    def _with_state(self, market: Marketplace, item: Item) -> Item:
        if market.kind == "bundled":
            return item.model_copy(
                update={"installed": True, "trusted": True, "extras_trusted": True}
            )
        record = self._install_state().records.get(item.ref)
        if record is None:
            return item
        commands = record.commands_sha256 == commands_hash(item)
        extras = record.extras_sha256 == extras_hash(item)
        return item.model_copy(
            update={"installed": True, "trusted": commands and extras, "extras_trusted": extras}
        )

    def _load_all(self) -> list[Marketplace]:
        cached = self._cached()
        markets = [
            load_marketplace(self._bundled, kind="bundled", origin="bundled with cowork-tui")
        ]
        folders = load_marketplace_folders(self.paths.marketplaces_file)
        markets += [load_marketplace(folder, kind="user", cached=cached) for folder in folders]
        if self._claude:
            claude, self.warnings = _claude_marketplaces(cached)
            markets += claude
        unique: dict[str, Marketplace] = {}
        for market in markets:
            unique.setdefault(market.name, market)
        return [self._follow_renames(market, cached) for market in unique.values()]

    def _cached(self) -> dict[str, CachedPlugin]:
        """The installed remote items (by ref) whose copy is in the cache, as recorded."""
        cache = (self.paths.data_dir / "plugins" / "cache").resolve()
        cached = {}
        for ref, record in self._install_state().records.items():
            folder = Path(record.folder).resolve() if record.folder else None
            if folder is not None and record.source and folder.is_relative_to(cache):
                words = _cached_words(record.source, record.commit, record.version)
                cached[ref] = CachedPlugin(folder, words)
        return cached

    def _follow_renames(self, market: Marketplace, cached: dict[str, CachedPlugin]) -> Marketplace:
        """Install records under a plugin's old name follow the marketplace's `renames`."""
        state = self._install_state()
        names = {item.name for item in market.items}
        stale = [r for r in state.records if r.rpartition("@")[2] == market.name
                 and r.rpartition("@")[0] not in names]  # fmt: skip
        if not stale or market.path is None:
            return market
        before = set(state.records)
        state.follow_renames(market.name, self._extras_of(market.path)[1])
        if set(state.records) == before:
            return market
        cached |= self._cached()  # a renamed remote item loads from its copy, as before
        return load_marketplace(market.path, kind=market.kind, name=market.name,
                                origin=market.origin, cached=cached)  # fmt: skip


def missing_requirements(item: Item, catalog: Catalog) -> list[str]:
    """`cowork.requires` not met: executables missing from PATH, items not installed; and its
    `dependencies` not installed or out of their version range."""
    missing = [why for _, why in catalog.unmet_dependencies(item)]
    for need in item.cowork.requires:
        if "@" in need:
            if not catalog.is_installed(need):
                missing.append(f"item {need} is not installed (cowork-tui install {need})")
        elif shutil.which(need) is None:
            missing.append(f"executable {need!r} not found on PATH")
    return missing


def _why_unavailable(item: Item) -> str:
    return "; ".join(item.errors) if item.errors else item.source


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


def _remote_source(value: object) -> dict[str, object] | None:
    """An entry's source as a source object to fetch, or None when it is a local path."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and ("://" in value or value.strip().startswith("git@")):
        return {"source": "url", "url": value.strip()}
    return None


def _cached_words(source: str, commit: str | None, version: str | None) -> str:
    """A remote item's source as installed: `github o/r @ main · commit 0123456789ab`."""
    if commit:
        return f"{source} · commit {commit[:12]}"
    return f"{source} · version {version}" if version else source


def _marketplace_folder(path: Path) -> Path:
    """The marketplace folder from a path naming it, its .claude-plugin, or marketplace.json."""
    if path.name == MARKETPLACE_FILE.name:
        path = path.parent
    if path.name == MARKETPLACE_FILE.parent.name:
        path = path.parent
    return path


def _claude_marketplaces(
    cached: dict[str, CachedPlugin],
) -> tuple[list[Marketplace], list[str]]:
    """Claude Code's marketplaces, plus the plugins it installed that they do not list; and
    warnings about its files that could not be read. `cached`: remote items we installed."""
    setup = discover_claude()
    markets: dict[str, Marketplace] = {}
    for known in setup.marketplaces:
        if known.folder is not None:
            market = load_marketplace(
                known.folder, kind="claude", name=known.name, origin=known.origin, cached=cached
            )
        else:
            market = Marketplace(
                name=known.name, kind="claude", origin=known.origin, available=False
            )
        markets[known.name] = market
    installs: dict[str, list[ClaudeInstall]] = {}  # by marketplace
    for install in setup.installs:
        installs.setdefault(install.marketplace, []).append(install)
    for name, group in installs.items():
        market = markets.get(name) or Marketplace(
            name=name, kind="claude", origin="Claude Code installs"
        )
        markets[name] = _with_claude_installs(market, group)
    return list(markets.values()), setup.warnings


def _with_claude_installs(market: Marketplace, installs: list[ClaudeInstall]) -> Marketplace:
    """`market` with the plugins Claude Code installed from it marked, and those it does not
    list added (from their installed copy)."""
    items = list(market.items)
    at: dict[str, int] = {}  # the first item of each name
    for n, item in enumerate(items):
        at.setdefault(item.name, n)
    for install in installs:
        if install.plugin not in at and install.path is not None:
            items.append(load_plugin_folder(install.path, install.plugin, install.marketplace))
            at[install.plugin] = len(items) - 1
        if install.plugin in at:
            n = at[install.plugin]
            items[n] = items[n].model_copy(update={"claude_installed": True})
    return market.model_copy(update={"items": tuple(items)})
