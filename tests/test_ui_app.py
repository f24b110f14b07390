"""Key paths of the TUI, driven by Pilot against the real engine and archive."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from textual.widgets import DataTable, Input, Log, Markdown, Select, Static, TextArea
from textual.widgets._footer import FooterKey

from cowork_tui.core.engine.protocol import LaunchRequest
from cowork_tui.core.errors import InputError
from cowork_tui.core.models import AgentState, SessionRecord, SessionState
from cowork_tui.core.procs import process_state
from cowork_tui.core.workspace import Workspace
from cowork_tui.ui.app import CoworkApp
from cowork_tui.ui.messages import LauncherRequested
from cowork_tui.ui.screens.confirm import ConfirmScreen
from cowork_tui.ui.screens.help import HelpScreen
from cowork_tui.ui.screens.history import PAGE, DetailsScreen, HistoryScreen
from cowork_tui.ui.screens.launcher import LauncherScreen
from cowork_tui.ui.screens.marketplace import MarketplaceScreen
from cowork_tui.ui.screens.monitor import MonitorScreen
from cowork_tui.ui.screens.output import FOLLOW_SECONDS, MAX_LINES, OutputScreen
from cowork_tui.ui.widgets.agent_panel import AgentPanel
from tests.marketplaces import write_marketplace
from tests.ui_fixtures import FINISHED, RUNNING, frozen_engine
from tests.ui_support import (
    FastWorkspace,
    archive_read,
    engine_of,
    launched_app,
    make_app,
    open_workspace,
    until,
)

pytestmark = pytest.mark.anyio
SIZE = (120, 40)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FastWorkspace:
    return open_workspace(tmp_path, monkeypatch)


def text_of(widget: Static) -> str:
    return str(widget.render())


def rows(table: DataTable[object]) -> list[str]:
    return [str(key.value) for key in table.rows]


def notes(app: CoworkApp) -> str:
    """Every notification's text so far."""
    return "\n".join(n.message for n in app._notifications)


async def test_marketplace_lists_filters_and_installs(workspace: FastWorkspace) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MarketplaceScreen)
        table = screen.query_one("#items", DataTable)
        assert {"repo-health@cowork-tui", "slow@testmarket"} <= set(rows(table))
        await pilot.press("slash", *"slow")
        assert rows(table) == ["slow@testmarket"]
        assert "one" in text_of(screen.query_one("#details-text", Static))
        await pilot.press("enter", "i")  # back to the list; install asks: it runs commands
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert "sleep 0.2" in dialog.body
        await pilot.press("y")
        assert workspace.catalog.find("slow@testmarket").installed
        await pilot.press("i")  # installed: uninstall, after a confirmation
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert workspace.catalog.find("slow@testmarket").installed
        await pilot.press("i", "y")
        assert not workspace.catalog.find("slow@testmarket").installed


async def test_launcher_previews_validates_and_launches(workspace: FastWorkspace) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        engine = await engine_of(app)
        await pilot.press("l")
        launcher = app.screen
        assert isinstance(launcher, LauncherScreen)
        await pilot.press("ctrl+s")
        assert "task:" in text_of(launcher.query_one("#launch-error", Static))
        launcher.query_one("#task", TextArea).text = "check the folder"
        launcher.query_one("#parallel", Input).value = "11"
        await pilot.pause()
        assert "between 1 and 10" in text_of(launcher.query_one("#launch-error", Static))
        launcher.query_one("#parallel", Input).value = "2"
        launcher.update_preview()
        plan = text_of(launcher.query_one("#plan", Static))
        assert "fan-out-fan-in" in plan and "report → report" in plan and "10s" in plan
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, MonitorScreen)
        (session,) = engine.snapshots()
        assert session.max_parallel == 2 and app.selected_session == session.id
        await engine.wait(session.id)
        app.poll_now()
        await pilot.pause()
        panels = list(app.screen.query(AgentPanel))
        assert [p.record.state for p in panels] == [AgentState.SUCCEEDED] * 5
        assert "COMPLETED" in text_of(app.screen.query_one("#session-stage", Static))


