"""Live progress of a headless `run` on a terminal (stderr, so stdout stays the result)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..core.models import SessionRecord
from ..core.text import printable


class LiveProgress:
    def __init__(self) -> None:
        self._live = Live(console=Console(stderr=True), auto_refresh=False, transient=False)

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.__exit__(exc_type, exc, tb)

    def update(self, record: SessionRecord) -> None:
        self._live.update(progress_table(record), refresh=True)


def progress_table(record: SessionRecord) -> Table:
    simulated = " · demo backend: simulated agents" if record.simulated else ""
    table = Table(
        title=f"{record.item} · {record.state} · {record.tokens.total:,} tokens · "
        f"${record.cost_usd:.4f}{simulated}",
        title_justify="left",
        expand=False,
    )
    for column in ("subtask", "agent", "state", "progress", "step", "tokens", "cost"):
        table.add_column(column, no_wrap=True, overflow="ellipsis", max_width=40)
    for agent in record.agents:
        progress = f"{agent.progress:4.0%}" if agent.progress is not None else ""
        table.add_row(
            Text(agent.subtask),  # Text: what agents report is shown as is, never as markup
            Text(agent.agent),
            agent.state,
            progress,
            Text(printable(agent.step)),
            f"{agent.tokens.total:,}",
            f"${agent.cost_usd:.4f}",
        )
    return table
