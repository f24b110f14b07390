"""`marketplace list|show|add|update|remove|check`, `install` and `uninstall`."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from typing import Any

from ..core.archive.stats import ItemStats
from ..core.errors import InputError
from ..core.marketplace.catalog import Catalog, missing_requirements
from ..core.marketplace.trust import trust_prompt
from ..core.models import Item, Marketplace
from ..core.text import one_line, printable
from ..core.workspace import Workspace

EXIT_DECLINED = 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    market = subparsers.add_parser("marketplace", help="list items, add a marketplace")
    commands = market.add_subparsers(title="marketplace commands", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", help="the items of every known marketplace")
    listing.add_argument("--json", action="store_true", help="print the items as JSON")
    listing.add_argument(
        "--warnings", action="store_true", help="print every warning, by file and field"
    )
    listing.set_defaults(handler=cmd_list)
    show = commands.add_parser("show", help="one item: its source, installed commit, parts")
    show.add_argument("item", help="plugin or plugin@marketplace")
    show.set_defaults(handler=cmd_show)
    add = commands.add_parser(
        "add", help="add a marketplace: a folder, a git URL, a local repository or owner/repo"
    )
    add.add_argument(
        "path", metavar="SOURCE", help="folder, git URL (https, ssh, file://), owner/repo"
    )
    add.set_defaults(handler=cmd_add)
    update = commands.add_parser("update", help="pull git marketplaces, re-read folders")
    update.add_argument("name", nargs="?", help="only this marketplace")
    update.set_defaults(handler=cmd_update)
    remove = commands.add_parser("remove", help="forget a marketplace you added")
    remove.add_argument("name", help="the marketplace's name")
    remove.set_defaults(handler=cmd_remove)
    check = commands.add_parser("check", help="a marketplace's warnings, by file and field")
    check.add_argument("name", help="the marketplace's name")
    check.set_defaults(handler=cmd_check)

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
    if args.warnings:
        for market in markets:
            print_warnings(market)
        return 0
    if args.json:
        kinds = {m.name: m.kind for m in markets}
        local = workspace.archive.item_stats()
        listing = [item_json(i, kinds[i.marketplace], catalog, local) for i in items]
        print(json.dumps(listing, indent=2))
    else:
        print(item_table(items))
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    catalog = Workspace.open(read_only=True).catalog
    with StderrProgress() as progress:
        market, note = catalog.add_marketplace(args.path, progress=progress)
    if note:
        print(f"marketplace {market.name}: {note}")
    else:
        print(f"added marketplace {market.name}: {counts(market)}")
    print_fetch_warnings(catalog)
    print_market_warnings(market)
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    catalog = Workspace.open(read_only=True).catalog
    with StderrProgress() as progress:
        updated = catalog.update_marketplaces(args.name, progress=progress)
    if not updated:
        print("no marketplace to update (add one with `cowork-tui marketplace add SOURCE`)")
    for market, what in updated:
        print(f"updated marketplace {market.name} ({what}): {counts(market)}")
        print_market_warnings(market)
    print_fetch_warnings(catalog)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    market, refs = Workspace.open(read_only=True).catalog.remove_marketplace(args.name)
    gone = f"; uninstalled {', '.join(refs)}" if refs else ""
    print(f"removed marketplace {market.name}{gone}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    catalog = Workspace.open(read_only=True).catalog
    market = next((m for m in catalog.marketplaces() if m.name == args.name), None)
    if market is None:
        raise InputError(f"unknown marketplace {args.name!r} (see `cowork-tui marketplace list`)")
    print_warnings(market)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    catalog = Workspace.open(read_only=True).catalog
    item = catalog.find(args.item)
    lines = [
        f"{item.ref}" + (f" v{item.version}" if item.version else ""),
        f"  state:   {_state(item)}",
        f"  source:  {item.source}",
    ]
    if item.path is not None:
        lines.append(f"  folder:  {item.path}")
    if item.description:
        lines.append(f"  about:   {one_line(item.description, 200)}")
    lines += [f"  agent:   {a.name} ({a.kind})" for a in item.agents]
    lines += [f"  {s.kind}:   {s.name}" for s in item.skills]
    lines += [f"  needs:   {d}" for d in catalog.dependencies(item)]
    lines += [f"  ! {e}" for e in item.errors]
    lines += [f"  warning: {w}" for w in item.warnings]
    print("\n".join(printable(line) for line in lines))
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    catalog = Workspace.open(read_only=True).catalog
    item = catalog.find(args.item)
    yes = args.yes
    if not yes and catalog.is_remote(item) and sys.stdin.isatty():
        with StderrProgress() as progress:
            item = catalog.fetch(item.ref, progress=progress)[1]  # to show what it can do
    if not yes and item.available and catalog.needs_confirmation(item) and sys.stdin.isatty():
        print(f"{item.ref} {trust_prompt(item)}")
        answer = input("Trust all of this and install? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("not installed")
            return EXIT_DECLINED
        yes = True
    with StderrProgress() as progress:
        item = catalog.install(item.ref, yes=yes, progress=progress)
    print(f"installed {item.ref}" + (f" from {item.source}" if catalog.is_remote(item) else ""))
    install_dependencies(catalog, item, yes=args.yes)
    for need in missing_requirements(item, catalog):
        print(f"cowork-tui: warning: {item.ref} requires: {need}", file=sys.stderr)
    return 0


def install_dependencies(catalog: Catalog, item: Item, *, yes: bool) -> None:
    """With `yes`, install the dependencies not installed (theirs too); else list them, with
    the command that installs them."""
    pending, seen = [item], {item.ref}
    while pending:
        dependent = pending.pop()
        for dependency, _ in catalog.unmet_dependencies(dependent):
            ref = dependency.ref(dependent.marketplace)
            if not yes or catalog.is_installed(ref) or ref in seen:
                continue  # missing_requirements says what is left
            seen.add(ref)
            with StderrProgress() as progress:
                installed = catalog.install(ref, yes=True, progress=progress)
            print(f"installed {installed.ref} (a dependency of {dependent.ref})")
            pending.append(installed)


class StderrProgress:
    """git's and npm's lines on stderr, on a terminal: one line rewritten in place, cleared
    when the fetch ends. Off a terminal nothing (a failure is its one error line)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.shown = False

    def __enter__(self) -> StderrProgress:
        return self

    def __call__(self, line: str) -> None:
        text = printable(line.strip())
        if not text or not self.tty:
            return
        width = shutil.get_terminal_size((80, 24)).columns - 1
        sys.stderr.write(f"\r\x1b[K{text[:width]}")
        sys.stderr.flush()
        self.shown = True

    def __exit__(self, *exc: object) -> None:
        if self.tty and self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def counts(market: Marketplace) -> str:
    """`12 items, 3 with warnings, 1 with errors`."""
    warned = sum(1 for i in market.items if i.warnings)
    broken = sum(1 for i in market.items if i.errors)
    parts = [f"{len(market.items)} items"]
    parts += [f"{warned} with warnings"] if warned else []
    parts += [f"{broken} with errors"] if broken else []
    note = f" (see `cowork-tui marketplace check {market.name}`)" if warned or broken else ""
    return ", ".join(parts) + note


def print_market_warnings(market: Marketplace) -> None:
    for warning in market.warnings:
        print(f"cowork-tui: warning: {printable(warning)}", file=sys.stderr)


def print_fetch_warnings(catalog: Catalog) -> None:
    for warning in catalog.warnings:
        print(f"cowork-tui: warning: {printable(warning)}", file=sys.stderr)


def print_warnings(market: Marketplace) -> None:
    """Every warning and error of `market` and its items, one a line: the file and field
    lead each message."""
    for problem in (*market.errors, *market.warnings):
        print(f"{market.name}: {printable(problem)}")
    for item in market.items:
        for problem in (*item.errors, *item.warnings):
            print(f"{item.ref}: {printable(problem)}")


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