async def test_launcher_shows_the_plans_warnings_and_who_plans(
    workspace: FastWorkspace, tmp_path: Path
) -> None:
    agents = {"scanner": {"description": "Finds leaked secrets"}, "linter": {}}
    market = write_marketplace(tmp_path / "models", {"helpers": {"agents": agents}}, "models")
    workspace.catalog.add_marketplace(market)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await engine_of(app)
        await pilot.press("slash", *"helpers", "enter", "l")
        launcher = app.screen
        assert isinstance(launcher, LauncherScreen)
        launcher.query_one("#task", TextArea).text = "find leaked secrets and order a pizza"
        launcher.update_preview()
        plan = text_of(launcher.query_one("#plan", Static))
        assert "planned from the task's words" in plan
        notice = text_of(launcher.query_one("#launch-error", Static))
        assert "⚠ no agent or skill of helpers@models fits: order a pizza" in notice
        assert "Claude plans the session" not in plan  # auto: the demo backend here
        launcher.query_one("#backend", Select).value = "claude"
        await pilot.pause()
        plan = text_of(launcher.query_one("#plan", Static))
        assert "Claude plans the session when it starts" in plan


async def test_untrusted_item_is_refused_inline(workspace: FastWorkspace) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await engine_of(app)
        await pilot.press("slash", *"quick", "enter", "l")
        launcher = app.screen
        assert isinstance(launcher, LauncherScreen)
        launcher.query_one("#task", TextArea).text = "go"
        await pilot.press("ctrl+s")
        error = text_of(launcher.query_one("#launch-error", Static))
        assert "Not installed" in error and "ctrl+t" in error  # the key, not a CLI command
        assert app.screen is launcher
        await pilot.press("ctrl+t")  # what it can do, then installed
        assert isinstance(app.screen, ConfirmScreen)
        assert "echo quick done" in str(app.screen.body)
        await pilot.press("y")
        assert workspace.catalog.find("quick@testmarket").installed
        launcher.query_one("#cwd", Input).value = "/no/such/folder"
        await pilot.press("ctrl+s")
        assert "working folder: not a folder" in text_of(
            launcher.query_one("#launch-error", Static)
        )
        launcher.query_one("#cwd", Input).value = str(workspace.paths.data_dir)
        await pilot.press("ctrl+s")
        await pilot.pause()
        engine = await engine_of(app)
        (record,) = engine.snapshots()
        assert record.cwd == str(workspace.paths.data_dir.resolve())


async def test_monitor_controls_pause_resume_cancel(workspace: FastWorkspace) -> None:
    app = launched_app(workspace, "slow")
    async with app.run_test(size=SIZE) as pilot:
        engine = await engine_of(app)
        (sid,) = [s.id for s in engine.snapshots()]

        def running() -> bool:
            agents = engine.snapshot(sid).agents
            return len(agents) == 2 and all(a.pgid for a in agents)

        await until(engine, running)
        await pilot.pause()
        assert isinstance(app.screen, MonitorScreen)
        await pilot.press("p")
        stage = app.screen.query_one("#session-stage", Static)
        assert "PAUSING" in text_of(stage) or "PAUSED" in text_of(stage)  # shown at once
        await until(engine, lambda: engine.snapshot(sid).state is SessionState.PAUSED)
        for agent in engine.snapshot(sid).agents:
            assert agent.pgid is not None and process_state(agent.pgid) == "T"
        app.poll_now()
        await pilot.pause()
        assert "PAUSED" in text_of(app.screen.query_one("#session-stage", Static))
        await pilot.press("r")
        await until(engine, lambda: engine.snapshot(sid).state is SessionState.RUNNING)
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        record = await engine.wait(sid)
        assert record.state is SessionState.CANCELLED
        assert all(not os.path.exists(f"/proc/{a.pgid}") for a in record.agents if a.pgid)


