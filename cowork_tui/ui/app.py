"""The Textual app: three modes (marketplace, sessions, history) over one in-process engine."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker

from ..core.engine import Engine, LaunchRequest
from ..core.errors import ControlError, InputError
from ..core.models import SessionRecord
from ..core.workspace import Workspace
from .commands import CoworkCommands
from .screens.confirm import ConfirmScreen
from .screens.marketplace import MarketplaceScreen
from .screens.monitor import MonitorScreen

SETTLE_SECONDS = 0.3  # after a control or a launch, look again: PAUSING → PAUSED and the like
EngineFactory = Callable[[], AbstractAsyncContextManager[Engine]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def history_screen() -> Screen[None]:
    from .screens.history import HistoryScreen  # loads on first use: a faster start

    return HistoryScreen()


class CoworkApp(App[int]):
    TITLE = "cowork-tui"
    CSS_PATH = "app.tcss"
    MODES = {"marketplace": MarketplaceScreen, "sessions": MonitorScreen, "history": history_screen}
    COMMANDS = App.COMMANDS | {CoworkCommands}
    BINDINGS = [
        Binding("1", "switch_mode('marketplace')", "Marketplace"),
        Binding("2", "switch_mode('sessions')", "Sessions"),
        Binding("3", "switch_mode('history')", "History"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        workspace: Workspace,
        launch: LaunchRequest | None = None,
        *,
        engine_factory: EngineFactory | None = None,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self.now = now
        self.engine: Engine | None = None
        self.selected_session: str | None = None  # the monitor shows this one
        self._launch = launch
        self._engine_factory = engine_factory or workspace.engine
        self._engine_worker: Worker[None] | None = None
        self._stop = asyncio.Event()
        self._polled_version = -1
        self._ended: set[str] = set()
        self.handle_signals = False  # run_app: the real terminal's signals stop the app cleanly

    # --- engine ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.switch_mode("sessions" if self._launch else "marketplace")
        self._engine_worker = self.run_worker(self._run_engine(), name="engine", exit_on_error=True)
        if self.handle_signals:
            # SIGTERM, SIGHUP (the terminal closed): interrupt the sessions cleanly, then exit
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, lambda: self.run_worker(self.close()))
            loop.add_signal_handler(signal.SIGHUP, lambda: self.run_worker(self.hang_up()))

    async def _run_engine(self) -> None:
        """Keep the engine for the app's life; on stop, interrupt what still runs."""
        async with self._engine_factory() as engine:
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
            self.switch_mode("sessions")  # the monitor shows it when it resumes
        elif isinstance(self.screen, MonitorScreen) and self.screen.ready:
            self.poll_now(force=True)
            self.screen.select(session_id)

    def control(self, verb: str, session_id: str, subtask: str | None = None) -> None:
        """pause / resume / cancel a session or one agent; the effect shows at once."""
        if self.engine is None:
            return
        try:
            getattr(self.engine, verb)(session_id, subtask)
        except ControlError as exc:
            self.notify(str(exc), severity="error", markup=False)
        self.poll_now()
        self.set_timer(SETTLE_SECONDS, self.poll_now)  # and once it has taken effect

    # --- refresh: a one-shot timer re-armed after each poll -------------------------------

    def _arm_poll(self) -> None:
        self.set_timer(self.workspace.settings.refresh_seconds, self._poll_tick)

    def _poll_tick(self) -> None:
        self.poll_now()
        self._arm_poll()

    def poll_now(self, force: bool = False) -> None:
        """Toast ended sessions, refresh the monitor when it is on top; costs nothing when
        no session changed and none is running."""
        if self.engine is None:
            return
        version = self.engine.version
        snapshots = self.engine.snapshots()
        changed = version != self._polled_version
        if changed:
            self._announce_ended(snapshots, quiet=self._polled_version < 0)
        self._polled_version = version
        running = any(not s.state.terminal for s in snapshots)
        monitor = self.screen_stack[-1] if self.screen_stack else None  # none while closing
        if (changed or running or force) and isinstance(monitor, MonitorScreen) and monitor.ready:
            monitor.show(snapshots)

    def _announce_ended(self, snapshots: tuple[SessionRecord, ...], quiet: bool) -> None:
        """A toast and a bell for each session that ended since the last poll."""
        for record in snapshots:
            if record.state.terminal and record.id not in self._ended:
                self._ended.add(record.id)
                if quiet:  # it ended before the app first looked
                    continue
                partial = " (partial)" if record.partial else ""
                self.notify(
                    f"{record.item}: {record.state.value}{partial}",
                    title="Session ended",
                    severity="information" if record.state.value == "COMPLETED" else "warning",
                    markup=False,
                )
                if self.workspace.settings.bell:
                    self.bell()

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


def run_app(workspace: Workspace, launch: LaunchRequest | None = None) -> int:
    app = CoworkApp(workspace, launch)
    app.handle_signals = True
    app.run()
    return app.return_code or 0  # 1 when the app failed
