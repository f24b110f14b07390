"""Claude Code's marketplaces as the catalog shows them: with the plugins Claude Code installed
marked, and those its marketplaces do not list added."""

from __future__ import annotations

from ..models import Marketplace
from .claude_code import ClaudeInstall, discover_claude
from .loader import CachedPlugin, load_marketplace, load_plugin_folder


def claude_marketplaces(
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