async def test_the_refresh_timer_alone_keeps_the_monitor_current(
    workspace: FastWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing but the app's own timer (every refresh_seconds) shows the session's end."""
    workspace.settings = workspace.settings.model_copy(update={"refresh_seconds": 1.0})
    shown_done = anyio.Event()
    show = MonitorScreen.show

    def watched(monitor: MonitorScreen, snapshots: Any, selected: str | None) -> None:
        show(monitor, snapshots, selected)
        if monitor.record is not None and monitor.record.state.terminal:
            shown_done.set()

    monkeypatch.setattr(MonitorScreen, "show", watched)
    app = launched_app(workspace, "slow")
    async with app.run_test(size=SIZE) as pilot:
        engine = await engine_of(app)
        (sid,) = [s.id for s in engine.snapshots()]
        await engine.wait(sid)  # some 2 s after launch: only the timer polls that late
        with anyio.fail_after(10):
            await shown_done.wait()
        await pilot.pause()
        assert "COMPLETED" in text_of(app.screen.query_one("#session-stage", Static))


async def test_agent_controls_and_output(workspace: FastWorkspace) -> None:
    app = launched_app(workspace, "slow")
    async with app.run_test(size=SIZE) as pilot:
        engine = await engine_of(app)
        (sid,) = [s.id for s in engine.snapshots()]
        await until(engine, lambda: len(engine.snapshot(sid).agents) == 2)
        await pilot.pause()
        await pilot.press("tab")  # the first agent panel
        assert isinstance(app.focused, AgentPanel)
        subtask = app.focused.record.subtask
        await pilot.press("P")
        await until(engine, lambda: engine.snapshot(sid).agent(subtask).state is AgentState.PAUSED)  # type: ignore[union-attr]
        await pilot.press("R")
        await until(engine, lambda: engine.snapshot(sid).agent(subtask).state is AgentState.RUNNING)  # type: ignore[union-attr]
        await pilot.press("C")
        await until(engine, lambda: engine.snapshot(sid).agent(subtask).state.terminal)  # type: ignore[union-attr]
        await pilot.press("enter")
        output = app.screen
        assert isinstance(output, OutputScreen)
        assert "line 1" in "\n".join(output.query_one(Log).lines)
        await pilot.press("escape")
        assert isinstance(app.screen, MonitorScreen)
        await engine.wait(sid)


async def test_output_follows_a_running_agent(workspace: FastWorkspace) -> None:
    app = launched_app(workspace, "slow")
    async with app.run_test(size=SIZE) as pilot:
        engine = await engine_of(app)
        (sid,) = [s.id for s in engine.snapshots()]
        await until(engine, lambda: "line 1" in engine.snapshot(sid).agents[0].output_tail)
        app.poll_now()
        await pilot.pause()
        await pilot.press("tab", "enter")
        output = app.screen
        assert isinstance(output, OutputScreen) and not output.agent.state.terminal
        log = output.query_one(Log)
        with anyio.fail_after(15):
            while not output.agent.state.terminal:
                await pilot.pause(0.1)
        await pilot.pause(0.1)
        lines = [line for line in log.lines if line.startswith("line ")]
        assert lines == [f"line {i}" for i in range(9)]  # each once, as they came
        assert "SUCCEEDED" in text_of(output.query_one("#output-title", Static))
        assert log.is_vertical_scroll_end


async def test_output_keeps_the_end_of_a_large_output_without_terminal_control(
    workspace: FastWorkspace, tmp_path: Path
) -> None:
    out = tmp_path / "big.txt"
    lines = "".join(f"{i}\n" for i in range(3 * MAX_LINES))
    out.write_text(f"{lines}\x1b[31mRED\x1b[0m \x1b]0;TITLE\x07end\n")
    agent = RUNNING.agents[1].model_copy(update={"output_path": str(out)})
    record = RUNNING.model_copy(update={"agents": (RUNNING.agents[0], agent)})
    app = make_app(workspace, engine_factory=frozen_engine(record))
    async with app.run_test(size=SIZE) as pilot:
        await engine_of(app)
        await app.push_screen(OutputScreen(record.id, agent))
        await pilot.pause()
        log = app.screen.query_one(Log)
        assert log.lines[-3:] == [str(3 * MAX_LINES - 1), "RED end", ""]  # no escape left
        assert log.line_count == MAX_LINES - 1  # the last MAX_LINES lines, the last one empty
        assert log.virtual_size.height == log.line_count  # as tall as what it holds
        assert log.is_vertical_scroll_end  # following a running agent: its last lines shown


async def test_output_moving_to_the_file_replaces_the_last_lines_so_far(
    workspace: FastWorkspace, tmp_path: Path
) -> None:
    out = tmp_path / "one.txt"
    out.write_text("first\nsecond\nzebra-end\n")
    early = RUNNING.agents[1].model_copy(
        update={"state": AgentState.RUNNING, "output_path": None,
                "output_tail": ("first", "second", "zebra-end")}
    )  # fmt: skip
    record = RUNNING.model_copy(update={"agents": (RUNNING.agents[0], early)})
    app = make_app(workspace, engine_factory=frozen_engine(record))
    async with app.run_test(size=SIZE) as pilot:
        frozen: Any = await engine_of(app)
        await app.push_screen(OutputScreen(record.id, early))
        await pilot.pause()
        assert app.export_screenshot().count("zebra-end") == 1  # the last lines so far
        done = early.model_copy(update={"state": AgentState.SUCCEEDED, "output_path": str(out)})
        frozen.records[record.id] = record.model_copy(update={"agents": (RUNNING.agents[0], done)})
        await pilot.pause(3 * FOLLOW_SECONDS)
        assert app.export_screenshot().count("zebra-end") == 1  # the file's, once


async def test_history_search_details_export_rerun(workspace: FastWorkspace) -> None:
    app = launched_app(workspace, "quick", task="first run")
    async with app.run_test(size=SIZE) as pilot:
        engine = await engine_of(app)
        (first,) = [s.id for s in engine.snapshots()]
        await engine.wait(first)
        await pilot.press("3")
        history = app.screen
        assert isinstance(history, HistoryScreen)
        table = history.query_one("#history", DataTable)
        assert rows(table) == [first]
        await pilot.press("slash", *"nothing-like-this")
        assert rows(table) == []
        history.query_one("#search", Input).value = "first"
        await pilot.press("enter")  # back to the table
        assert rows(table) == [first]
        await pilot.press("enter")
        details = app.screen
        assert isinstance(details, DetailsScreen)
        assert "quick done" in details.query_one(Markdown).source
        await pilot.press("e")
        exports = workspace.paths.data_dir / "exports"
        assert sorted(p.suffix for p in exports.iterdir()) == [".json", ".md"]
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, MonitorScreen)
        second = [s.id for s in engine.snapshots() if s.id != first]
        assert len(second) == 1 and app.selected_session == second[0]
        assert engine.snapshot(second[0]).task == "first run"
        await engine.wait(second[0])


async def test_history_resumes_an_interrupted_session_under_its_id(
    workspace: FastWorkspace,
) -> None:
    workspace.catalog.install("slow@testmarket", yes=True)
    item = workspace.catalog.find("slow@testmarket")
    async with workspace.engine() as first_run:  # the app quits while it runs
        sid = first_run.launch(LaunchRequest(item=item, task="go", cwd=Path.cwd()))
        await until(first_run, lambda: first_run.snapshot(sid).state is SessionState.RUNNING)
        await first_run.shutdown("app quit")
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        engine = await engine_of(app)
        await pilot.press("3")
        await archive_read(pilot)
        history = app.screen
        assert isinstance(history, HistoryScreen) and history.selected == sid
        assert history.check_action("resume", ()) is True
        await pilot.press("R")
        await until(engine, lambda: bool(engine.snapshots()))
        (resumed,) = engine.snapshots()
        assert resumed.id == sid
        record = await engine.wait(sid)
        assert record.state is SessionState.COMPLETED and len(record.resumed_at) == 1
        app.poll_now()
        await pilot.pause()
        assert isinstance(app.screen, MonitorScreen)
        await pilot.press("3")
        await archive_read(pilot)
        assert app.screen.check_action("resume", ()) is False  # COMPLETED now
        await pilot.press("R")
        assert "only an INTERRUPTED one resumes" in notes(app)


async def test_an_archive_that_cannot_take_records_is_told_once_and_the_session_goes_on(
    workspace: FastWorkspace,
) -> None:
    workspace.catalog.install("slow@testmarket", yes=True)
    item = workspace.catalog.find("slow@testmarket")
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        engine = await engine_of(app)
        writer = workspace.archive._conn
        assert writer is not None
        (pages,) = writer.execute("PRAGMA page_count").fetchone()
        writer.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full
        task = "a task too long for the pages left " * 500
        sid = app.launch(LaunchRequest(item=item, task=task, cwd=Path.cwd()))
        assert sid is not None
        await until(engine, lambda: engine.snapshot(sid).state is SessionState.RUNNING)
        engine.cancel(sid)
        await engine.wait(sid)
        await pilot.pause()
        assert notes(app).count("disk full") == 1, notes(app)


async def test_history_pages_and_shows_tasks_verbatim(workspace: FastWorkspace) -> None:
    def session(n: int) -> SessionRecord:
        return FINISHED.model_copy(update={"id": f"20260102-{n:06d}-aa", "task": f"[b]task {n}"})

    count = PAGE + 5
    for n in range(count):  # the newest is shown first
        workspace.archive.record(session(n))
    app = make_app(workspace, engine_factory=frozen_engine())
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("3")
        table = app.screen.query_one("#history", DataTable)
        assert table.row_count == PAGE
        assert f"[b]task {count - 1}" in table.render_line(1).text  # text, not markup
        workspace.archive.record(session(count))  # one more: the pages shift by one
        await pilot.press("ctrl+end")  # onto the last row: the next page comes
        await pilot.pause()
        assert rows(table)[-1] == "20260102-000000-aa" and len(set(rows(table))) == count
        await pilot.press("1", "3")  # back again: the newest is there too, as many rows
        assert table.row_count == count and rows(table)[0] == f"20260102-{count:06d}-aa"
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert table.row_count == count + 1


async def test_history_state_filter(workspace: FastWorkspace) -> None:
    workspace.archive.record(FINISHED)
    failed = FINISHED.model_copy(
        update={"id": "20260102-030100-bad000", "state": SessionState.FAILED}
    )
    workspace.archive.record(failed)
    app = make_app(workspace, engine_factory=frozen_engine())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        table = app.screen.query_one("#history", DataTable)
        assert rows(table) == [failed.id, FINISHED.id]
        app.screen.query_one("#state-filter", Select).value = "FAILED"
        await pilot.pause()
        assert rows(table) == [failed.id]
        app.screen.query_one("#state-filter", Select).clear()
        await pilot.pause()
        assert rows(table) == [failed.id, FINISHED.id]


async def test_session_details_scroll_from_the_keyboard(workspace: FastWorkspace) -> None:
    many = tuple(
        FINISHED.agents[0].model_copy(update={"subtask": f"s{n}", "output_preview": "x\n" * 9})
        for n in range(12)
    )
    workspace.archive.record(FINISHED.model_copy(update={"agents": many}))
    app = make_app(workspace, engine_factory=frozen_engine())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3", "enter")
        assert isinstance(app.screen, DetailsScreen)
        view = app.screen.query_one("#session-details")
        assert view.has_focus and view.max_scroll_y > 0
        await pilot.press("end")
        assert view.scroll_y == view.max_scroll_y


async def test_quit_with_running_session_asks_then_interrupts(
    workspace: FastWorkspace, tmp_path: Path
) -> None:
    forever = {"forever": {"agents": {"wait": {"command": "sleep 600"}}}}  # never ends first
    workspace.catalog.add_marketplace(write_marketplace(tmp_path / "f", forever, name="slowest"))
    workspace.catalog.install("forever@slowest", yes=True)
    item = workspace.catalog.find("forever@slowest")
    app = make_app(workspace, launch=LaunchRequest(item=item, task="wait", cwd=Path.cwd()))
    async with app.run_test(size=SIZE) as pilot:
        engine = await engine_of(app)
        (sid,) = [s.id for s in engine.snapshots()]
        await until(engine, lambda: all(a.pgid for a in engine.snapshot(sid).agents[:1]))
        pgids = [a.pgid for a in engine.snapshot(sid).agents if a.pgid]
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        assert not engine.snapshot(sid).state.terminal
        await pilot.press("q", "y")
        await pilot.pause()
    assert workspace.archive.get(sid).state is SessionState.INTERRUPTED
    assert all(not os.path.exists(f"/proc/{pgid}") for pgid in pgids)


async def test_help_and_command_palette(workspace: FastWorkspace) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("ctrl+p", *"history")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("1")
        assert isinstance(app.screen, MarketplaceScreen)


def default_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty COWORK_TUI_HOME, as on a first start, with no ~/.claude marketplaces."""
    monkeypatch.setenv("COWORK_TUI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    return tmp_path / "home"


def hold_workspace_open(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The workspace opens only once the event returned is set."""
    go = threading.Event()
    really_open = Workspace.open

    def held_open(**kw: Any) -> Workspace:
        go.wait(10)
        return really_open(**kw)

    monkeypatch.setattr(Workspace, "open", held_open)
    return go


async def test_first_frame_then_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `cowork-tui` starts: a first frame, then the default workspace opened in a thread;
    the mode keys wait for it."""
    default_home(tmp_path, monkeypatch)
    go = hold_workspace_open(monkeypatch)
    app = CoworkApp()
    async with app.run_test(size=SIZE) as pilot:
        assert "Opening the workspace" in text_of(app.query_one("#opening", Static))
        await pilot.press("3")
        assert app.current_mode == "_default" and app.check_action("switch_mode", ()) is None
        go.set()
        with anyio.fail_after(10):
            while not isinstance(app.screen, MarketplaceScreen):
                await pilot.pause(0.05)
        await pilot.pause()
        assert "repo-health@cowork-tui" in rows(app.screen.query_one("#items", DataTable))
        await pilot.press("3")
        assert isinstance(app.screen, HistoryScreen)
        await engine_of(app)


async def test_the_next_start_shows_the_marketplace_rows_before_the_workspace_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default_home(tmp_path, monkeypatch)
    app = CoworkApp()
    async with app.run_test(size=SIZE) as pilot:
        await engine_of(app)
        await pilot.pause()
        for worker in [w for w in app.workers if w.group == "rows"]:  # the rows, kept
            await worker.wait()
    assert (tmp_path / "home" / "data" / "marketplace-rows.json").is_file()
    go = hold_workspace_open(monkeypatch)
    app = CoworkApp()
    async with app.run_test(size=SIZE) as pilot:
        with anyio.fail_after(10):
            while not app.query("#opening-rows"):
                await pilot.pause(0.02)
        cached = app.query_one("#opening-rows", DataTable)
        assert "repo-health@cowork-tui" in rows(cached)  # before the workspace opened
        assert app.check_action("switch_mode", ()) is None  # keys wait for it
        go.set()
        await engine_of(app)


@pytest.mark.parametrize(
    ("path", "content", "error"),
    [
        ("config/config.toml", b'refresh_seconds = "often"\n', "refresh_seconds"),
        ("data/archive.sqlite3", b"not sqlite" * 500, "not a readable cowork-tui archive"),
        ("data/archive.sqlite3", None, "cannot use the archive (unable to open database file)"),
    ],
    ids=["bad-config", "not-an-archive", "archive-is-a-folder"],
)
async def test_a_workspace_that_cannot_open_ends_the_app_with_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, content: bytes | None, error: str
) -> None:
    bad = default_home(tmp_path, monkeypatch) / path
    bad.parent.mkdir(parents=True)
    bad.mkdir() if content is None else bad.write_bytes(content)
    app = CoworkApp()
    with anyio.fail_after(10):
        await app.run_async(headless=True, size=SIZE)
    assert isinstance(app.open_error, InputError) and app.return_code == 2
    assert error in str(app.open_error)
    assert bad.is_dir() if content is None else bad.read_bytes() == content  # left as it was


async def test_footer_offers_only_applicable_keys(workspace: FastWorkspace) -> None:
    app = launched_app(workspace, "quick")
    async with app.run_test(size=SIZE) as pilot:
        engine = await engine_of(app)
        (sid,) = [s.id for s in engine.snapshots()]
        await engine.wait(sid)
        app.poll_now()
        await pilot.pause()
        keys = {binding.binding.key for binding in app.active_bindings.values()}
        assert "p" not in keys and "c" not in keys  # the session ended: nothing to control
        assert "P" not in keys and not app.screen.check_action("open_output", ())  # no agent
        await pilot.press("tab")
        keys = {binding.binding.key for binding in app.active_bindings.values()}
        assert "P" not in keys and {"enter", "1", "q"} <= keys  # its output can still be opened
        await pilot.press("3")
        assert {"e", "n", "enter"} <= {b.binding.key for b in app.active_bindings.values()}


async def test_marketplace_footer_follows_the_highlighted_item(
    workspace: FastWorkspace, tmp_path: Path
) -> None:
    remote = write_marketplace(tmp_path / "remote", {}, name="far")
    manifest = remote / ".claude-plugin" / "marketplace.json"
    data = json.loads(manifest.read_text())
    data["plugins"] = [{"name": "away", "source": {"source": "github", "repo": "o/away"}}]
    manifest.write_text(json.dumps(data))
    workspace.catalog.add_marketplace(remote)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#items", DataTable)

        async def footer_shows(ref: str, expected: set[str]) -> None:
            table.move_cursor(row=table.get_row_index(ref))
            for _ in range(100):  # the footer is rebuilt after a refresh
                await pilot.pause(0.02)
                shown = {key.key for key in app.screen.query(FooterKey)}
                if shown & {"l", "i"} == expected:
                    return
            raise AssertionError(f"{ref}: the footer shows {sorted(shown)}")

        await footer_shows("quick@testmarket", {"l", "i"})
        await footer_shows("away@far", {"i"})  # remote: installed by fetching it, then launched
        await footer_shows("repo-health@cowork-tui", {"l"})  # bundled: installed for good
        await footer_shows("slow@testmarket", {"l", "i"})


async def test_an_item_with_nothing_to_run_offers_no_launch_and_is_never_launched(
    workspace: FastWorkspace, tmp_path: Path
) -> None:
    hooked = write_marketplace(tmp_path / "hooked", {"hooks-only": {}}, name="hk")
    hooks = {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "true"}]}]}}
    (hooked / "plugins" / "hooks-only" / "hooks").mkdir()
    (hooked / "plugins" / "hooks-only" / "hooks" / "hooks.json").write_text(json.dumps(hooks))
    workspace.catalog.add_marketplace(hooked)
    item = workspace.catalog.find("hooks-only@hk")
    assert item.not_runnable == "hooks only: nothing to run"
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        engine = await engine_of(app)
        market = app.screen
        assert isinstance(market, MarketplaceScreen)
        table = market.query_one("#items", DataTable)
        table.move_cursor(row=table.get_row_index(item.ref))
        await pilot.pause()
        assert "Cannot run: hooks only: nothing to run" in text_of(
            market.query_one("#details-text", Static)
        )
        assert market.check_action("launch", ()) is False
        await pilot.press("l")
        assert app.screen is market  # no launcher
        app.post_message(LauncherRequested(item))  # even if one opened, it would not launch
        await pilot.pause()
        launcher = app.screen
        assert isinstance(launcher, LauncherScreen)
        launcher.query_one("#task", TextArea).text = "do it"
        await pilot.press("ctrl+s")
        assert app.screen is launcher and not engine.snapshots()
        assert "nothing to run" in text_of(launcher.query_one("#launch-error", Static))


