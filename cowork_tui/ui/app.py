"""The Textual app: three modes (marketplace, sessions, history) over one in-process engine.

The first frame comes before the core loads: the app opens the workspace (settings, crash
recovery, catalog) in a thread, then shows its first mode. This module imports no core module
that pulls in pydantic, and the modes' screens load on first use.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, get_current_worker

from ..core.clock import utcnow
from ..core.errors import ControlError, InputError
from .attention import Attention
from .commands import CoworkCommands
from .opening import add_modes, open_default_workspace, show_rows
from .relaunch import rerun_request, resume_request
from .screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from ..core.engine.protocol import Engine, LaunchRequest
    from ..core.models import SessionRecord
    from ..core.workspace import Workspace
    from . import messages
    from .screens.monitor import MonitorScreen

SETTLE_SECONDS = 0.3  # after a control or a launch, look again: PAUSING → PAUSED and the like
EngineFactory = Callable[[], AbstractAsyncContextManager["Engine"]]


class CoworkApp(App[int]):
    TITLE = "cowork-tui"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {CoworkCommands}
    BINDINGS = [
        # one footer entry for the three: the footer keeps room for the screen's own keys
        Binding("1", "switch_mode('marketplace')", "Screens", key_display="1/2/3"),
        Binding("2", "switch_mode('sessions')", "Sessions", show=False),
        Binding("3", "switch_mode('history')", "History", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        workspace: Workspace | None = None,
        launch: LaunchRequest | None = None,
        *,
        engine_factory: EngineFactory | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        """Without a workspace, the app opens the default one itself, after its first frame."""
        super().__init__()
        self._workspace = workspace
        self.now = now
        self.engine: Engine | None = None
        self.selected_session: str | None = None  # the monitor shows this one
        self.open_error: InputError | OSError | None = None  # the workspace could not open
        self._launch = launch
        self._engine_factory = engine_factory
        self._engine_worker: Worker[None] | None = None
        self._stop = asyncio.Event()
        self._polled_version = -1
        self._attention = Attention(self, self.TITLE, self._in_front)
        self.handle_signals = False  # run_app: the real terminal's signals stop the app cleanly

    @property
    def workspace(self) -> Workspace:
        assert self._workspace is not None, "the workspace is still opening"
        return self._workspace

    @property
    def terminal_title(self) -> str:
        """What the terminal's title says, once set."""
        return self._attention.terminal_title

    # --- start: the first frame, then the workspace ---------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Opening the workspace…", id="opening")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        if self.handle_signals:
            # SIGTERM, SIGHUP (the terminal closed): interrupt the sessions cleanly, then exit
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, lambda: self.run_worker(self.close()))
            loop.add_signal_handler(signal.SIGHUP, lambda: self.run_worker(self.hang_up()))
        if self._workspace is None:
            self.run_worker(self._open_workspace, name="open", thread=True)
        else:
            self._start(self._workspace)

    def _open_workspace(self) -> None:
        """In a thread: settings, crash recovery and the catalog, then the first mode."""
        gc.disable()  # opening allocates much and frees little: no collections meanwhile
        try:
            workspace = open_default_workspace(
                lambda rows: self.call_from_thread(show_rows, self, rows)
            )
        except (InputError, OSError) as exc:
            self.call_from_thread(self._failed_to_open, exc)
        else:
            if not get_current_worker().is_cancelled:  # the user quit meanwhile
                self.call_from_thread(self._start, workspace)
        finally:
            gc.freeze()  # what the start loaded lives as long as the app: never scan it again
            gc.enable()

    def _failed_to_open(self, exc: InputError | OSError) -> None:
        self.open_error = exc  # run_app raises it: the CLI reports it and exits
        self.exit(return_code=2 if isinstance(exc, InputError) else 1)

    def _start(self, workspace: Workspace) -> None:
        from .messages import ArchiveProblem

        self._workspace = workspace

        def tell(text: str) -> None:
            self.post_message(ArchiveProblem(text))  # from the archive's thread, whichever

        workspace.archive.on_problem = tell
        if workspace.archive.problem:  # found while it opened
            self.post_message(ArchiveProblem(workspace.archive.problem))
        add_modes(self, workspace, self.now)
        self.switch_mode("sessions" if self._launch else "marketplace")
        engine = self._run_engine(self._engine_factory or workspace.engine)
        self._engine_worker = self.run_worker(engine, name="engine", exit_on_error=True)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's palette entries, but its Quit: ours (CoworkCommands) asks first."""
        return (c for c in super().get_system_commands(screen) if c.title != "Quit")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "switch_mode" and self._workspace is None:
            return None  # shown, dimmed, until the workspace is open
        return True

    # --- engine ---------------------------------------------------------------------------

    async def _run_engine(self, factory: EngineFactory) -> None:
        """Keep the engine for the app's life; on stop, interrupt what still runs here. An
        engine that cannot start (no Temporal server at its address) ends the app, saying why."""
        try:
            async with factory() as engine:
                self.engine = engine
                if engine.notice:
                    self.notify(engine.notice, title="Temporal", severity="warning", markup=False)
                if self._launch is not None:
                    self.launch(self._launch)
                self._arm_poll()
                await self._stop.wait()
                await engine.shutdown("app shutdown")
        except InputError as exc:
            self._failed_to_open(exc)
        self.engine = None

    def launch(self, request: LaunchRequest) -> str | None:
        """Start a session and show it on the monitor; None (and a toast) when it cannot start."""
        if self.engine is None:
            self.notify("The engine is still starting", severity="warning")
            return None
        try:
            session_id = self.engine.launch(request)
        except InputError as exc:
            self.notify(str(exc), title="Cannot launch", severity="error", markup=False)
            return None
        self.show_session(session_id)
        self.set_timer(SETTLE_SECONDS, self.poll_now)  # its agents started
        return session_id

    def show_session(self, session_id: str) -> None:
        self.selected_session = session_id
        if self.current_mode != "sessions":
            self.switch_mode("sessions")  # the monitor shows it when it comes to the front
        else:
            self.poll_now(force=True)

    def _monitor(self) -> MonitorScreen | None:
        """The monitor, when it is on top and ready (nothing is while the app closes)."""
        from .screens.monitor import MonitorScreen  # loaded by now, with the workspace

        screen = self.screen_stack[-1] if self.screen_stack else None
        return screen if isinstance(screen, MonitorScreen) and screen.ready else None

    # --- what the screens ask (messages up) -----------------------------------------------

    def on_launcher_requested(self, message: messages.LauncherRequested) -> None:
        from .screens.launcher import LauncherScreen  # loads on first use: a faster start

        workspace = self.workspace
        screen = LauncherScreen(
            message.item, workspace.launcher, workspace.settings.default_backend
        )
        self.push_screen(screen, self._launch_if_asked)

    def _launch_if_asked(self, request: LaunchRequest | None) -> None:
        if request is not None:
            self.launch(request)

    def on_control_requested(self, message: messages.ControlRequested) -> None:
        """A control of a session or one agent; its effect shows at once."""
        if self.engine is None:
            return
        try:
            self.engine.control(message.session_id, message.verb, message.subtask)
        except ControlError as exc:
            self.notify(str(exc), severity="error", markup=False)
        self.poll_now()
        self.set_timer(SETTLE_SECONDS, self.poll_now)  # and once it has taken effect

    def on_budget_requested(self, message: messages.BudgetRequested) -> None:
        """A new budget; a session paused at its old one resumes (what raising it is for)."""
        if self.engine is None:
            return
        try:
            self.engine.set_budget(message.session_id, message.budget_usd)
            if self.engine.snapshot(message.session_id).paused_reason == "budget":
                self.engine.resume(message.session_id)
        except ControlError as exc:
            self.notify(str(exc), severity="error", markup=False)
        self.poll_now()

    async def on_steer_requested(self, message: messages.SteerRequested) -> None:
        """The user's message to a running agent: sent, or a toast saying why not."""
        if self.engine is None:
            return
        try:
            await self.engine.steer(message.session_id, message.subtask, message.text)
        except ControlError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.notify(f"Sent to {message.subtask}: it reads it at its next turn", markup=False)
        self.poll_now()

    def on_output_requested(self, message: messages.OutputRequested) -> None:
        from .screens.output import OutputScreen

        engine, session_id, subtask = self.engine, message.session_id, message.subtask
        agent = engine.snapshot(session_id).agent(subtask) if engine else None
        if engine is None or agent is None:
            return
        self.push_screen(
            OutputScreen(session_id, agent, lambda: engine.snapshot(session_id).agent(subtask))
        )

    def on_session_selected(self, message: messages.SessionSelected) -> None:
        if message.session_id != self.selected_session:
            self.selected_session = message.session_id
            self.poll_now(force=True)

    def on_monitor_shown(self) -> None:
        self.poll_now(force=True)

    def on_rerun_requested(self, message: messages.RerunRequested) -> None:
        """The same item, task, backend and max parallel, through the launch path (the item
        may have changed since)."""
        self._relaunch(rerun_request, message.session_id, "Cannot re-run")

    def on_archive_problem(self, message: messages.ArchiveProblem) -> None:
        self.notify(message.text, title="Archive", severity="warning", timeout=30, markup=False)

    def on_resume_requested(self, message: messages.ResumeRequested) -> None:
        """The session continued under its id."""
        self._relaunch(resume_request, message.session_id, "Cannot resume")

    def _relaunch(
        self, make: Callable[[Workspace, str], LaunchRequest], session_id: str, refused: str
    ) -> None:
        """Build the request in a thread (it reads the archive), then launch it; a toast
        titled `refused` says why it cannot be."""

        def prepare() -> None:
            try:
                request = make(self.workspace, session_id)
            except InputError as exc:
                self.call_from_thread(
                    self.notify, str(exc), title=refused, severity="error", markup=False
                )
                return
            self.call_from_thread(self.launch, request)

        self.run_worker(prepare, thread=True)

    # --- refresh: a one-shot timer re-armed after each poll -------------------------------

    def _arm_poll(self) -> None:
        self.set_timer(self.workspace.settings.refresh_seconds, self._poll_tick)

    def _poll_tick(self) -> None:
        self.poll_now()
        self._arm_poll()

    def poll_now(self, force: bool = False) -> None:
        """Tell of sessions that ended or stopped at their budget out of sight, count them in
        the terminal's title, refresh the monitor when it is on top; costs nothing when no
        session changed and none is running."""
        if self.engine is None:
            return
        version = self.engine.version
        snapshots = self.engine.snapshots()
        changed = version != self._polled_version
        monitor = self._monitor()
        if monitor and self.selected_session is None and snapshots:
            self.selected_session = snapshots[-1].id
        if changed:
            quiet = self._polled_version < 0
            self._attention.announce(snapshots, quiet, self.workspace.settings)
            self._attention.show_counts(snapshots)
        self._polled_version = version
        running = any(not s.state.terminal for s in snapshots)
        if (changed or running or force) and monitor:
            monitor.show(snapshots, self.selected_session)

    def _in_front(self, session_id: str) -> bool:
        """The user sees this session now: the monitor shows it, in a terminal in focus."""
        shown = self._monitor() is not None and self.selected_session == session_id
        return self.app_focus and shown

    # --- actions --------------------------------------------------------------------------

    def running_sessions(self) -> list[SessionRecord]:
        if self.engine is None:
            return []
        return [s for s in self.engine.snapshots() if not s.state.terminal]

    def action_help(self) -> None:
        from .screens.help import HelpScreen  # Markdown loads on first use: a faster start

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        running = self.running_sessions()
        if not running or (self.engine is not None and self.engine.durable):
            await self.close()  # on Temporal they go on: the next start shows them again
            return

        async def answered(yes: bool | None) -> None:
            if yes:
                await self.close()

        self.push_screen(
            ConfirmScreen(
                f"Quit with {len(running)} session(s) running?",
                "They stop now and are archived as INTERRUPTED.",
            ),
            answered,
        )

    async def close(self) -> None:
        """Interrupt every running session (no process left), then exit."""
        await self._stop_engine()
        self._attention.restore_terminal_title()
        self.exit(0)

    async def hang_up(self) -> None:
        """The terminal is gone: interrupt the sessions, then end the process at once (an
        orderly exit would restore a terminal that no longer exists, and hang writing to it)."""
        await self._stop_engine()
        os._exit(128 + signal.SIGHUP)

    async def _stop_engine(self) -> None:
        self._stop.set()
        if self._engine_worker is not None:
            await self._engine_worker.wait()


def run_app(workspace: Workspace | None = None, launch: LaunchRequest | None = None) -> int:
    """Run the TUI on the real terminal; its exit code. Without a workspace, the app opens the
    default one; when that fails, the error is raised here, after the terminal is restored."""
    app = CoworkApp(workspace, launch)
    app.handle_signals = True
    app.run()
    if app.open_error is not None:
        raise app.open_error
    return app.return_code or 0  # 1 when the app failed
