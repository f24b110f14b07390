"""The marketplaces as loaded (bundled, the user's, Claude Code's), their items with install
state; the base of the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..models import Item, Marketplace
from ..paths import Paths
from .claude_marketplaces import claude_marketplaces
from .fetch import FetchedPlugin
from .install_state import InstallState, load_marketplace_folders
from .loader import CachedPlugin, load_marketplace, marketplace_extras
from .trust import commands_hash, extras_hash

Extras = tuple[dict[str, dict[str, Any]], dict[str, str]]  # raw entries by name, renames
BUNDLED_DIR = Path(__file__).resolve().parents[2] / "bundled"


class LoadedCatalog:
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

    def marketplaces(self) -> list[Marketplace]:
        """Bundled first, then the user's, then Claude Code's; items carry install state.
        A name already taken by an earlier marketplace is skipped."""
        return list(self._with_states())

    def reload(self) -> None:
        self._loaded = None
        self._state = None
        self._shown = None

    def _extras_of(self, folder: Path) -> Extras:
        """A marketplace's raw entries and renames, read once per load (every item asks)."""
        if folder not in self._extras:
            self._extras[folder] = marketplace_extras(folder)
        return self._extras[folder]

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
            claude, self.warnings = claude_marketplaces(cached)
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
                words = cached_words(record.source, record.commit, record.version)
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


def cached_words(source: str, commit: str | None, version: str | None) -> str:
    """A remote item's source as installed: `github o/r @ main · commit 0123456789ab`."""
    if commit:
        return f"{source} · commit {commit[:12]}"
    return f"{source} · version {version}" if version else source
