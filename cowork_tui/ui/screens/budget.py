"""The monitor's `b`: a session's new budget, in dollars, above what it has spent; `enter` sets
it, `escape` leaves it as it was."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ...core.engine.lifecycle import usd
from ...core.errors import InputError
from ...core.launch import parse_budget
from ...core.models import SessionRecord


def check_budget(text: str, spent: float) -> float:
    """The budget typed in; InputError unless it is an amount above `spent`."""
    budget = parse_budget(text)
    if budget is None:
        raise InputError("budget: type an amount of dollars, e.g. 2.50")
    if budget <= spent:
        raise InputError(f"budget: must be more than the {usd(spent)} spent")
    return budget


class BudgetScreen(ModalScreen[float | None]):
    """Dismissed with the new budget, or None when the user backs out."""

    DEFAULT_CSS = "BudgetScreen { align: center middle; } #budget-error { color: $error; }"
    BINDINGS = [Binding("escape", "dismiss(None)", "Back", show=False)]

    def __init__(self, record: SessionRecord) -> None:
        super().__init__()
        self._spent = record.cost_usd
        self._title = f"Budget of session {record.id}"
        now = usd(record.budget_usd) if record.budget_usd is not None else "none"
        self._body = f"spent {usd(record.cost_usd)} · budget {now}"

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self._title, id="dialog-title", markup=False)
            yield Static(self._body, id="dialog-body", markup=False)
            yield Input(placeholder="new budget in $, e.g. 2.50", id="budget-input")
            yield Static("", id="budget-error", markup=False)
            yield Static("[b]enter[/b] set   [b]esc[/b] back", id="dialog-keys")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            budget = check_budget(event.value, self._spent)
        except InputError as exc:
            self.query_one("#budget-error", Static).update(str(exc))
            return
        self.dismiss(budget)
