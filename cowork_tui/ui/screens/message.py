"""The dialog that asks for a message to the focused agent."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class MessageScreen(ModalScreen[str | None]):
    """`m`: one line for the focused agent; `enter` sends it, `escape` does not."""

    DEFAULT_CSS = "MessageScreen { align: center middle; }"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, subtask: str) -> None:
        super().__init__()
        self.subtask = subtask

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Message to agent {self.subtask}", id="dialog-title", markup=False)
            yield Static("It reads it at its next turn.", id="dialog-body")
            yield Input(placeholder="what the agent should know", id="steer-text")
            yield Static("[b]enter[/b] send   [b]esc[/b] cancel", id="dialog-keys")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)
