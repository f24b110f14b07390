"""The dialog that asks for a marketplace to add."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class AddMarketplaceScreen(ModalScreen[str | None]):
    """Asks for a marketplace to add: a folder, a git URL or owner/repo."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Add a marketplace", id="dialog-title")
            yield Input(placeholder="folder, git URL (https, ssh, file://) or owner/repo",
                        id="add-source")  # fmt: skip
            yield Static("[b]enter[/b] add   [b]esc[/b] cancel", id="dialog-keys")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)
