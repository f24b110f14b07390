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
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, get_current_worker

from ..core.clock import utcnow
from ..core.errors import ControlError, InputError
from .commands import CoworkCommands
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
        self._attention: dict[str, str | None] = {}  # each session's ending or budget stop, seen
        self.terminal_title = ""  # what the terminal's title says, once set
        self.handle_signals = False  # run_app: the real terminal's signals stop the app cleanly

    @property
    def workspace(self) -> Workspace:
        assert self._workspace is not None, "the workspace is still opening"
        return self._workspace

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
            from ..core.marketplace.rows_cache import claude_files, load_rows
            from ..core.paths import default_paths

            paths = default_paths()
            inputs = [paths.marketplaces_file, paths.installed_file, *claude_files(Path.home())]
            rows = load_rows(paths.rows_cache_file, inputs)
            if rows:  # the marketplace as last shown, while the catalog loads
                self.call_from_thread(self._show_rows, rows)
            from ..core.workspace import Workspace

            workspace = Workspace.open(paths=paths, need_archive=True)  # sessions live there
            workspace.catalog.items()  # read here, not on the UI's thread
        except (InputError, OSError) as exc:
            self.call_from_thread(self._failed_to_open, exc)
        else:
            if not get_current_worker().is_cancelled:  # the user quit meanwhile
                self.call_from_thread(self._start, workspace)
        finally:
            gc.freeze()  # what the start loaded lives as long as the app: never scan it again
            gc.enable()

    def _show_rows(self, rows: list[tuple[str, list[list[str]]]]) -> None:
        """The first screen: the marketplace's rows as they were, keys dimmed until it opens."""
        from textual.widgets import DataTable

        from .widgets.item_rows import COLUMNS, row_texts

        table: DataTable[Any] = DataTable(id="opening-rows", cursor_type="row")
        self.query_one("#opening", Static).update(
            "Opening the workspace… (the marketplace as last seen)"
        )
        self.screen.mount(table, after="#opening")
        table.add_columns(*COLUMNS)
        for key, cells in rows:
            table.add_row(*row_texts(cells), key=key)

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
        self._add_modes(workspace)
        self.switch_mode("sessions" if self._launch else "marketplace")
        engine = self._run_engine(self._engine_factory or workspace.engine)
        self._engine_worker = self.run_worker(engine, name="engine", exit_on_error=True)

    def _add_modes(self, workspace: Workspace) -> None:
        """The three modes, each screen given what it shows (its module loads on first use)."""

        def marketplace() -> Screen[None]:
            from ..core.marketplace.rows_cache import save_rows
            from .screens.marketplace import MarketplaceScreen

            def remember(rows: list[tuple[str, list[list[str]]]]) -> None:
                inputs = workspace.catalog.cache_inputs()
                save_rows(workspace.paths.rows_cache_file, rows, *inputs)

            return MarketplaceScreen(workspace.catalog, workspace.archive, remember)

        def sessions() -> Screen[None]:
            from .screens.monitor import MonitorScreen

            return MonitorScreen(self.now)

        def history() -> Screen[None]:
            from .screens.history import HistoryScreen

            return HistoryScreen(workspace.archive, workspace.paths.data_dir / "exports")

        self.add_mode("marketplace", marketplace)
        self.add_mode("sessions", sessions)
        self.add_mode("history", history)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's palette entries, but its Quit: ours (CoworkCommands) asks first."""
        return (c for c in super().get_system_commands(screen) if c.title != "Quit")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "switch_mode" and self._workspace is None:
            return None  # shown, dimmed, until the workspace is open
        return True

    # --- engine ---------------------------------------------------------------------------

    async def _run_engine(self, factory: EngineFactory) -> None:
        """Keep the engine for the app's life; on stop, interrupt what still runs."""
        async with factory() as engine:
            self.engine = engine
            if self._launch is not None:
                self.launch(self._launch)
            self._arm_poll()
            await self._stop.wait()
            await engine.shutdown("app shutdown")
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
        self.run_worker(lambda: self._prepare_rerun(message.session_id), thread=True)

    def _prepare_rerun(self, session_id: str) -> None:
        """In a thread (it reads the archive): the same item, task, backend and max parallel,
        through the launch path (the item may have changed since)."""
        from ..core.config import BackendChoice

        workspace = self.workspace
        try:
            record = workspace.archive.get(session_id)
            asked = record.backend if record.backend in get_args(BackendChoice) else None
            request, _ = workspace.launcher.request(
                f"{record.item}@{record.marketplace}",
                record.task,
                cwd=Path(record.cwd),
                backend=asked,
                max_parallel=record.max_parallel,
            )
        except InputError as exc:
            self.call_from_thread(
                self.notify, str(exc), title="Cannot re-run", severity="error", markup=False
            )
            return
        self.call_from_thread(self.launch, request)

    def on_archive_problem(self, message: messages.ArchiveProblem) -> None:
        self.notify(message.text, title="Archive", severity="warning", timeout=30, markup=False)

    def on_resume_requested(self, message: messages.ResumeRequested) -> None:
        self.run_worker(lambda: self._prepare_resume(message.session_id), thread=True)

    def _prepare_resume(self, session_id: str) -> None:
        """In a thread (it reads the archive): the session continued under its id."""
        workspace = self.workspace
        try:
            request = workspace.launcher.resume_request(workspace.archive.get(session_id))
        except InputError as exc:
            self.call_from_thread(
                self.notify, str(exc), title="Cannot resume", severity="error", markup=False
            )
            return
        self.call_from_thread(self.launch, request)

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
            self._announce(snapshots, quiet=self._polled_version < 0)
            self._show_counts(snapshots)
        self._polled_version = version
        running = any(not s.state.terminal for s in snapshots)
        if (changed or running or force) and monitor:
            monitor.show(snapshots, self.selected_session)

    def _announce(self, snapshots: tuple[SessionRecord, ...], quiet: bool) -> None:
        """A notification and the bell for each session that ended or stopped at its budget
        since the last poll while the monitor was not showing it (`notify` in config.toml)."""
        for record in snapshots:
            attention = _attention(record)
            if attention == self._attention.get(record.id, None):
                continue
            self._attention[record.id] = attention
            if attention is None or quiet or self._in_front(record.id):
                continue  # nothing new; it ended before the app first looked; or it is shown
            if self.workspace.settings.notify == "none":
                continue
            text, title, severity = _attention_note(record, attention)
            self.notify(text, title=title, severity=severity, markup=False)
            if self.workspace.settings.bell:
                self.bell()

    def _in_front(self, session_id: str) -> bool:
        """The user sees this session now: the monitor shows it, in a terminal in focus."""
        shown = self._monitor() is not None and self.selected_session == session_id
        return self.app_focus and shown

    def _show_counts(self, snapshots: tuple[SessionRecord, ...]) -> None:
        """The terminal's title: "cowork-tui — 2 running, 1 needs you" (a paused session
        waits on the user, whether its budget or the user paused it)."""
        from ..core.models import SessionState

        waiting = (SessionState.PAUSING, SessionState.PAUSED)
        needs = sum(1 for s in snapshots if s.state in waiting)
        running = sum(1 for s in snapshots if not s.state.terminal) - needs
        counts = [f"{running} running"] if running else []
        counts += [f"{needs} needs you"] if needs else []
        title = " — ".join([self.TITLE, ", ".join(counts)]) if counts else self.TITLE
        if title == self.terminal_title:
            return
        if not self.terminal_title:
            self._write_terminal("\x1b[22;2t")  # keep the terminal's own title, for the end
        self.terminal_title = title
        self._write_terminal(f"\x1b]2;{title}\x07")

    def _restore_terminal_title(self) -> None:
        if self.terminal_title:
            self._write_terminal("\x1b[23;2t")

    def _write_terminal(self, sequence: str) -> None:
        if not self.is_headless and self._driver is not None:
            self._driver.write(sequence)

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
        if not running:
            await self.close()
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
        self._restore_terminal_title()
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


def run_app(workspace: Workspace | None = None, launch: LaunchRequest | None = None) -> int:
    """Run the TUI on the real terminal; its exit code. Without a workspace, the app opens the
    default one; when that fails, the error is raised here, after the terminal is restored."""
    app = CoworkApp(workspace, launch)
    app.handle_signals = True
    app.run()
    if app.open_error is not None:
        raise app.open_error
    return app.return_code or 0  # 1 when the app failed
