"""The launcher: task, max parallel, budget, backend, a live plan preview; `ctrl+s` launches."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Footer, Input, Label, Select, Static, TextArea

from ...core.engine.protocol import LaunchRequest
from ...core.errors import InputError
from ...core.launch import Launcher, parse_budget
from ...core.models import MAX_PARALLEL, MIN_PARALLEL, Item
from ...core.text import parse_int
from ..widgets.plan_view import draw_plan
from .confirm import ConfirmScreen

BACKENDS = [("auto", "auto"), ("demo — simulation", "demo"), ("claude", "claude")]
PREVIEW_DELAY = 0.3  # seconds of quiet typing before the plan is redrawn
MODEL_PLANS = "Claude plans the session when it starts; below, the plan from the task's words."
INSTALL_FIRST = "Not installed: it can act on this machine. ctrl+t shows what, and installs it."


class LauncherScreen(ModalScreen["LaunchRequest | None"]):
    """Dismissed with the request to launch (None: back)."""

    DEFAULT_CSS = "#budget { width: 12; }"
    BINDINGS = [
        Binding("ctrl+s", "launch", "Launch", priority=True),
        Binding("ctrl+t", "install", "Trust & install", priority=True),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, item: Item, launcher: Launcher, backend: str, task: str = "") -> None:
        super().__init__()
        self.item = item
        self.launcher = launcher
        self.backend = backend  # the default choice
        self.task_text = task
        self._preview: Timer | None = None

    def compose(self) -> ComposeResult:
        backend = self.backend
        with Vertical(id="launcher"):
            yield Static(Text.assemble("Launch ", (self.item.ref, "bold")), id="launcher-title")
            yield Label("Task")
            yield TextArea(self.task_text, id="task", show_line_numbers=False)
            with Horizontal(id="launcher-options"):
                yield Label("max parallel")
                yield Input(str(self.item.cowork.max_parallel_agents), id="parallel",
                            type="integer", max_length=2)  # fmt: skip
                yield Label("budget $")
                yield Input(self._default_budget(), id="budget", placeholder="none")
                yield Label("backend")
                yield Select(BACKENDS, value=backend, allow_blank=False, id="backend")
            with Horizontal(id="launcher-folder"):
                yield Label("working folder")
                yield Input(str(Path.cwd()), id="cwd")
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
        try:
            self._parallel()
            self._budget()
            self._cwd()
            preview = self.launcher.preview(self.item, self._task_text(), self._backend())
        except InputError as exc:
            error.update(Text(str(exc), "bold red"))
            plan_view.update("")
            return
        # what to know before launching stays in sight, above the plan
        notices = [INSTALL_FIRST] if self._needs_install() else []
        notices += [f"⚠ {warning}" for warning in preview.plan.warnings]
        error.update(Text("\n".join(notices), "yellow"))
        estimate = preview.estimate
        text = Text(f"estimated duration: {estimate.duration} · cost: {estimate.cost}\n", "bold")
        if preview.model_plans:
            text.append(MODEL_PLANS + "\n", "italic")
        text.append("\n")
        text.append_text(draw_plan(preview.plan))
        plan_view.update(text)

    def _task_text(self) -> str:
        task = self.query_one("#task", TextArea).text.strip()
        if not task:
            raise InputError("task: write what the agents should do")
        return task

    def _cwd(self) -> Path:
        text = self.query_one("#cwd", Input).value.strip()
        folder = Path(text or ".").expanduser()
        if not folder.is_dir():
            raise InputError(f"working folder: not a folder: {folder}")
        return folder.resolve()

    def _parallel(self) -> int:
        text = self.query_one("#parallel", Input).value
        return parse_int(text, "max parallel", MIN_PARALLEL, MAX_PARALLEL)

    def _default_budget(self) -> str:
        """The item's default budget, else the config's; empty for none."""
        budget = self.launcher.budget_for(self.item, None)
        return "" if budget is None else f"{budget:g}"

    def _budget(self) -> float | None:
        return parse_budget(self.query_one("#budget", Input).value)

    def _backend(self) -> str:
        return str(self.query_one("#backend", Select).value)

    def request(self) -> LaunchRequest:
        """The request as entered, through the one launch path (InputError when something is
        wrong, the item cannot run, or it is not trusted)."""
        request, notice = self.launcher.request(
            self.item,
            self._task_text(),
            cwd=self._cwd(),
            backend=self._backend(),
            max_parallel=self._parallel(),
        )
        if notice:
            self.notify(notice, severity="warning", markup=False)
        # the field starts with the defaults: as it stands it is the budget, empty for none
        return request.model_copy(update={"budget_usd": self._budget()})

    def _needs_install(self) -> bool:
        return not self.item.installed and self.launcher.needs_agreement(self.item)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "install":
            return self.launcher.needs_agreement(self.item)
        return True

    def action_install(self) -> None:
        """Show what the item can do on this machine; install it once the user agrees."""
        from ...core.marketplace.trust import describe_trust

        def answered(yes: bool | None) -> None:
            if yes:
                self.item = self.launcher.agree(self.item)
                self.refresh_bindings()
                self.update_preview()
                self.notify(f"{self.item.ref} installed", markup=False)

        self.app.push_screen(
            ConfirmScreen(
                f"Install {self.item.ref}?",
                f"It can act on this machine:\n\n{describe_trust(self.item)}",
            ),
            answered,
        )

    def action_back(self) -> None:
        self.dismiss(None)

    def action_launch(self) -> None:
        error = self.query_one("#launch-error", Static)
        try:
            self.launcher.preview(self.item, self._task_text(), self._backend())
        except InputError as exc:  # what the preview rejects is never launched
            error.update(Text(str(exc), "bold red"))
            return
        try:
            request = self.request()
        except InputError as exc:  # not trusted: the key that shows what it does, and installs
            error.update(Text(INSTALL_FIRST if self._needs_install() else str(exc), "bold red"))
            return
        self.dismiss(request)
