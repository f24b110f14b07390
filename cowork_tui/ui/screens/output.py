"""An agent's output, read from its output file (its last `MAX_LINES` lines); while the agent
runs, what it adds shows as it comes, and the view follows the end unless scrolled away."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Log, Static

from ...core.models import AgentRecord
from ...core.text import printable

MAX_BYTES = 1024 * 1024  # the most read at once: the end of a larger output
MAX_LINES = 10_000  # the most lines on screen (the file keeps them all)
FOLLOW_SECONDS = 0.5  # how often a running agent's output is looked at


class OutputFile:
    """An output file read as it grows: its last `MAX_BYTES` first, then what was added."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def has_output(self) -> bool:
        return self.path.is_file() and self.path.stat().st_size > 0

    def read_new(self) -> str:
        with self.path.open("rb") as file:
            size = file.seek(0, 2)
            start = max(self.offset, size - MAX_BYTES)
            file.seek(start)
            data = file.read(size - start)
        skipped, self.offset = start - self.offset, start + len(data)
        if skipped:  # a character cut in two at the gap: start decoding afresh
            self._decoder.reset()
        head = f"[… {skipped:,} bytes not shown]\n" if skipped else ""
        return head + self._decoder.decode(data)


class OutputScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(
        self,
        session_id: str,
        agent: AgentRecord,
        latest: Callable[[], AgentRecord | None] = lambda: None,
    ) -> None:
        """`latest` gives the agent's record as it is now, while it runs."""
        super().__init__()
        self.session_id = session_id
        self.agent = agent
        self._latest = latest
        self._file: OutputFile | None = None  # once the agent has written to it
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="output-title")
        yield Log(id="output-log", auto_scroll=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        log = self.query_one(Log)
        self._show_title()
        self._show_output()
        if self.agent.state.terminal:
            log.scroll_home(animate=False)
        else:
            log.scroll_end(animate=False)
            self._timer = self.set_interval(FOLLOW_SECONDS, self._follow)
        log.focus()

    def _follow(self) -> None:
        latest = self._latest()
        if latest is not None:
            shown, self.agent = self.agent, latest
            if (shown.state, shown.output_path) != (latest.state, latest.output_path):
                self._show_title()  # only what the title shows
        self._show_output()
        if self.agent.state.terminal and self._timer is not None:
            self._timer.stop()

    def _show_title(self) -> None:
        agent = self.agent
        where = agent.output_path or ("no output" if agent.state.terminal else "no output yet")
        self.query_one("#output-title", Static).update(
            Text.assemble(
                (agent.subtask, "bold"),
                f" → {agent.agent} · {agent.state.value} · session {self.session_id}\n",
                (where, "dim"),
            )
        )

    def _show_output(self) -> None:
        """The output not shown yet: from the file once the agent has written to it, else the
        record's last lines (output may not have reached the disk yet)."""
        agent, log = self.agent, self.query_one(Log)
        at_end = log.is_vertical_scroll_end
        if self._file is None and agent.output_path:
            candidate = OutputFile(Path(agent.output_path))
            if candidate.has_output() or (agent.state.terminal and candidate.path.is_file()):
                self._file = candidate
                log.clear()
        if self._file is not None:
            try:
                self._append(self._file.read_new(), follow=at_end and not agent.state.terminal)
            except OSError as exc:
                log.write(f"\n{self._file.path}: cannot read the output: {exc.strerror}\n")
                self._file = None
            return
        live = "\n".join(agent.output_tail) or agent.output_preview
        log.clear()
        self._append(f"[the last lines so far]\n{live}" if live else "(no output yet)", False)

    def _append(self, text: str, follow: bool) -> None:
        """Add `text`, without terminal control, keeping the last `MAX_LINES` lines (Log's own
        `max_lines` would leave the view as tall as the lines it dropped)."""
        log, text = self.query_one(Log), printable(text)
        if log.line_count + text.count("\n") > MAX_LINES:
            kept = ("\n".join(log.lines) + text).split("\n")[-MAX_LINES:]
            log.clear()
            text = "\n".join(kept)
        log.write(text, scroll_end=follow)
