"""The launcher: task, max parallel, backend, a live plan preview; `ctrl+s` launches."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Footer, Input, Label, Select, Static, TextArea

from ...core.engine import LaunchRequest
from ...core.errors import InputError
from ...core.models import Item, Plan, Tokens
from ...core.planner import plan_task
from ...core.pricing import PriceTable
from ..widgets.plan_view import draw_plan

if TYPE_CHECKING:
    from ..app import CoworkApp

BACKENDS = [("auto", "auto"), ("demo — simulation", "demo"), ("claude", "claude")]
PREVIEW_DELAY = 0.3  # seconds of quiet typing before the plan is redrawn
# a rough guess of one model agent's usage, for the cost estimate
TYPICAL_USAGE = Tokens(input=20_000, output=2_000)


def estimate_cost(item: Item, plan: Plan, prices: PriceTable, backend: str) -> str:
    # a subtask whose agent is not the item's is the built-in merge: a model agent only when
    # the item has model agents (else it merges in process)
    has_models = any(spec.kind == "model" for spec in item.agents)
    specs = [item.agent(sub.agent) for sub in plan.subtasks]
    models = [s for s in specs if (s.kind == "model" if s else has_models)]
    if not models:
        return "$0 (local commands only)"
    if backend == "demo":
        return "$0 (demo: model agents are simulated)"
    total = sum(
        prices.cost((spec.model if spec else None) or "sonnet", TYPICAL_USAGE) for spec in models
    )
    return f"≈ ${total:.2f} (rough: 20k input + 2k output tokens per model agent)"


def parse_parallel(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"max parallel: not a whole number: {text!r}") from None
    if not 1 <= value <= 10:
        raise InputError("max parallel: must be between 1 and 10")
    return value


class LauncherScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("ctrl+s", "launch", "Launch", priority=True),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, item: Item, task: str = "") -> None:
        super().__init__()
        self.item = item
        self.task_text = task
        self._preview: Timer | None = None

    @property
    def cowork(self) -> CoworkApp:
        return cast("CoworkApp", self.app)

    def compose(self) -> ComposeResult:
        backend = self.cowork.workspace.settings.default_backend
        with Vertical(id="launcher"):
            yield Static(Text.assemble("Launch ", (self.item.ref, "bold")), id="launcher-title")
            yield Label("Task")
            yield TextArea(self.task_text, id="task", show_line_numbers=False)
            with Horizontal(id="launcher-options"):
                yield Label("max parallel")
                yield Input(str(self.item.cowork.max_parallel_agents), id="parallel",
                            type="integer", max_length=2)  # fmt: skip
                yield Label("backend")
                yield Select(BACKENDS, value=backend, allow_blank=False, id="backend")
            yield Static(id="launch-error")
            with VerticalScroll(id="plan-preview"):
                yield Static(id="plan")
            yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#task", TextArea).focus()
        self.update_preview()

    def on_text_area_changed(self) -> None:
        if self._preview is not None:
            self._preview.stop()
        self._preview = self.set_timer(PREVIEW_DELAY, self.update_preview)

    def on_input_changed(self) -> None:
        self.update_preview()

    def on_select_changed(self) -> None:
        self.update_preview()

    def update_preview(self) -> None:
        """Plan the task as it stands; problems show inline, never as a crash."""
        error = self.query_one("#launch-error", Static)
        plan_view = self.query_one("#plan", Static)
        task = self.query_one("#task", TextArea).text.strip()
        try:
            parse_parallel(self.query_one("#parallel", Input).value)
            if not task:
                raise InputError("task: write what the agents should do")
            plan = plan_task(self.item, task)
        except InputError as exc:
            error.update(Text(str(exc), "bold red"))
            plan_view.update("")
            return
        error.update("")
        backend, _ = self.cowork.workspace.resolve_backend(
            str(self.query_one("#backend", Select).value), self.item
        )
        estimate = self.item.cowork.estimated_duration or "not given"
        cost = estimate_cost(self.item, plan, self.cowork.workspace.prices, backend)
        text = Text(f"estimated duration: {estimate} · cost: {cost}\n\n", "bold")
        text.append_text(draw_plan(plan))
        plan_view.update(text)

    def request(self) -> LaunchRequest:
        """The request as entered (InputError when something is wrong or untrusted)."""
        workspace = self.cowork.workspace
        task = self.query_one("#task", TextArea).text.strip()
        if not task:
            raise InputError("task: write what the agents should do")
        parallel = parse_parallel(self.query_one("#parallel", Input).value)
        workspace.catalog.check_trust(self.item)
        backend, notice = workspace.resolve_backend(
            str(self.query_one("#backend", Select).value), self.item
        )
        if notice:
            self.notify(notice, severity="warning", markup=False)
        return LaunchRequest(
            item=self.item, task=task, backend=backend, max_parallel=parallel, cwd=Path.cwd()
        )

    def action_launch(self) -> None:
        try:
            request = self.request()
        except InputError as exc:
            self.query_one("#launch-error", Static).update(Text(str(exc), "bold red"))
            return
        self.dismiss()
        self.cowork.launch(request)
