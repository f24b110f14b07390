"""The app's start, before the core loads: the default workspace, opened off the UI's thread
with the marketplace's rows as last shown meanwhile, then the modes (each screen loaded on
first use)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.screen import Screen

if TYPE_CHECKING:
    from ..core.workspace import Workspace

Rows = list[tuple[str, list[list[str]]]]  # each item's key and cells, as the marketplace shows


def open_default_workspace(on_rows: Callable[[Rows], None]) -> Workspace:
    """Settings, crash recovery and the catalog; the rows as last shown, if any, first."""
    from ..core.marketplace.rows_cache import claude_files, load_rows
    from ..core.paths import default_paths

    paths = default_paths()
    inputs = [paths.marketplaces_file, paths.installed_file, *claude_files(Path.home())]
    rows = load_rows(paths.rows_cache_file, inputs)
    if rows:  # the marketplace as last shown, while the catalog loads
        on_rows(rows)
    from ..core.workspace import Workspace

    workspace = Workspace.open(paths=paths, need_archive=True)  # sessions live there
    workspace.catalog.items()  # read here, not on the UI's thread
    return workspace


def show_rows(app: App[Any], rows: Rows) -> None:
    """The first screen: the marketplace's rows as they were, keys dimmed until it opens."""
    from textual.widgets import DataTable, Static

    from .widgets.item_rows import COLUMNS, row_texts

    table: DataTable[Any] = DataTable(id="opening-rows", cursor_type="row")
    app.query_one("#opening", Static).update(
        "Opening the workspace… (the marketplace as last seen)"
    )
    app.screen.mount(table, after="#opening")
    table.add_columns(*COLUMNS)
    for key, cells in rows:
        table.add_row(*row_texts(cells), key=key)


def add_modes(app: App[Any], workspace: Workspace, now: Callable[[], datetime]) -> None:
    """The three modes, each screen given what it shows (its module loads on first use)."""

    def marketplace() -> Screen[None]:
        from ..core.marketplace.rows_cache import save_rows
        from .screens.marketplace import MarketplaceScreen

        def remember(rows: Rows) -> None:
            inputs = workspace.catalog.cache_inputs()
            save_rows(workspace.paths.rows_cache_file, rows, *inputs)

        return MarketplaceScreen(workspace.catalog, workspace.archive, remember)

    def sessions() -> Screen[None]:
        from .screens.monitor import MonitorScreen

        return MonitorScreen(now)

    def history() -> Screen[None]:
        from .screens.history import HistoryScreen

        return HistoryScreen(workspace.archive, workspace.paths.data_dir / "exports")

    app.add_mode("marketplace", marketplace)
    app.add_mode("sessions", sessions)
    app.add_mode("history", history)
