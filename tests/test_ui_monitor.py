"""The monitor shows every agent at once: a grid that fills the terminal, or a table; honest
counters; focus that moves with the keys. Pilot, against the real engine."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from cowork_tui.core.clock import utcnow
from cowork_tui.core.engine.protocol import LaunchRequest
from cowork_tui.core.models import AgentState, SessionState
from cowork_tui.ui.app import CoworkApp
from cowork_tui.ui.screens.monitor import MonitorScreen, grid_shape
from cowork_tui.ui.widgets.agent_panel import COMPACT_HEIGHT, FULL_HEIGHT, AgentPanel
from cowork_tui.ui.widgets.agent_table import AgentTable
from tests.marketplaces import write_marketplace
from tests.ui_support import FastWorkspace, engine_of, make_app, open_workspace, until

pytestmark = pytest.mark.anyio
LOOP = 'i=0; while :; do i=$((i+1)); echo "::progress 0.5 step $i"; echo line $i; sleep 0.2; done'


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FastWorkspace:
    workspace = open_workspace(tmp_path, monkeypatch)
    agents = {f"worker-{n}": {"command": LOOP} for n in range(10)}
    steps = [{"id": f"w{n}", "agent": f"worker-{n}"} for n in range(10)]
    items = {"ten": {"agents": agents, "cowork": {"maxParallelAgents": 10, "workflow": steps}}}
    workspace.catalog.add_marketplace(write_marketplace(tmp_path / "ten", items, name="tens"))
    workspace.catalog.install("ten@tens", yes=True)
    return workspace


def launch_ten(workspace: FastWorkspace) -> LaunchRequest:
    item = workspace.catalog.find("ten@tens")
    return LaunchRequest(item=item, task="work", max_parallel=10, cwd=Path.cwd())


def text_of(widget: Static) -> str:
    return str(widget.render())


def test_the_grid_fits_every_agent_it_can() -> None:
    assert grid_shape(10, 96, 33) == (2, True)  # 120x40: two columns of compact panels
    assert grid_shape(10, 176, 52) == (3, False)  # 200x60: room for full panels
    assert grid_shape(1, 176, 52) == (1, False)  # one agent: one wide panel
    assert grid_shape(100, 96, 33) == (2, True)  # more than fit: compact, and it scrolls
    columns, compact = grid_shape(10, 66, 16)  # 80x24: it cannot fit (the table can)
    assert compact and columns == 1


@pytest.mark.parametrize("size", [(120, 40), (200, 60)], ids=str)
async def test_all_ten_agents_show_at_once_and_pause_says_so(
    workspace: FastWorkspace, size: tuple[int, int]
) -> None:
    clock = [utcnow()]
    app = CoworkApp(workspace, launch=launch_ten(workspace), now=lambda: clock[0])
    async with app.run_test(size=size) as pilot:
        engine = await engine_of(app)
        (sid,) = [s.id for s in engine.snapshots()]
        await until(engine, lambda: all(a.pgid for a in engine.snapshot(sid).agents))
        app.poll_now()
        await pilot.pause()
        monitor = app.screen
        assert isinstance(monitor, MonitorScreen)
        panels = list(monitor.query(AgentPanel))
        assert len(panels) == 10
        height = monitor.region.height - 1  # the footer's row
        assert all(p.region.height in (FULL_HEIGHT, COMPACT_HEIGHT) for p in panels)
        assert all(p.region.y > 0 and p.region.bottom <= height for p in panels)  # all shown
        await pilot.press("p")
        await until(engine, lambda: engine.snapshot(sid).state is SessionState.PAUSED)
        app.poll_now()
        await pilot.pause()
        totals = text_of(monitor.query_one("#session-totals", Static))
        assert "0 running · 10 paused · 0 done" in totals
        clock[0] = utcnow()
        app.poll_now()
        await pilot.pause()
        shown = [p.clock for p in panels]
        clock[0] += timedelta(minutes=5)  # a paused agent's active time does not grow
        app.poll_now()
        await pilot.pause()
        assert [p.clock for p in panels] == shown


async def test_at_80x24_the_table_shows_all_ten_and_the_footer_fits(
    workspace: FastWorkspace,
) -> None:
    app = make_app(workspace, launch=launch_ten(workspace))
    async with app.run_test(size=(80, 24)) as pilot:
        engine = await engine_of(app)
        (sid,) = [s.id for s in engine.snapshots()]
        await until(engine, lambda: len(engine.snapshot(sid).agents) == 10)
        await pilot.press("v")
        app.poll_now()
        await pilot.pause()
        table = app.screen.query_one(AgentTable)
        assert table.row_count == 10 and table.has_focus
        assert table.region.bottom <= 23 and table.region.height >= 11  # header + ten rows
        await pilot.press("j", "j")
        assert table.highlighted == "w2"
        await pilot.press("C")  # the highlighted agent
        await until(engine, lambda: engine.snapshot(sid).agent("w2").state is AgentState.CANCELLED)  # type: ignore[union-attr]
        keys = [key.key for key in app.screen.query(FooterKey)]
        assert "q" in keys and "question_mark" in keys  # the global keys are never cut
        footer = sum(key.region.width for key in app.screen.query(FooterKey))
        assert footer <= 80
        await pilot.press("c", "y")
        await engine.wait(sid)


async def test_focus_moves_between_panels_and_a_new_session_opens_at_its_top(
    workspace: FastWorkspace,
) -> None:
    app = make_app(workspace, launch=launch_ten(workspace))
    async with app.run_test(size=(120, 24)) as pilot:
        engine = await engine_of(app)
        (first,) = [s.id for s in engine.snapshots()]
        await until(engine, lambda: len(engine.snapshot(first).agents) == 10)
        app.poll_now()
        await pilot.pause()
        monitor = app.screen
        assert isinstance(monitor, MonitorScreen)
        panels = list(monitor.query(AgentPanel))
        panels[0].focus()
        await pilot.press("right")
        assert monitor.focused is panels[1]
        await pilot.press("j")  # a row down: as many panels as the grid has columns
        assert monitor.focused is panels[1 + monitor._grid[0]]  # type: ignore[index]
        await pilot.press("k", "left")
        assert monitor.focused is panels[0]
        await pilot.press("end")
        monitor.query_one("#agents").scroll_end(animate=False)
        await pilot.pause()
        app.launch(launch_ten(workspace))  # a second session: shown from its first agent
        await pilot.pause()
        app.poll_now()
        await pilot.pause()
        assert monitor.query_one("#agents").scroll_y == 0
        for sid in [s.id for s in engine.snapshots()]:
            engine.cancel(sid)
            await engine.wait(sid)
