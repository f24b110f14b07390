"""Sessions (mode 2): the session list, and the selected session's stage, totals, the shape of
its plan and every one of its agents at once: panels in a grid that fills the terminal, or
(`v`) a table, one row per agent, with the highlighted agent's last lines below."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ...core.engine.lifecycle import Control, agent_controls_apply, applies
from ...core.models import AgentState, SessionRecord, SessionState
from ..messages import (
    BudgetRequested,
    ControlRequested,
    MonitorShown,
    OutputRequested,
    SessionSelected,
    SteerRequested,
)
from ..refusals import explain_refusal
from ..widgets.agent_panel import COMPACT_HEIGHT, FULL_HEIGHT, AgentPanel, shown_lines
from ..widgets.agent_table import AgentTable
from ..widgets.list_table import ListTable
from ..widgets.session_header import (
    SESSION_MARK,
    SESSION_STYLE,
    shape_line,
    stage_line,
    totals_line,
)
from .budget import BudgetScreen
from .confirm import ConfirmScreen
from .message import MessageScreen
from .session_controls import AGENT_ACTIONS, SESSION_ACTIONS, why_not, why_not_steer

PANEL_MIN_WIDTH = 34  # columns of a panel, borders included: fewer and it is cut too short
PANEL_MAX_WIDTH = 64  # more is mostly blank
TAIL_ROWS = 5  # the highlighted agent's last lines, under the table


def grid_shape(agents: int, width: int, height: int) -> tuple[int, bool]:
    """(columns, compact) so that every agent shows: full panels if they fit, else compact
    ones; the fewest columns that fit (the widest panels, up to `PANEL_MAX_WIDTH`)."""
    most = max(1, width // PANEL_MIN_WIDTH)
    fewest = min(most, math.ceil(width / PANEL_MAX_WIDTH), agents)  # not too wide either
    for compact, rows_high in ((False, FULL_HEIGHT), (True, COMPACT_HEIGHT)):
        for columns in range(max(1, fewest), most + 1):
            if math.ceil(agents / columns) * rows_high <= height:
                return columns, compact
    return most, True  # more than fit: compact, and the grid scrolls


class MonitorScreen(Screen[None]):
    SUB_TITLE = "Sessions"
    AUTO_FOCUS = "#sessions"
    BINDINGS = [
        Binding("p", "pause_session", "Pause"),
        Binding("r", "resume_session", "Resume"),
        Binding("c", "cancel_session", "Cancel"),
        Binding("b", "set_budget", "Budget", show=False),
        Binding("P", "pause_agent", "Agent", key_display="P/R/C"),
        Binding("R", "resume_agent", "Resume agent", show=False),
        Binding("C", "cancel_agent", "Cancel agent", show=False),
        Binding("m", "steer_agent", "Message"),
        Binding("enter", "open_output", "Output"),
        Binding("v", "toggle_view", "Table"),
        Binding("s", "sort", "Sort", show=False),
        Binding("right,l", "move(1)", "Next", show=False),
        Binding("left,h", "move(-1)", "Previous", show=False),
        Binding("down,j", "move_row(1)", "Down", show=False),
        Binding("up,k", "move_row(-1)", "Up", show=False),
    ]
    # what the footer's keys depend on: the shown session's state, whether an agent is
    # focused (and can take a message), the view; redrawn only when that changes, not on
    # each poll
    control_state: reactive[tuple[SessionState, bool, AgentState | None, bool] | None] = reactive(
        None, bindings=True
    )
    table_view: reactive[bool] = reactive(False, bindings=True)
    record: SessionRecord | None = None
    ready = False  # composed and mounted: safe to show snapshots

    def __init__(self, now: Callable[[], datetime]) -> None:
        super().__init__()
        self.now = now
        self._listed: dict[str, SessionState] = {}  # the session list's rows, as shown
        self._panels: list[AgentPanel] = []  # the shown session's, in its agents' order
        self._grid: tuple[int, bool] | None = None
        self._layout_pending = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield ListTable(id="sessions")
            with Vertical(id="session-view"):
                yield Static("No session yet: launch one from the marketplace (1, then l).",
                             id="session-stage")  # fmt: skip
                yield Static(id="session-totals")
                yield Static(id="session-shape")
                yield VerticalScroll(id="agents", can_focus=False)
                with Vertical(id="agent-table-view"):
                    yield AgentTable()
                    yield Static(id="agent-tail")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.ready = True
        table = self.query_one("#sessions", DataTable)
        table.add_column("", key="state", width=1)  # its mark: the header says it in words
        table.add_column("session", key="id")
        self.query_one("#agent-table-view").display = False

    def on_screen_resume(self) -> None:
        self.post_message(MonitorShown())

    # --- rendering ------------------------------------------------------------------------

    def show(self, snapshots: tuple[SessionRecord, ...], selected: str | None) -> None:
        """Update the list by key, and the `selected` session's changed panels only."""
        table = self.query_one("#sessions", DataTable)
        with self.app.batch_update():
            for snap in snapshots:
                if self._listed.get(snap.id) is snap.state:
                    continue
                state = Text(SESSION_MARK[snap.state], SESSION_STYLE.get(snap.state, ""))
                if snap.id in self._listed:
                    table.update_cell(snap.id, "state", state)
                else:
                    # the id's random tail tells sessions apart; the header shows it whole
                    table.add_row(state, snap.id[-6:], key=snap.id)
                self._listed[snap.id] = snap.state
            record = next((s for s in snapshots if s.id == selected), None)
            if record is not None:
                if self.record is None or self.record.id != record.id:
                    table.move_cursor(row=table.get_row_index(record.id))
                self._show_session(record)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "agent-table":
            self._show_tail()
            self._footer_state()
            return
        # the cursor as it is now, not the event's row: queued events never fight over it
        table = self.query_one("#sessions", DataTable)
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key and (self.record is None or key != self.record.id):
            self.post_message(SessionSelected(key))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "agent-table":
            self.action_open_output()

    def _show_session(self, record: SessionRecord) -> None:
        now = self.now()
        new = self.record is None or self.record.id != record.id
        # fixed heights: no layout pass on refresh
        self.query_one("#session-stage", Static).update(stage_line(record), layout=False)
        totals = totals_line(record, now)
        self.query_one("#session-totals", Static).update(totals, layout=False)
        self.query_one("#session-shape", Static).update(shape_line(record), layout=False)
        subtasks = [a.subtask for a in record.agents]
        if new or [p.record.subtask for p in self._panels] != subtasks:
            box = self.query_one("#agents", VerticalScroll)
            box.remove_children()
            self._panels = [AgentPanel(agent, demo=record.simulated) for agent in record.agents]
            box.mount_all(self._panels)
            box.scroll_home(animate=False)  # a new session shows from its first agent
            self._grid = None
        for panel, agent in zip(self._panels, record.agents, strict=True):
            panel.show(agent, now)
        self.record = record
        self._lay_out()
        if self.table_view:
            self.query_one(AgentTable).show(record.agents, now)
            self._show_tail()
        self._footer_state()

    def on_resize(self, event: events.Resize) -> None:
        self._grid = None
        self.call_after_refresh(self._lay_out)

    def _lay_out(self) -> None:
        """Columns and panel size for the agents to fill the space they have."""
        box = self.query_one("#agents", VerticalScroll)
        width, height = box.size
        if not box.display:
            return  # the table shows: the grid is laid out when it shows again
        if not width or not height:
            if not self._layout_pending:  # not laid out yet: once it is
                self._layout_pending = True
                self.call_after_refresh(self._lay_out_now)
            return
        shape = grid_shape(len(self._panels), width, height)
        if shape == self._grid:
            return
        self._grid = shape
        columns, compact = shape
        box.styles.grid_size_columns = columns
        box.styles.grid_rows = str(COMPACT_HEIGHT if compact else FULL_HEIGHT)
        for panel in self._panels:
            panel.set_compact(compact)

    def _lay_out_now(self) -> None:
        self._layout_pending = False
        self._lay_out()

    def _show_tail(self) -> None:
        subtask = self.query_one(AgentTable).highlighted
        agent = self.record.agent(subtask) if self.record and subtask else None
        lines = shown_lines(agent)[-TAIL_ROWS:] if agent else []
        title = Text(f"{agent.subtask} → {agent.agent}" if agent else "", "bold")
        body = Text("\n".join(lines) or "(no output yet)", "dim")
        self.query_one("#agent-tail", Static).update(Text.assemble(title, "\n", body))

    def _footer_state(self) -> None:
        if self.record is not None:
            subtask = self._focused_agent()
            agent = self.record.agent(subtask) if subtask else None
            focused = agent.state if agent else None
            steerable = self._why_not_steer() is None
            self.control_state = (self.record.state, bool(self.record.agents), focused, steerable)

    def on_descendant_focus(self) -> None:
        self._footer_state()

    # --- views and focus ------------------------------------------------------------------

    def action_toggle_view(self) -> None:
        self.table_view = not self.table_view
        self.query_one("#agents").display = not self.table_view
        self.query_one("#agent-table-view").display = self.table_view
        self._grid = None
        if self.record is not None:
            self._show_session(self.record)
        if self.table_view:
            self.query_one(AgentTable).focus()
        elif self._panels:
            self._panels[0].focus()

    def action_sort(self) -> None:
        table = self.query_one(AgentTable)
        self.notify(f"agents sorted by {table.next_sort()}")
        if self.record is not None:
            table.show(self.record.agents, self.now())

    def action_move(self, delta: int) -> None:
        """The previous or next agent panel."""
        self._focus_panel(delta)

    def action_move_row(self, delta: int) -> None:
        """The panel above or below (a whole row of the grid)."""
        columns = self._grid[0] if self._grid else 1
        self._focus_panel(delta * columns)

    def _focus_panel(self, delta: int) -> None:
        if not self._panels:
            return
        focused = self.focused
        at = self._panels.index(focused) if isinstance(focused, AgentPanel) else -1
        target = self._panels[max(0, min(len(self._panels) - 1, at + delta))]
        target.focus()
        target.scroll_visible(animate=False)

    # --- controls -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        record = self.record
        if action == "toggle_view":
            return record is not None and bool(record.agents)
        if action == "sort":
            return self.table_view
        if action in ("move", "move_row"):
            return not self.table_view and isinstance(self.focused, AgentPanel)
        if action in SESSION_ACTIONS:
            return record is not None and applies(record.state, SESSION_ACTIONS[action])
        if action == "set_budget":
            return record is not None and not record.state.terminal
        if action == "steer_agent":
            return self._why_not_steer() is None
        if action in AGENT_ACTIONS or action == "open_output":  # on the focused agent
            agent = self._focused_agent()
            if record is None or agent is None:
                return False
            state = record.agent(agent)
            return action == "open_output" or (
                state is not None and agent_controls_apply(record.state, state.state)
            )
        return True

    def on_key(self, event: events.Key) -> None:
        explain_refusal(self, event, self._why_not)

    def _why_not(self, action: str) -> str | None:
        return why_not(action, self.record, self._focused_agent())

    def _why_not_steer(self) -> str | None:
        return why_not_steer(self.record, self._focused_agent())

    def _focused_agent(self) -> str | None:
        """The subtask of the focused panel, or of the table's row under the cursor."""
        focused = self.focused
        if isinstance(focused, AgentPanel):
            return focused.record.subtask
        if isinstance(focused, AgentTable):
            return focused.highlighted
        return None

    def _control(self, verb: Control, subtask: str | None = None) -> None:
        if self.record:
            self.post_message(ControlRequested(self.record.id, verb, subtask))

    def action_pause_session(self) -> None:
        self._control(Control.PAUSE)

    def action_resume_session(self) -> None:
        self._control(Control.RESUME)

    def action_cancel_session(self) -> None:
        record = self.record
        if record is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._control(Control.CANCEL)

        self.app.push_screen(
            ConfirmScreen(f"Cancel session {record.id}?", f"{record.item}: {record.task}"),
            answered,
        )

    def action_set_budget(self) -> None:
        record = self.record
        if record is None:
            return

        def answered(budget: float | None) -> None:
            if budget is not None:
                self.post_message(BudgetRequested(record.id, budget))

        self.app.push_screen(BudgetScreen(record), answered)

    def _agent_control(self, action: str) -> None:
        subtask = self._focused_agent()
        if self.record is None or subtask is None:
            self.notify("Focus an agent first (tab)", severity="warning")
            return
        self._control(AGENT_ACTIONS[action], subtask)

    def action_pause_agent(self) -> None:
        self._agent_control("pause_agent")

    def action_resume_agent(self) -> None:
        self._agent_control("resume_agent")

    def action_cancel_agent(self) -> None:
        self._agent_control("cancel_agent")

    def action_steer_agent(self) -> None:
        record, subtask = self.record, self._focused_agent()
        if record is None or subtask is None:
            return

        def send(text: str | None) -> None:
            if text:
                self.post_message(SteerRequested(record.id, subtask, text))

        self.app.push_screen(MessageScreen(subtask), send)

    def action_open_output(self) -> None:
        subtask = self._focused_agent()
        if self.record is None or subtask is None:
            self.notify("Focus an agent first (tab)", severity="warning")
            return
        self.post_message(OutputRequested(self.record.id, subtask))
