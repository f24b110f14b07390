"""History (mode 3): archived sessions, search, state filter, details, export, re-run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Select, Static
from textual.worker import get_current_worker

from ...core.archive.queries import SessionSummary
from ...core.archive.report import session_markdown
from ...core.archive.store import Archive
from ...core.models import SessionRecord, SessionState
from ...core.text import duration, one_line, printable
from .. import format as fmt
from ..messages import RerunRequested, ResumeRequested
from ..refusals import explain_refusal
from ..widgets.list_table import ListTable
from ..widgets.session_header import SESSION_STYLE

PARTIAL = f"{SessionState.COMPLETED.value} partial"  # completed, some agents failed
# column → (its width, the narrowest table it shows in); the task takes the rest
COLUMNS = {
    "session": (6, 0),
    "item": (22, 100),  # narrower: the task column starts with it
    "state": (len(PARTIAL) + len(" simulated"), 0),
    "started": (16, 110),
    "duration": (7, 96),
    "agents": (6, 120),
    "cost": (8, 0),
}
PAGE = 100  # rows read at a time; moving onto the last row reads the next page
STATES = [(state.value, state.value) for state in SessionState if state.terminal]
READS = "archive"  # the worker group of archive reads (off the UI's thread)


def export_session(record: SessionRecord, folder: Path) -> tuple[Path, Path]:
    """Write `<id>.md` and `<id>.json` into `folder`; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    markdown = folder / f"cowork-{record.id}.md"
    markdown.write_text(session_markdown(record))
    data = folder / f"cowork-{record.id}.json"
    data.write_text(json.dumps(record.to_json(), indent=2) + "\n")
    return markdown, data


def export_from(screen: Screen[Any], archive: Archive, session_id: str, folder: Path) -> None:
    """Export off the UI's thread (it reads the archive and writes files), then say where."""

    def export() -> None:
        markdown, data = export_session(archive.get(session_id), folder)
        screen.app.call_from_thread(
            screen.notify, f"{markdown}\n{data}", title="Exported", markup=False
        )

    screen.run_worker(export, thread=True, group=READS)


