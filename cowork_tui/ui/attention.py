"""Sessions that need the user: each one that ends or stops at its budget out of sight is told
once (a notification and the bell), and the terminal's title counts the running and waiting."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.notifications import SeverityLevel

if TYPE_CHECKING:
    from ..core.config import Settings
    from ..core.models import SessionRecord


class Attention:
    """What `app` (its title `name`) tells of its sessions; `in_front(session_id)`: the user
    sees it now."""

    def __init__(self, app: App[Any], name: str, in_front: Callable[[str], bool]) -> None:
        self.app = app
        self.name = name
        self.in_front = in_front
        self.seen: dict[str, str | None] = {}  # each session's ending or budget stop, seen
        self.terminal_title = ""  # what the terminal's title says, once set

    def announce(
        self, snapshots: tuple[SessionRecord, ...], quiet: bool, settings: Settings
    ) -> None:
        """A notification and the bell for each session that ended or stopped at its budget
        since the last poll while the monitor was not showing it (`notify` in config.toml)."""
        for record in snapshots:
            attention = _attention(record)
            if attention == self.seen.get(record.id, None):
                continue
            self.seen[record.id] = attention
            if attention is None or quiet or self.in_front(record.id):
                continue  # nothing new; it ended before the app first looked; or it is shown
            if settings.notify == "none":
                continue
            text, title, severity = _attention_note(record, attention)
            self.app.notify(text, title=title, severity=severity, markup=False)
            if settings.bell:
                self.app.bell()

    def show_counts(self, snapshots: tuple[SessionRecord, ...]) -> None:
        """The terminal's title: "cowork-tui — 2 running, 1 needs you" (a paused session
        waits on the user, whether its budget or the user paused it)."""
        from ..core.models import SessionState

        waiting = (SessionState.PAUSING, SessionState.PAUSED)
        needs = sum(1 for s in snapshots if s.state in waiting)
        running = sum(1 for s in snapshots if not s.state.terminal) - needs
        counts = [f"{running} running"] if running else []
        counts += [f"{needs} needs you"] if needs else []
        title = " — ".join([self.name, ", ".join(counts)]) if counts else self.name
        if title == self.terminal_title:
            return
        if not self.terminal_title:
            self._write_terminal("\x1b[22;2t")  # keep the terminal's own title, for the end
        self.terminal_title = title
        self._write_terminal(f"\x1b]2;{title}\x07")

    def restore_terminal_title(self) -> None:
        if self.terminal_title:
            self._write_terminal("\x1b[23;2t")

    def _write_terminal(self, sequence: str) -> None:
        driver = self.app._driver
        if not self.app.is_headless and driver is not None:
            driver.write(sequence)


def _attention(record: SessionRecord) -> str | None:
    """What the user is told of: "ended" (also failed, cancelled), "budget" (stopped at it)."""
    if record.state.terminal:
        return "ended"
    if record.paused_reason == "budget" and record.state.value in ("PAUSING", "PAUSED"):
        return "budget"
    return None


def _attention_note(record: SessionRecord, attention: str) -> tuple[str, str, SeverityLevel]:
    """The notification's text, title and severity."""
    if attention == "budget":
        return f"{record.item}: paused at its budget", "Needs you", "warning"
    partial = " (partial)" if record.partial else ""
    severity: SeverityLevel = "information" if record.state.value == "COMPLETED" else "warning"
    return f"{record.item}: {record.state.value}{partial}", "Session ended", severity
