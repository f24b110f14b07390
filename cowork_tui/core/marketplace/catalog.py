"""The catalog: every known marketplace (bundled, user-added, Claude Code's) and install state.

Trust: an item that can act on the machine (command agents, MCP servers, hooks) is installed
only once the user saw all of it and agreed; hashes of what they agreed to are stored. A run
checks the commands again (`check_trust`); MCP servers and hooks run only while their hash
still matches (`Item.extras_trusted`). The bundled marketplace ships with the package and is
trusted.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

from ..errors import InputError
from ..models import Item, Marketplace
from .dependencies import Dependency, parse_dependencies, satisfies
from .fetch import FetchedPlugin, fetch_plugin
from .json_files import read_json
from .loaded_catalog import cached_words
from .loader import PLUGIN_FILE, CachedPlugin, load_marketplace
from .marketplace_edits import MarketplaceEdits
from .rows_cache import claude_files
from .runner import Progress
from .trust import acts_on_the_machine, commands_hash, extras_hash, trust_prompt


class Catalog(MarketplaceEdits):
    # --- reading ----------------------------------------------------------------------

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

    # --- changing ---------------------------------------------------------------------

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
        cached = {item.ref: CachedPlugin(fetched.folder, cached_words(fetched.source,
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


def _remote_source(value: object) -> dict[str, object] | None:
    """An entry's source as a source object to fetch, or None when it is a local path."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and ("://" in value or value.strip().startswith("git@")):
        return {"source": "url", "url": value.strip()}
    return None
