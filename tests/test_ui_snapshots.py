"""Every screen at 100x30 with a frozen clock and fixed records (pytest-textual-snapshot)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from cowork_tui.ui.app import CoworkApp
from cowork_tui.ui.screens.budget import BudgetScreen
from cowork_tui.ui.screens.message import MessageScreen
from cowork_tui.ui.screens.output import OutputScreen
from tests.ui_fixtures import FINISHED, RUNNING, TEN, frozen_engine
from tests.ui_support import FastWorkspace, archive_read, make_app, open_launcher, open_workspace

SIZE = (100, 30)


def keys(*pressed: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Press each key, letting what it started read the archive before the next."""

    async def press(pilot: Pilot[Any]) -> None:
        for key in pressed:
            await pilot.press(key)
            await archive_read(pilot)

    return press


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FastWorkspace:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    workspace = open_workspace(tmp_path, monkeypatch)
    workspace.archive.record(FINISHED)
    return workspace


def frozen_app(workspace: FastWorkspace, *records: Any) -> CoworkApp:
    return make_app(workspace, engine_factory=frozen_engine(*records))


def test_opening(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CoworkApp, "_open_workspace", lambda app: None)  # the first frame stays
    assert snap_compare(CoworkApp(), terminal_size=SIZE)


def test_marketplace(snap_compare: Any, workspace: FastWorkspace) -> None:
    assert snap_compare(frozen_app(workspace), terminal_size=SIZE)


def test_launcher(snap_compare: Any, workspace: FastWorkspace) -> None:
    assert snap_compare(frozen_app(workspace), terminal_size=SIZE, run_before=open_launcher)


def test_monitor(snap_compare: Any, workspace: FastWorkspace) -> None:
    async def show(pilot: Pilot[Any]) -> None:
        await pilot.press("2")
        await pilot.pause()

    app = frozen_app(workspace, FINISHED, RUNNING)
    assert snap_compare(app, terminal_size=SIZE, run_before=show)


def test_agent_output(snap_compare: Any, workspace: FastWorkspace) -> None:
    async def show(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(OutputScreen(RUNNING.id, RUNNING.agents[1]))

    assert snap_compare(frozen_app(workspace, RUNNING), terminal_size=SIZE, run_before=show)


def test_add_marketplace(snap_compare: Any, workspace: FastWorkspace) -> None:
    assert snap_compare(frozen_app(workspace), terminal_size=SIZE, press=["a"])


def test_budget(snap_compare: Any, workspace: FastWorkspace) -> None:
    async def show(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(BudgetScreen(RUNNING))

    assert snap_compare(frozen_app(workspace, RUNNING), terminal_size=SIZE, run_before=show)


def test_message_to_an_agent(snap_compare: Any, workspace: FastWorkspace) -> None:
    async def show(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(MessageScreen(RUNNING.agents[1].subtask))

    assert snap_compare(frozen_app(workspace, RUNNING), terminal_size=SIZE, run_before=show)


def test_history(snap_compare: Any, workspace: FastWorkspace) -> None:
    assert snap_compare(frozen_app(workspace), terminal_size=SIZE, run_before=keys("3"))


def test_history_details(snap_compare: Any, workspace: FastWorkspace) -> None:
    app = frozen_app(workspace)
    assert snap_compare(app, terminal_size=SIZE, run_before=keys("3", "enter"))


def test_help(snap_compare: Any, workspace: FastWorkspace) -> None:
    assert snap_compare(frozen_app(workspace), terminal_size=SIZE, press=["question_mark"])


def test_quit_confirmation(snap_compare: Any, workspace: FastWorkspace) -> None:
    app = frozen_app(workspace, RUNNING)
    assert snap_compare(app, terminal_size=SIZE, press=["q"])


def test_monitor_small_terminal(snap_compare: Any, workspace: FastWorkspace) -> None:
    app = frozen_app(workspace, FINISHED, RUNNING)
    assert snap_compare(app, terminal_size=(80, 24), press=["2"])


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=str)
def test_monitor_grid_of_ten_agents(
    snap_compare: Any, workspace: FastWorkspace, size: tuple[int, int]
) -> None:
    app = frozen_app(workspace, TEN)
    assert snap_compare(app, terminal_size=size, run_before=keys("2"))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=str)
def test_monitor_table_of_ten_agents(
    snap_compare: Any, workspace: FastWorkspace, size: tuple[int, int]
) -> None:
    app = frozen_app(workspace, TEN)
    assert snap_compare(app, terminal_size=size, run_before=keys("2", "v", "j", "j"))
