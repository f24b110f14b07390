"""The marketplace table's rows, as [text, style] cells: shown by the marketplace screen, and
kept for the next start's first screen (this module loads before the core: no core imports)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:
    from ...core.models import Item

COLUMNS = ("item", "marketplace", "status", "agents", "skills", "⚠")


def status_of(item: Item) -> tuple[str, str]:
    """The status column: its text and style."""
    if item.errors:
        return "error", "red"
    if not item.available:
        return "unavailable", "dim"
    if item.installed:
        return ("installed", "green") if item.trusted else ("untrusted", "yellow")
    return "available", ""


def row_cells(item: Item) -> list[list[str]]:
    """A row of the table as [text, style] cells (the TUI's first screen shows them cached)."""
    warned = [str(len(item.warnings)), "yellow"] if item.warnings else ["", ""]
    return [[item.name, ""], [item.marketplace, ""], list(status_of(item)),
            [str(len(item.agents)), ""], [str(len(item.skills)), ""], warned]  # fmt: skip


def row_texts(cells: list[list[str]]) -> list[Text]:
    """Text, never markup: names are shown as they are."""
    return [Text(text, style) for text, style in cells]
