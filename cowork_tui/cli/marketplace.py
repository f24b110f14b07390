"""`marketplace list|add`, `install` and `uninstall`."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from typing import Any

from ..core.archive.stats import ItemStats
from ..core.marketplace.catalog import Catalog, missing_requirements
from ..core.marketplace.trust import trust_prompt
from ..core.models import Item
from ..core.text import printable
from ..core.workspace import Workspace

EXIT_DECLINED = 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    market = subparsers.add_parser("marketplace", help="list items, add a marketplace")
    commands = market.add_subparsers(title="marketplace commands", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", help="the items of every known marketplace")
    listing.add_argument("--json", action="store_true", help="print the items as JSON")
    listing.set_defaults(handler=cmd_list)
    add = commands.add_parser("add", help="add a folder holding .claude-plugin/marketplace.json")
    add.add_argument("path", help="the marketplace folder")
    add.set_defaults(handler=cmd_add)

    install = subparsers.add_parser(
        "install", help="install an item (one with command agents shows them and asks first)"
    )
    install.add_argument("item", help="plugin or plugin@marketplace")
    install.add_argument(
        "--yes", action="store_true", help="trust the item's commands without asking"
    )
    install.set_defaults(handler=cmd_install)
    uninstall = subparsers.add_parser("uninstall", help="uninstall an item")
    uninstall.add_argument("item", help="plugin or plugin@marketplace")
    uninstall.set_defaults(handler=cmd_uninstall)


def cmd_list(args: argparse.Namespace) -> int:
    workspace = Workspace.open(need_archive=args.json, read_only=True)  # JSON: local stats
    catalog = workspace.catalog
    markets = catalog.marketplaces()
    for problem in [*catalog.warnings, *(e for m in markets for e in m.errors)]:
        print(f"cowork-tui: warning: {problem}", file=sys.stderr)
    items = [item for market in markets for item in market.items]
    if args.json:
        kinds = {m.name: m.kind for m in markets}
        local = workspace.archive.item_stats()
        listing = [item_json(i, kinds[i.marketplace], catalog, local) for i in items]
        print(json.dumps(listing, indent=2))
    else:
        print(item_table(items))
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    market = Workspace.open(read_only=True).catalog.add_marketplace(args.path)
    broken = sum(1 for i in market.items if i.errors)
    note = f", {broken} with errors (see `cowork-tui marketplace list`)" if broken else ""
    print(f"added marketplace {market.name}: {len(market.items)} items{note}")
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    catalog = Workspace.open(read_only=True).catalog
    item = catalog.find(args.item)
    yes = args.yes
    if not yes and item.available and catalog.needs_confirmation(item) and sys.stdin.isatty():
        print(f"{item.ref} {trust_prompt(item)}")
        answer = input("Trust all of this and install? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("not installed")
            return EXIT_DECLINED
        yes = True
    item = catalog.install(item.ref, yes=yes)
    print(f"installed {item.ref}")
    for need in missing_requirements(item, catalog):
        print(f"cowork-tui: warning: {item.ref} requires: {need}", file=sys.stderr)
    return 0


def cmd_uninstall(args: argparse.Namespace) -> int:
    item = Workspace.open(read_only=True).catalog.uninstall(args.item)
    print(f"uninstalled {item.ref}")
    return 0


def item_json(
    item: Item, kind: str, catalog: Catalog, local: dict[str, ItemStats]
) -> dict[str, Any]:
    """One item of `marketplace list --json` (cowork defaults with their camelCase keys)."""
    stats = ItemStats.for_item(item, local)
    return {
        "name": item.name,
        "marketplace": item.marketplace,
        "marketplace_kind": kind,
        "ref": item.ref,
        "description": item.description,
        "version": item.version,
        "category": item.category,
        "installed": item.installed,
        "trusted": item.trusted,
        "claude_installed": item.claude_installed,
        "available": item.available,
        "source": item.source,
        "path": str(item.path) if item.path else None,
        "agents": [
            {
                "name": a.name,
                "description": a.description,
                "kind": a.kind,
                "model": a.model,
                "tools": list(a.tools) if a.tools is not None else None,  # None: the default
                "command": a.command,
                "timeout": a.timeout,
            }
            for a in item.agents
        ],
        "runnable": item.runnable,
        "not_runnable": item.not_runnable,
        "skills": [
            {
                "name": s.name,
                "description": s.description,
                "kind": s.kind,
                "user_invocable": s.user_invocable,
                "model_invocable": s.model_invocable,
            }
            for s in item.skills
        ],
        "mcp_servers": [
            {"name": s.name, "command": s.command, "url": s.url} for s in item.mcp_servers
        ],
        "hooks": [
            {"event": h.event, "matcher": h.matcher, "actions": list(h.actions)} for h in item.hooks
        ],
        "cowork": item.cowork.model_dump(mode="json", by_alias=True),
        # what to show: local history once there are a few sessions, else the published values
        "stats": stats
        and {
            "avgSessionMinutes": stats.avg_session_minutes,
            "completionRate": stats.completion_rate,
            "sessions": stats.sessions,
            "source": stats.source,
        },
        "missing_requirements": missing_requirements(item, catalog) if item.available else [],
        "errors": list(item.errors),
        "warnings": list(item.warnings),
    }


def item_table(items: list[Item]) -> str:
    width = shutil.get_terminal_size((100, 24)).columns
    ref_width = min(max((len(i.ref) for i in items), default=4), 44)
    lines = [f"{'ITEM':<{ref_width}}  {'STATE':<10} {'AGENTS':>6} {'SKILLS':>6}  DESCRIPTION"]
    for item in items:
        about = printable(item.description.splitlines()[0]) if item.description else ""
        room = max(width - ref_width - 29, 10)
        about = about if len(about) <= room else about[: room - 1] + "…"
        counts = f"{len(item.agents):>6} {len(item.skills):>6}"
        lines.append(f"{printable(item.ref):<{ref_width}}  {_state(item):<10} {counts}  {about}")
        lines += [f"    ! {printable(error)}" for error in item.errors]
        if item.available and not item.runnable:
            lines.append(f"    - {item.not_runnable}")
    return "\n".join(lines)


def _state(item: Item) -> str:
    if item.errors:
        return "error"
    if not item.available:
        return "remote"
    if item.installed:
        return "installed" if item.trusted else "changed"
    return "available"
