"""Sessions (mode 2): the session list, and the selected session's stage, totals and agents."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ...core.engine.lifecycle import Control, agent_controls_apply, applies
from ...core.models import SessionRecord, SessionState
from ...core.text import duration
from .. import format as fmt
from ..messages import ControlRequested, MonitorShown, OutputRequested, SessionSelected
from ..widgets.agent_panel import AgentPanel
from .confirm import ConfirmScreen

STAGES = (
    SessionState.INITIALIZING,
    SessionState.PLANNING,
    SessionState.RUNNING,
    SessionState.COMPLETING,
)
SESSION_STYLE = {
    SessionState.COMPLETED: "bold green",
    SessionState.FAILED: "bold red",
    SessionState.CANCELLED: "bold magenta",
    SessionState.INTERRUPTED: "bold magenta",
    SessionState.PAUSED: "bold yellow",
    SessionState.PAUSING: "yellow",
    SessionState.CANCELLING: "magenta",
}
SESSION_ACTIONS = {
    "pause_session": Control.PAUSE,
    "resume_session": Control.RESUME,
    "cancel_session": Control.CANCEL,
}
AGENT_ACTIONS = {
    "pause_agent": Control.PAUSE,
    "resume_agent": Control.RESUME,
    "cancel_agent": Control.CANCEL,
}


def stage_line(record: SessionRecord) -> Text:
    """INITIALIZING → PLANNING → RUNNING → COMPLETING → <final>, the current one lit."""
    text = Text()
    current = record.state
    for stage in STAGES:
        text.append(stage.value, "bold reverse" if stage is current else "dim")
        text.append(" → ", "dim")
    if current in STAGES:
        text.append("…", "dim")
    else:
        label = current.value + (" (partial)" if record.partial else "")
        text.append(f" {label} ", f"{SESSION_STYLE.get(current, 'bold')} reverse")
    return text


def totals_line(record: SessionRecord, now_elapsed: float | None) -> Text:
    """Item, totals, task and why it ended: four lines at most, never wrapped."""
    active = sum(1 for a in record.agents if a.state.value in ("RUNNING", "PAUSED"))
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{record.item}@{record.marketplace}", "bold")
    if record.simulated and any(a.model for a in record.agents):
        text.append("  SIMULATED model agents (demo backend)", "bold yellow")
    text.append(f"  {record.id}", "dim")
    text.append(
        f"\n{record.tokens.total:,} tokens · {fmt.cost(record.cost_usd)} · "
        f"{duration(now_elapsed)} · {active}/{len(record.agents)} agents active · "
        f"max {record.max_parallel}\n"
    )
    text.append(f"task: {record.task}", "italic")
    if record.error:
        text.append(f"\n{record.error}", "red")
    return text


class MonitorScreen(Screen[None]):
    AUTO_FOCUS = "#sessions"
    BINDINGS = [
        Binding("p", "pause_session", "Pause"),
        Binding("r", "resume_session", "Resume"),
        Binding("c", "cancel_session", "Cancel"),
        Binding("P", "pause_agent", "Pause agent"),
        Binding("R", "resume_agent", "Resume agent"),
        Binding("C", "cancel_agent", "Cancel agent"),
        Binding("enter", "open_output", "Output"),
    ]
    # what the footer's keys depend on: the shown session's state, and whether it has agents;
    # a reactive of its own so the footer is redrawn only when that changes, not on each poll
    control_state: reactive[tuple[SessionState, bool] | None] = reactive(None, bindings=True)
    record: SessionRecord | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            table: DataTable[Text | str] = DataTable(id="sessions", cursor_type="row")
            yield table
            with Vertical(id="session-view"):
                yield Static("No session yet: launch one from the marketplace (1, then l).",
                             id="session-stage")  # fmt: skip
                yield Static(id="session-totals")
                yield VerticalScroll(id="agents", can_focus=False)
        yield Footer(compact=True)

    ready = False  # composed and mounted: safe to show snapshots
    _panels: list[AgentPanel] = []  # the shown session's, in its agents' order

    def __init__(self, now: Callable[[], datetime]) -> None:
        super().__init__()
        self.now = now
        self._listed: dict[str, SessionState] = {}  # the session list's rows, as shown

    def on_mount(self) -> None:
        self.ready = True
        table = self.query_one("#sessions", DataTable)
        table.add_column("id", key="id")
        # states change in place: the column is as wide as the longest from the start
        table.add_column("state", key="state", width=max(len(s.value) for s in SessionState))
        table.add_column("item", key="item")

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
                state = Text(snap.state.value, SESSION_STYLE.get(snap.state, ""))
                if snap.id in self._listed:
                    table.update_cell(snap.id, "state", state)
                else:
                    # the id's random tail tells sessions apart; the header shows it whole
                    table.add_row(snap.id[-6:], state, Text(snap.item), key=snap.id)
                self._listed[snap.id] = snap.state
            record = next((s for s in snapshots if s.id == selected), None)
            if record is not None:
                if self.record is None or self.record.id != record.id:
                    table.move_cursor(row=table.get_row_index(record.id))
                self._show_session(record)

    def on_data_table_row_highlighted(self) -> None:
        # the cursor as it is now, not the event's row: queued events never fight over it
        table = self.query_one("#sessions", DataTable)
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key and (self.record is None or key != self.record.id):
            self.post_message(SessionSelected(key))

    def _show_session(self, record: SessionRecord) -> None:
        now = self.now()
        # fixed heights: no layout pass on refresh
        self.query_one("#session-stage", Static).update(stage_line(record), layout=False)
        totals = totals_line(record, fmt.elapsed(record, now))
        self.query_one("#session-totals", Static).update(totals, layout=False)
        same = self.record is not None and self.record.id == record.id
        subtasks = [a.subtask for a in record.agents]
        if not same or [p.record.subtask for p in self._panels] != subtasks:
            box = self.query_one("#agents", VerticalScroll)
            box.remove_children()
            self._panels = [AgentPanel(agent, demo=record.simulated) for agent in record.agents]
            box.mount_all(self._panels)
        for panel, agent in zip(self._panels, record.agents, strict=True):
            panel.show(agent, now)
        self.record = record
        self.control_state = (record.state, bool(record.agents))

    # --- controls -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        record = self.record
        if action in SESSION_ACTIONS:
            return record is not None and applies(record.state, SESSION_ACTIONS[action])
        if action in AGENT_ACTIONS or action == "open_output":  # on the focused agent (tab)
            panel = self._focused_agent()
            if record is None or panel is None:
                return False
            return action == "open_output" or agent_controls_apply(record.state, panel.record.state)
        return True

    def _focused_agent(self) -> AgentPanel | None:
        focused = self.focused
        return focused if isinstance(focused, AgentPanel) else None

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

    def _agent_control(self, action: str) -> None:
        panel = self._focused_agent()
        if self.record is None or panel is None:
            self.notify("Focus an agent first (tab)", severity="warning")
            return
        self._control(AGENT_ACTIONS[action], panel.record.subtask)

    def action_pause_agent(self) -> None:
        self._agent_control("pause_agent")

    def action_resume_agent(self) -> None:
        self._agent_control("resume_agent")

    def action_cancel_agent(self) -> None:
        self._agent_control("cancel_agent")

    def action_open_output(self) -> None:
        panel = self._focused_agent()
        if self.record is None or panel is None:
            self.notify("Focus an agent first (tab)", severity="warning")
            return
        self.post_message(OutputRequested(self.record.id, panel.record.subtask))
