"""The marketplace's details pane: what an item holds, why it cannot run, its statistics."""

from __future__ import annotations

from rich.text import Text

from ...core.archive.stats import MIN_STATS_SESSIONS, ItemStats
from ...core.marketplace.trust import describe_trust
from ...core.models import Item
from ...core.text import one_line


def item_details(item: Item, stats: ItemStats | None) -> Text:
    """Why it cannot run and what is wrong with it first, then what it holds."""
    text = Text()
    text.append(f"{item.name}", "bold")
    text.append(f"  {item.marketplace}" + (f" · v{item.version}" if item.version else ""), "dim")
    text.append("\n")
    if item.source:
        text.append("Source: ", "bold")
        text.append(f"{item.source}\n", "dim")
    if not item.runnable:
        text.append(f"Cannot run: {item.not_runnable}\n", "yellow")
    if item.warnings:
        text.append(f"{len(item.warnings)} warning(s):\n", "yellow")
        text.append("".join(f" ⚠ {w}\n" for w in item.warnings), "yellow")
    text.append(f"\n{item.description}\n\n")
    if item.agents:
        text.append("Agents\n", "bold underline")
    for agent in item.agents:
        kind = "command" if agent.kind == "command" else f"model {agent.model or 'inherit'}"
        text.append(f" • {agent.name}", "cyan")
        text.append(f"  ({kind})\n", "dim")
    for kind, title in (("skill", "Skills"), ("command", "Commands")):
        parts = [s for s in item.skills if s.kind == kind]
        if parts:
            text.append(f"{chr(10) if item.agents or kind == 'command' else ''}{title}\n",
                        "bold underline")  # fmt: skip
        for part in parts:
            text.append(f" • {part.name}", "cyan")
            text.append(f"  {one_line(part.description, 48)}\n", "dim")
    if item.mcp_servers or item.hooks:
        text.append("\nCan act on this machine\n", "bold underline")
        text.append(f"{describe_trust(item)}\n", "dim")
    defaults = item.cowork
    text.append("\nCowork defaults\n", "bold underline")
    text.append(f" max parallel agents: {defaults.max_parallel_agents}\n")
    text.append(f" estimated duration: {defaults.estimated_duration or 'not given'}\n")
    if defaults.requires:
        text.append(f" requires: {', '.join(defaults.requires)}\n")
    if defaults.workflow:
        text.append(f" workflow: {len(defaults.workflow)} steps\n")
    text.append("\nStatistics", "bold underline")
    if stats is None:
        text.append(f"\n none published; local ones after {MIN_STATS_SESSIONS} sessions\n", "dim")
    else:
        source = (
            f"from local history, {stats.sessions} sessions"
            if stats.source == "local history"
            else "published by the marketplace"
        )
        text.append(f" ({source})\n", "dim")
        if stats.avg_session_minutes is not None:
            text.append(f" average session: {stats.avg_session_minutes:.1f} min\n")
        if stats.completion_rate is not None:
            text.append(f" completion rate: {stats.completion_rate:.0%}\n")
    return text