async def test_markup_in_item_text_is_shown_as_text(
    workspace: FastWorkspace, tmp_path: Path
) -> None:
    odd = {"odd": {"description": "odd[/b]x [bold]y", "agents": {"a": {"body": "Say hi."}}}}
    workspace.catalog.add_marketplace(write_marketplace(tmp_path / "odd", odd, name="m"))
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#items", DataTable)
        table.move_cursor(row=table.get_row_index("odd@m"))
        await pilot.pause()
        assert "odd[/b]x [bold]y" in text_of(app.screen.query_one("#details-text", Static))
        await pilot.press("l")
        assert isinstance(app.screen, LauncherScreen)
        assert "odd@m" in text_of(app.screen.query_one("#launcher-title", Static))


async def test_palette_lists_the_current_screens_actions(workspace: FastWorkspace) -> None:
    from cowork_tui.ui.commands import CoworkCommands

    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#items", DataTable)
        table.move_cursor(row=table.get_row_index("quick@testmarket"))  # bundled ones stay
        await pilot.pause()
        provider = CoworkCommands(app.screen)
        labels = [str(hit.text) async for hit in provider.discover()]
        assert {"Launch a session", "Install or uninstall", "History", "Quit"} <= set(labels)
        assert "Pause session" not in labels  # a monitor action, not offered here
        assert "Item details" in labels and "Session details" not in labels
        system = [command.title for command in app.get_system_commands(app.screen)]
        assert "Keys" in system and "Quit" not in system  # one Quit, which asks first


