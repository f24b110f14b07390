"""An agent's full output, read from its output file (the last `MAX_BYTES`)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Log, Static

from ...core.models import AgentRecord

MAX_BYTES = 2 * 1024 * 1024


def read_output(agent: AgentRecord) -> str:
    """The end of the output file, or the record's last lines while the file is still empty
    (a running agent's output may not have reached the disk yet)."""
    if (
        agent.output_path
        and Path(agent.output_path).is_file()
        and (Path(agent.output_path).stat().st_size or agent.state.terminal)
    ):
        path = Path(agent.output_path)
        try:
            with path.open("rb") as file:
                size = file.seek(0, 2)
                file.seek(max(0, size - MAX_BYTES))
                data = file.read()
        except OSError as exc:
            return f"{path}: cannot read the output: {exc.strerror}"
        head = f"[… first {size - MAX_BYTES:,} bytes not shown]\n" if size > MAX_BYTES else ""
        return head + data.decode(errors="replace")
    live = "\n".join(agent.output_tail) or agent.output_preview
    return f"[the last lines so far]\n{live}" if live else "(no output yet)"


class OutputScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, session_id: str, agent: AgentRecord) -> None:
        super().__init__()
        self.session_id = session_id
        self.agent = agent

    def compose(self) -> ComposeResult:
        where = self.agent.output_path or "no output file"
        yield Static(
            Text.assemble(
                (self.agent.subtask, "bold"),
                f" → {self.agent.agent} · {self.agent.state.value} · session {self.session_id}\n",
                (str(where), "dim"),
            ),
            id="output-title",
        )
        yield Log(id="output-log", max_lines=50_000, auto_scroll=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        log = self.query_one(Log)
        log.write(read_output(self.agent))
        log.scroll_home(animate=False)
        log.focus()
