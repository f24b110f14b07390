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
from ..paths import Paths
from .claude_code import ClaudeInstall, discover_claude
from .install_state import InstallState, load_marketplace_folders, save_marketplace_folders
from .loader import MARKETPLACE_FILE, load_marketplace, load_plugin_folder
from .rows_cache import claude_files
from .trust import acts_on_the_machine, commands_hash, extras_hash, trust_prompt

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

    def add_marketplace(self, path: Path | str) -> Marketplace:
        """Remember the marketplace at `path` (its folder, or its marketplace.json); nothing is
        stored when it cannot be read."""
        try:
            folder = _marketplace_folder(Path(path).expanduser().resolve())
        except (OSError, RuntimeError, ValueError) as exc:
            raise InputError(f"{path}: cannot be resolved: {exc}") from None
        market = load_marketplace(folder, kind="user")
        if market.errors:
            raise InputError("\n".join(market.errors))
        folders = load_marketplace_folders(self.paths.marketplaces_file)
        if folder in folders:
            return self._named(market.name)
        taken = next((m for m in self._all_loaded() if m.name == market.name), None)
        if taken is not None:
            raise InputError(
                f"{folder / MARKETPLACE_FILE}: name: a marketplace named {market.name!r} is "
                f"already known ({taken.origin})"
            )
        save_marketplace_folders(self.paths.marketplaces_file, [*folders, folder])
        loaded = self._all_loaded()  # what a reload would give, without reading it all again
        claude = next((n for n, m in enumerate(loaded) if m.kind == "claude"), len(loaded))
        loaded.insert(claude, market)
        self._shown = None
        return self._named(market.name)

    def install(self, ref: str, *, yes: bool) -> Item:
        """Install an item; one that can act on the machine needs `yes` (the user saw it)."""
        item = self.find(ref)
        if self.is_bundled(item):
            return item
        if not item.available:
            raise InputError(f"{item.ref}: cannot be installed: {_why_unavailable(item)}")
        if self.needs_confirmation(item) and not yes:
            raise InputError(
                f"{item.ref} {trust_prompt(item)}\n"
                f"Check them, then confirm with: cowork-tui install {item.ref} --yes"
            )
        self._install_state().add(item)
        self._shown = None
        return self.find(item.ref)

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
        markets = [
            load_marketplace(self._bundled, kind="bundled", origin="bundled with cowork-tui")
        ]
        folders = load_marketplace_folders(self.paths.marketplaces_file)
        markets += [load_marketplace(folder, kind="user") for folder in folders]
        if self._claude:
            claude, self.warnings = _claude_marketplaces()
            markets += claude
        unique: dict[str, Marketplace] = {}
        for market in markets:
            unique.setdefault(market.name, market)
        return list(unique.values())


def missing_requirements(item: Item, catalog: Catalog) -> list[str]:
    """`cowork.requires` not met: executables missing from PATH, items not installed."""
    if not item.cowork.requires:
        return []
    missing = []
    for need in item.cowork.requires:
        if "@" in need:
            if not catalog.is_installed(need):
                missing.append(f"item {need} is not installed (cowork-tui install {need})")
        elif shutil.which(need) is None:
            missing.append(f"executable {need!r} not found on PATH")
    return missing


def _why_unavailable(item: Item) -> str:
    return "; ".join(item.errors) if item.errors else item.source


def _marketplace_folder(path: Path) -> Path:
    """The marketplace folder from a path naming it, its .claude-plugin, or marketplace.json."""
    if path.name == MARKETPLACE_FILE.name:
        path = path.parent
    if path.name == MARKETPLACE_FILE.parent.name:
        path = path.parent
    return path


def _claude_marketplaces() -> tuple[list[Marketplace], list[str]]:
    """Claude Code's marketplaces, plus the plugins it installed that they do not list; and
    warnings about its files that could not be read."""
    setup = discover_claude()
    markets: dict[str, Marketplace] = {}
    for known in setup.marketplaces:
        if known.folder is not None:
            market = load_marketplace(
                known.folder, kind="claude", name=known.name, origin=known.origin
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
