"""A yes/no modal: `y` confirms, `n` or `escape` declines."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, title: str, body: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="dialog-title", markup=False)
            if self.body:
                yield Static(self.body, id="dialog-body", markup=False)
            yield Static("[b]y[/b] yes   [b]n[/b] / [b]esc[/b] no", id="dialog-keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
