"""One agent of the monitored session: state, subtask, step, progress, usage, output tail.

A single widget of fixed height that renders its record: a refresh repaints it alone, with
no layout pass and no child widgets (cheap with 100 agents on screen). Compact, it keeps to
four lines: state, step, progress with usage, and the last output line.
"""

from __future__ import annotations

import re
from datetime import datetime

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from ...core.engine.backends.base import RATE_LIMITED, STALLED
from ...core.models import AgentRecord, AgentState, active_seconds
from ...core.text import duration, printable
from .. import format as fmt
from .session_header import STATE_STYLE

FULL_HEIGHT, COMPACT_HEIGHT = 10, 6  # rows, borders included
TAIL_LINES = 3
_COMMENT = re.compile(r"^\s*<!--.*-->\s*$")  # Markdown comments: for machines, not for people


def step_style(step: str) -> str:
    """A step that needs the user's eye (rate limited, stalled) stands out."""
    return "bold yellow" if step.startswith((RATE_LIMITED, STALLED)) else ""


def shown_lines(record: AgentRecord) -> list[str]:
    """The output lines worth showing, last ones last: no terminal control, no comments."""
    tail = record.error or "\n".join(record.output_tail) or record.output_preview
    lines = printable(tail).strip().splitlines()
    return [line for line in lines if line.strip() and not _COMMENT.match(line)]


class AgentPanel(Widget, can_focus=True):
    """Updated in place by `show`; repainted only when its record, clock or size changed."""

    def __init__(self, record: AgentRecord, demo: bool) -> None:
        super().__init__(classes="agent-panel")
        self.record = record
        self.demo = demo  # the session's model agents run on the demo backend
        self.clock = ""
        self.compact = False
        self._shown: tuple[AgentRecord, str] | None = None

    def on_mount(self) -> None:
        self.border_title = self.record.subtask

    def show(self, record: AgentRecord, now: datetime) -> None:
        clock = duration(active_seconds(record, now))
        if self._shown == (record, clock):
            return
        self._shown = (record, clock)
        self.record, self.clock = record, clock
        if self.has_class("-running") != (record.state is AgentState.RUNNING):
            self.set_class(record.state is AgentState.RUNNING, "-running")
        self.refresh()

    def set_compact(self, compact: bool) -> None:
        if compact != self.compact:
            self.compact = compact
            self.set_class(compact, "-compact")
            self.refresh()

    def render(self) -> RenderableType:
        record = self.record
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(f"{record.state.value:<11}", STATE_STYLE[record.state])
        title.append(f" {record.agent}")
        if record.skills:
            title.append(f" [{', '.join(record.skills)}]", "magenta")
        if self.demo and record.model is not None:  # a model agent, simulated
            title.append("  simulated", "italic yellow")
        if record.model:
            title.append(f"  {record.model}", "dim")
        step = Text(f"▸ {printable(record.step)}" if record.step else "", step_style(record.step),
                    no_wrap=True, overflow="ellipsis")  # fmt: skip
        usage = Text(
            f"{fmt.tokens(record.tokens.total)} tok  {fmt.cost(record.cost_usd)}  {self.clock}",
            no_wrap=True,
        )
        lines = shown_lines(record)
        style = "red" if record.error else "dim"
        if self.compact:
            last = Text(lines[-1] if lines else "", style, no_wrap=True, overflow="ellipsis")
            return Group(title, step, _bar(record, usage), last)
        prompt = Text(record.prompt, "italic", no_wrap=True, overflow="ellipsis")
        tail = Text("\n".join(lines[-TAIL_LINES:]), style, no_wrap=True, overflow="ellipsis")
        return Group(title, prompt, step, _bar(record, None), usage, tail)


def _bar(record: AgentRecord, usage: Text | None) -> Table:
    """The progress bar and its percentage, with the usage beside it when compact."""
    bar = Table.grid(expand=True, padding=(0, 1))
    bar.add_column(ratio=1)
    bar.add_column(width=4, justify="right")
    cells: list[RenderableType] = [ProgressBar(total=100, completed=_percent(record)),
                                   f"{_percent(record):.0f}%"]  # fmt: skip
    if usage is not None:
        bar.add_column(no_wrap=True)
        cells.append(usage)
    bar.add_row(*cells)
    return bar


def _percent(record: AgentRecord) -> float:
    if record.state is AgentState.SUCCEEDED:
        return 100.0
    return 100.0 * (record.progress or 0.0)
