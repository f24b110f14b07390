"""The monitored session's agents as a table, one row per agent, sortable; updated by key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.text import Text

from ...core.models import AgentRecord, active_seconds
from ...core.text import duration, printable
from .. import format as fmt
from .agent_panel import step_style
from .list_table import ListTable
from .session_header import STATE_STYLE

COLUMNS = ("subtask", "agent", "state", "progress", "tokens", "cost", "active", "step")
# what `s` sorts by, in turn: the plan's order first
SORTS: dict[str, Callable[[AgentRecord, datetime], Any]] = {
    "plan": lambda a, now: 0,
    "state": lambda a, now: a.state.value,
    "progress": lambda a, now: -(a.progress or 0.0),
    "tokens": lambda a, now: -a.tokens.total,
    "cost": lambda a, now: -a.cost_usd,
    "active": lambda a, now: -(active_seconds(a, now) or 0.0),
}


class AgentTable(ListTable):
    def __init__(self) -> None:
        super().__init__(id="agent-table", zebra_stripes=True)
        self.sorted_by = "plan"
        self._order: list[str] = []  # the subtasks, as the rows show them
        self._cells: dict[str, tuple[Any, ...]] = {}

    def on_mount(self) -> None:
        for column in COLUMNS:  # the step last: it is the one cut on a narrow terminal
            self.add_column(column, key=column)

    def next_sort(self) -> str:
        names = list(SORTS)
        self.sorted_by = names[(names.index(self.sorted_by) + 1) % len(names)]
        self._order = []  # rows are added again, in the new order
        return self.sorted_by

    def show(self, agents: tuple[AgentRecord, ...], now: datetime) -> None:
        key = SORTS[self.sorted_by]
        ordered = sorted(agents, key=lambda a: key(a, now))  # stable: plan order among equals
        order = [a.subtask for a in ordered]
        if order != self._order:
            keep = self._highlighted()
            self.clear()
            self._cells = {}
            for agent in ordered:
                cells = _cells(agent, now)
                self.add_row(*cells, key=agent.subtask)
                self._cells[agent.subtask] = cells
            self._order = order
            if keep in order:
                self.move_cursor(row=order.index(keep))
            return
        for agent in ordered:
            cells = _cells(agent, now)
            for column, old, new in zip(COLUMNS, self._cells[agent.subtask], cells, strict=True):
                if old != new:
                    self.update_cell(agent.subtask, column, new)
            self._cells[agent.subtask] = cells

    def _highlighted(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    @property
    def highlighted(self) -> str | None:
        """The subtask of the row under the cursor."""
        return self._highlighted()


def _cells(agent: AgentRecord, now: datetime) -> tuple[Any, ...]:
    progress = 1.0 if agent.state.value == "SUCCEEDED" else agent.progress or 0.0
    return (
        Text(agent.subtask),
        Text(agent.agent),
        Text(agent.state.value, STATE_STYLE[agent.state]),
        f"{progress:4.0%}",
        fmt.tokens(agent.tokens.total),
        fmt.cost(agent.cost_usd),
        duration(active_seconds(agent, now)),
        Text(printable(agent.step), step_style(agent.step), no_wrap=True, overflow="ellipsis"),
    )