class HistoryScreen(Screen[None]):
    SUB_TITLE = "History"
    AUTO_FOCUS = "#history"
    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("escape", "clear_search", "Clear", show=False),
        Binding("enter", "details", "Details"),
        Binding("e", "export", "Export"),
        Binding("n", "rerun", "Re-run"),
        Binding("R", "resume", "Resume"),
    ]
    selected: reactive[str | None] = reactive(None, bindings=True)

    def __init__(self, archive: Archive, exports: Path) -> None:
        super().__init__()
        self.archive = archive
        self.exports = exports  # where `e` writes

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="history-filters"):
            yield Input(placeholder="/ search tasks, summaries and outputs", id="search")
            yield Select(STATES, prompt="any state", id="state-filter")
        yield ListTable(id="history", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._rows: list[SessionSummary] = []  # what the table shows, newest first
        self._more = False  # the archive may hold more rows than these
        self._columns: list[str] = []  # as laid out for the table's width

    def on_resize(self) -> None:
        self._lay_out()

    def _lay_out(self) -> None:
        """The columns that fit the width, the task taking what is left: every row again."""
        table = self.query_one("#history", DataTable)
        width = table.size.width or self.size.width
        columns = [c for c, (_, narrowest) in COLUMNS.items() if width >= narrowest]
        task_width = max(12, width - 2 - sum(COLUMNS[c][0] + 2 for c in columns))
        if columns == self._columns and table.columns and self._task_width == task_width:
            return
        self._columns, self._task_width = columns, task_width
        keep = self._highlighted()
        table.clear(columns=True)
        for column in columns:
            table.add_column(column, key=column, width=COLUMNS[column][0])
        table.add_column("task", key="task", width=task_width)
        rows, self._rows = self._rows, []
        self._add(rows, self._more)
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))

    _task_width = 0

    def on_screen_resume(self) -> None:  # shown, first or again: read the archive
        self.reload()

    def reload(self) -> None:
        """Read the rows shown again (as many as shown, a page at least)."""
        search = self.query_one("#search", Input).value.strip() or None
        state = self.query_one("#state-filter", Select).value
        self._read(search, None if state is Select.NULL else str(state), max(PAGE, len(self._rows)))

    @work(thread=True, exclusive=True, group=READS)
    def _read(self, search: str | None, state: str | None, limit: int, offset: int = 0) -> None:
        """In a thread; the newest query wins (an older one still running is dropped)."""
        rows = self.archive.list_sessions(search=search, state=state, limit=limit, offset=offset)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._got, rows, limit, offset, (search, state))

    def _got(
        self, rows: list[SessionSummary], limit: int, offset: int, query: tuple[str | None, ...]
    ) -> None:
        more = len(rows) == limit
        if offset:  # the next page
            self._add(rows, more)
            return
        if rows == self._rows and query == self._shown_query:  # unchanged: keep the cursor
            return
        self._shown_query = query
        self.query_one("#history", DataTable).clear()
        self._rows = []
        self._add(rows, more)
        self.selected = self._highlighted()

    _shown_query: tuple[str | None, ...] = ()

    def _add(self, rows: list[SessionSummary], more: bool) -> None:
        """Append rows not shown yet (sessions that began since shift the pages by as many)."""
        self._more = more
        table = self.query_one("#history", DataTable)
        shown = {row.id for row in self._rows}
        rows = [row for row in rows if row.id not in shown]
        if not self._columns:
            self._rows += rows
            self._lay_out()
            return
        for row in rows:
            state = Text(PARTIAL if row.partial else row.state.value,
                         SESSION_STYLE.get(row.state, ""))  # fmt: skip
            if row.simulated:
                state.append(" simulated", "italic yellow")
            cells = {
                "session": row.id[-6:],  # the random tail: `history show` takes it
                "item": f"{row.item}@{row.marketplace}",
                "state": state,
                "started": fmt.when(row.started_at),
                "duration": duration(row.duration_s),
                "agents": str(row.agent_count),
                "cost": fmt.cost(row.cost_usd),
                "task": one_line(
                    printable(row.task if "item" in self._columns else f"{row.item}: {row.task}"),
                    self._task_width,
                ),
            }
            # Text, not str: a task's "[...]" is not markup (and needs no parsing)
            values = [cells[c] for c in [*self._columns, "task"]]
            table.add_row(*(Text(v) if isinstance(v, str) else v for v in values), key=row.id)
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
            self._more = False  # asked once
            search, state = self._shown_query or (None, None)
            self._read(search, state, PAGE, offset=len(self._rows))

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
        if action == "resume":
            return self._selected_state() is SessionState.INTERRUPTED
        return True

    def _selected_state(self) -> SessionState | None:
        return next((row.state for row in self._rows if row.id == self.selected), None)

    def on_key(self, event: events.Key) -> None:
        def why_not(action: str) -> str:
            if action == "resume" and (state := self._selected_state()):
                return f"This session is {state.value}: only an INTERRUPTED one resumes"
            return "No session here yet"

        explain_refusal(self, event, why_not)

    def action_search(self) -> None:
        self.query_one("#search").focus()

    def action_clear_search(self) -> None:
        self.query_one("#search", Input).value = ""
        self.query_one("#history").focus()

    def action_details(self) -> None:
        if self.selected:
            session_id = self.selected

            def closed(rerun: bool | None) -> None:
                if rerun:
                    self.post_message(RerunRequested(session_id))

            self.app.push_screen(DetailsScreen(self.archive, session_id, self.exports), closed)

    def action_export(self) -> None:
        if self.selected:
            export_from(self, self.archive, self.selected, self.exports)

    def action_rerun(self) -> None:
        if self.selected:
            self.post_message(RerunRequested(self.selected))

    def action_resume(self) -> None:
        if self.selected:
            self.post_message(ResumeRequested(self.selected))


class DetailsScreen(Screen[bool]):
    """One session in full; dismissed with True to re-run it."""

    SUB_TITLE = "Session details"

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("e", "export", "Export"),
        Binding("n", "rerun", "Re-run"),
    ]

    def __init__(self, archive: Archive, session_id: str, exports: Path) -> None:
        super().__init__()
        self.archive = archive
        self.session_id = session_id
        self.exports = exports

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="session-details"):  # focused: the keys scroll it
            yield Static("Reading the archive…", id="details-loading")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#session-details").focus()
        self._read()

    @work(thread=True, group=READS)
    def _read(self) -> None:
        text = printable(session_markdown(self.archive.get(self.session_id)))  # no control
        self.post_message(self.Read(text))  # thread-safe

    @dataclass
    class Read(Message):
        markdown: str

    async def on_details_screen_read(self, message: Read) -> None:
        from textual.widgets import Markdown  # loads on first use: a faster start

        view = self.query_one("#session-details")
        await view.query_one("#details-loading").remove()
        await view.mount(Markdown(message.markdown))

    def action_back(self) -> None:
        self.dismiss(False)

    def action_export(self) -> None:
        export_from(self, self.archive, self.session_id, self.exports)

    def action_rerun(self) -> None:
        self.dismiss(True)