async def test_keys_that_cannot_act_say_why(workspace: FastWorkspace) -> None:
    app = make_app(workspace, engine_factory=frozen_engine(FINISHED))
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#items", DataTable)
        table.move_cursor(row=table.get_row_index("repo-health@cowork-tui"))
        await pilot.press("i")
        assert "bundled: it comes installed" in notes(app)
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("p")
        assert "is COMPLETED: nothing to pause" in notes(app)
        await pilot.press("P")
        assert "Focus an agent first" in notes(app)


async def test_a_broken_marketplace_is_a_row_and_warnings_are_counted(
    workspace: FastWorkspace, tmp_path: Path
) -> None:
    warned = write_marketplace(tmp_path / "warned", {"odd": {}}, name="warned")
    manifest = warned / ".claude-plugin" / "marketplace.json"
    data = json.loads(manifest.read_text())
    data["plugins"][0]["colour"] = "blue"  # an unknown key: a warning
    manifest.write_text(json.dumps(data))
    workspace.catalog.add_marketplace(warned)
    manifest.write_text("{ not json")  # then it breaks
    workspace.catalog.reload()
    app = make_app(workspace, engine_factory=frozen_engine())
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#items", DataTable)
        assert "(warned)@warned" in rows(table)
        table.move_cursor(row=table.get_row_index("(warned)@warned"))
        await pilot.pause()
        details = text_of(app.screen.query_one("#details-text", Static))
        assert details.splitlines()[1].startswith("Cannot run: ") and "not valid JSON" in details
        manifest.write_text(json.dumps(data))  # mended, as another program would: it shows
        (workspace.paths.config_dir / "marketplaces.json").touch()
        app.screen._check_disk()  # type: ignore[attr-defined]
        await pilot.pause()
        assert "odd@warned" in rows(table)
        row = table.get_row("odd@warned")
        assert str(row[-1]) == "1"  # one warning, counted on its row


async def test_history_marks_simulated_sessions_and_gives_the_task_room(
    workspace: FastWorkspace,
) -> None:
    task = "a long task that says exactly what the agents should do, word by word"
    workspace.archive.record(FINISHED.model_copy(update={"task": task}))
    app = make_app(workspace, engine_factory=frozen_engine())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await archive_read(pilot)
        table = app.screen.query_one("#history", DataTable)
        (row,) = [table.get_row(key) for key in table.rows]
        state = str(row[list(table.columns).index("state")])  # type: ignore[arg-type]
        assert state == "COMPLETED partial simulated"
        assert str(row[-1]).startswith("code-review-team: a long task")  # its room: the rest
        assert table.virtual_size.width <= 80  # every column on screen
