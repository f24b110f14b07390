"""History (mode 3): archived sessions, search, state filter, details, export, re-run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, cast, get_args

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Select

from ...core.archive import SessionSummary
from ...core.config import BackendChoice
from ...core.engine import LaunchRequest
from ...core.errors import InputError
from ...core.models import SessionRecord, SessionState
from ...core.report import one_line, printable, session_markdown
from .. import format as fmt
from .monitor import SESSION_STYLE

if TYPE_CHECKING:
    from ..app import CoworkApp

TASK_WIDTH = 80  # the list shows a task's start on one line; details show it all
PARTIAL = f"{SessionState.COMPLETED.value} partial"  # completed, some agents failed
PAGE = 100  # rows read at a time; moving onto the last row reads the next page
STATES = [(state.value, state.value) for state in SessionState if state.terminal]


def export_session(record: SessionRecord, folder: Path) -> tuple[Path, Path]:
    """Write `<id>.md` and `<id>.json` into `folder`; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    markdown = folder / f"cowork-{record.id}.md"
    markdown.write_text(session_markdown(record))
    data = folder / f"cowork-{record.id}.json"
    data.write_text(json.dumps(record.to_json(), indent=2) + "\n")
    return markdown, data


def export_and_tell(app: CoworkApp, session_id: str) -> None:
    record = app.workspace.archive.get(session_id)
    markdown, data = export_session(record, app.workspace.paths.data_dir / "exports")
    app.notify(f"{markdown}\n{data}", title="Exported", markup=False)


def rerun(app: CoworkApp, session_id: str) -> None:
    """Launch the same item, task, backend and max parallel as a new session."""
    workspace = app.workspace
    try:
        record = workspace.archive.get(session_id)
        item = workspace.catalog.find(f"{record.item}@{record.marketplace}")
        workspace.catalog.check_trust(item)
    except InputError as exc:
        app.notify(str(exc), title="Cannot re-run", severity="error", markup=False)
        return
    asked = record.backend if record.backend in get_args(BackendChoice) else None
    backend, _ = workspace.resolve_backend(asked, item)  # the item may have changed since
    app.launch(
        LaunchRequest(
            item=item,
            task=record.task,
            backend=backend,
            max_parallel=record.max_parallel,
            cwd=Path(record.cwd),
        )
    )


class HistoryScreen(Screen[None]):
    AUTO_FOCUS = "#history"
    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("escape", "clear_search", "Clear", show=False),
        Binding("enter", "details", "Details"),
        Binding("e", "export", "Export"),
        Binding("n", "rerun", "Re-run"),
    ]
    selected: reactive[str | None] = reactive(None)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="history-filters"):
            yield Input(placeholder="/ search tasks, summaries and outputs", id="search")
            yield Select(STATES, prompt="any state", id="state-filter")
        yield DataTable(id="history", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True)

    @property
    def cowork(self) -> CoworkApp:
        return cast("CoworkApp", self.app)

    def on_mount(self) -> None:
        self._rows: list[SessionSummary] = []  # what the table shows, newest first
        self._more = False  # the archive may hold more rows than these
        table = self.query_one("#history", DataTable)
        table.add_columns("session", "item")
        table.add_column("state", width=len(PARTIAL))  # the widest: no jump when one loads
        table.add_columns("started", "duration", "agents", "cost", "task")

    def on_screen_resume(self) -> None:  # shown, first or again: read the archive
        self.reload()

    def _query(self, limit: int, offset: int = 0) -> list[SessionSummary]:
        search = self.query_one("#search", Input).value.strip() or None
        state = self.query_one("#state-filter", Select).value
        return self.cowork.workspace.archive.list_sessions(
            search=search,
            state=None if state is Select.NULL else str(state),
            limit=limit,
            offset=offset,
        )

    def reload(self) -> None:
        wanted = max(PAGE, len(self._rows))
        rows = self._query(wanted)
        if rows == self._rows:  # unchanged: keep the table and its cursor
            return
        self.query_one("#history", DataTable).clear()
        self._rows = []
        self._add(rows, more=len(rows) == wanted)
        self.selected = self._highlighted()

    def _add(self, rows: list[SessionSummary], more: bool) -> None:
        """Append rows not shown yet (sessions that began since shift the pages by as many)."""
        self._more = more
        table = self.query_one("#history", DataTable)
        shown = {row.id for row in self._rows}
        rows = [row for row in rows if row.id not in shown]
        for row in rows:
            state_text = Text(PARTIAL if row.partial else row.state.value,
                              SESSION_STYLE.get(row.state, ""))  # fmt: skip
            cells = (row.id, f"{row.item}@{row.marketplace}", state_text, fmt.when(row.started_at),
                     fmt.duration(row.duration_s), str(row.agent_count), fmt.cost(row.cost_usd),
                     one_line(row.task, TASK_WIDTH))  # fmt: skip
            # Text, not str: a task's "[...]" is not markup (and needs no parsing)
            table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells), key=row.id)
        self._rows += rows

    def watch_selected(self, old: str | None, new: str | None) -> None:
        if (old is None) != (new is None):  # the footer changes only when a row appears or goes
            self.refresh_bindings()

    def _highlighted(self) -> str | None:
        table = self.query_one("#history", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.selected = event.row_key.value
        if event.cursor_row == len(self._rows) - 1 and self._more:  # the last row: the next page
            page = self._query(PAGE, offset=len(self._rows))
            self._add(page, more=len(page) == PAGE)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_details()

    def on_input_changed(self) -> None:
        self.reload()

    def on_input_submitted(self) -> None:
        self.query_one("#history").focus()

    def on_select_changed(self) -> None:
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("details", "export", "rerun"):
            return self.selected is not None
        return True

    def action_search(self) -> None:
        self.query_one("#search").focus()

    def action_clear_search(self) -> None:
        self.query_one("#search", Input).value = ""
        self.query_one("#history").focus()

    def action_details(self) -> None:
        if self.selected:
            self.app.push_screen(DetailsScreen(self.selected))

    def action_export(self) -> None:
        if self.selected:
            export_and_tell(self.cowork, self.selected)

    def action_rerun(self) -> None:
        if self.selected:
            rerun(self.cowork, self.selected)


class DetailsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("e", "export", "Export"),
        Binding("n", "rerun", "Re-run"),
    ]

    def __init__(self, session_id: str) -> None:
        super().__init__()
        self.session_id = session_id

    def compose(self) -> ComposeResult:
        from textual.widgets import Markdown  # loads on first use: a faster start

        yield Header()
        record = self.cowork.workspace.archive.get(self.session_id)
        with VerticalScroll(id="session-details"):  # focused: the keys scroll it
            yield Markdown(printable(session_markdown(record)))  # no terminal control
        yield Footer(compact=True)

    @property
    def cowork(self) -> CoworkApp:
        return cast("CoworkApp", self.app)

    def on_mount(self) -> None:
        self.query_one("#session-details").focus()

    def action_export(self) -> None:
        export_and_tell(self.cowork, self.session_id)

    def action_rerun(self) -> None:
        self.app.pop_screen()
        rerun(self.cowork, self.session_id)
