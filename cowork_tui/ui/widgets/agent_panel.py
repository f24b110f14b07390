"""One agent of the monitored session: state, subtask, step, progress, usage, output tail.

A single widget of fixed height that renders its record: a refresh repaints it alone, with
no layout pass and no child widgets (cheap with 100 agents on screen).
"""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from ...core.models import AgentRecord, AgentState
from ...core.text import duration, printable
from .. import format as fmt

STATE_STYLE = {
    AgentState.PENDING: "dim",
    AgentState.QUEUED: "dim",
    AgentState.RUNNING: "bold cyan",
    AgentState.PAUSED: "bold yellow",
    AgentState.SUCCEEDED: "bold green",
    AgentState.FAILED: "bold red",
    AgentState.TIMED_OUT: "bold red",
    AgentState.CANCELLED: "bold magenta",
    AgentState.SKIPPED: "dim magenta",
    AgentState.INTERRUPTED: "bold magenta",
}
TAIL_LINES = 3


class AgentPanel(Widget, can_focus=True):
    """Updated in place by `show`; repainted only when its record or clock changed."""

    def __init__(self, record: AgentRecord, demo: bool) -> None:
        super().__init__(classes="agent-panel")
        self.record = record
        self.demo = demo  # the session's model agents run on the demo backend
        self.clock = ""
        self._shown: tuple[AgentRecord, str] | None = None

    def on_mount(self) -> None:
        self.border_title = self.record.subtask

    def show(self, record: AgentRecord, now: datetime) -> None:
        clock = duration(fmt.elapsed(record, now))
        if self._shown == (record, clock):
            return
        self._shown = (record, clock)
        self.record, self.clock = record, clock
        if self.has_class("-running") != (record.state is AgentState.RUNNING):
            self.set_class(record.state is AgentState.RUNNING, "-running")
        self.refresh()

    def render(self) -> RenderableType:
        record = self.record
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(f"{record.state.value:<11}", STATE_STYLE[record.state])
        title.append(f" {record.agent}")
        if self.demo and record.model is not None:  # a model agent, simulated
            title.append("  simulated", "italic yellow")
        if record.model:
            title.append(f"  {record.model}", "dim")
        prompt = Text(record.prompt, "italic", no_wrap=True, overflow="ellipsis")
        step = Text(f"▸ {printable(record.step)}" if record.step else "", no_wrap=True,
                    overflow="ellipsis")  # fmt: skip
        bar = Table.grid(expand=True, padding=(0, 1))
        bar.add_column(ratio=1)
        bar.add_column(width=4, justify="right")
        percent = _percent(record)
        bar.add_row(ProgressBar(total=100, completed=percent, pulse=False), f"{percent:.0f}%")
        usage = Text(
            f"{record.tokens.total:,} tokens  {fmt.cost(record.cost_usd)}  {self.clock}",
            no_wrap=True,
        )
        tail = record.error or "\n".join(record.output_tail) or record.output_preview
        lines = printable(tail).strip().splitlines()[-TAIL_LINES:]  # no terminal control
        tail_text = Text("\n".join(lines), "red" if record.error else "dim", no_wrap=True,
                         overflow="ellipsis")  # fmt: skip
        return Group(title, prompt, step, bar, usage, tail_text)


def _percent(record: AgentRecord) -> float:
    if record.state is AgentState.SUCCEEDED:
        return 100.0
    return 100.0 * (record.progress or 0.0)
