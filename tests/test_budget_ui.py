"""Budgets in the TUI: the launcher's field, spend against budget in the monitor's header, and
`b`, which raises the budget of a session paused at it so that it goes on. Pilot, against the
real engine with command agents."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from cowork_tui.core.engine.protocol import LaunchRequest
from cowork_tui.core.models import SessionState
from cowork_tui.ui.screens.budget import BudgetScreen
from cowork_tui.ui.screens.launcher import LauncherScreen
from cowork_tui.ui.screens.monitor import MonitorScreen
from cowork_tui.ui.widgets.session_header import spend
from tests.marketplaces import write_marketplace
from tests.ui_fixtures import RUNNING
from tests.ui_support import FastWorkspace, engine_of, make_app, open_workspace, until

pytestmark = pytest.mark.anyio
HALF = "::usage 500000 0 haiku"  # $0.50 at haiku's price
S = SessionState


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FastWorkspace:
    workspace = open_workspace(tmp_path, monkeypatch)
    gate = tmp_path / "go"
    spender = f"echo '{HALF}'; while [ ! -e '{gate}' ]; do sleep 0.02; done; echo done"
    items = {
        "spender": {
            "agents": {"a": {"command": spender}, "b": {"command": spender}},
            "cowork": {
                "budgetUsd": 2.5,
                "workflow": [{"id": "a", "agent": "a"}, {"id": "b", "agent": "b"}],
            },
        }
    }
    workspace.catalog.add_marketplace(write_marketplace(tmp_path / "spend", items, name="spend"))
    workspace.catalog.install("spender@spend", yes=True)
    return workspace


def header_text(monitor: MonitorScreen) -> str:
    return " ".join(str(w.render()) for w in monitor.query(Static) if "$" in str(w.render()))


async def test_b_raises_the_budget_and_the_session_goes_on(
    workspace: FastWorkspace, tmp_path: Path
) -> None:
    item = workspace.catalog.find("spender@spend")
    launch = LaunchRequest(
        item=item, task="spend", backend="command", cwd=Path.cwd(), budget_usd=1.0
    )
    app = make_app(workspace, launch=launch)
    async with app.run_test(size=(120, 30)) as pilot:
        engine = await engine_of(app)
        (sid,) = [s.id for s in engine.snapshots()]
        await until(engine, lambda: engine.snapshot(sid).state is S.PAUSED)
        assert engine.snapshot(sid).paused_reason == "budget"
        app.poll_now()
        await pilot.pause()
        monitor = app.screen
        assert isinstance(monitor, MonitorScreen)
        assert "$1.0000 ▰▰▰▰▰ $1.0000 budget" in header_text(monitor)
        assert "b raises it" in header_text(monitor)

        await pilot.press("b")
        dialog = app.screen
        assert isinstance(dialog, BudgetScreen)
        dialog.query_one(Input).value = "0.50"
        await pilot.press("enter")
        assert app.screen is dialog  # not above the spend: said, and the dialog stays
        assert "more than the $1.00 spent" in str(
            dialog.query_one("#budget-error", Static).render()
        )
        dialog.query_one(Input).value = "$5"
        await pilot.press("enter")
        await until(engine, lambda: engine.snapshot(sid).state is S.RUNNING)
        assert engine.snapshot(sid).budget_usd == 5.0
        (tmp_path / "go").touch()
        done = await engine.wait(sid)
        assert done.state is S.COMPLETED and done.paused_reason is None


async def test_the_launcher_budget_field_defaults_to_the_item_and_launches_with_it(
    workspace: FastWorkspace,
) -> None:
    item = workspace.catalog.find("spender@spend")
    app = make_app(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        launcher = LauncherScreen(item, workspace.launcher, "auto", task="spend")
        app.push_screen(launcher)
        await pilot.pause()
        field = launcher.query_one("#budget", Input)
        assert field.value == "2.5"  # the item's cowork.budgetUsd
        field.value = "3.25"
        await pilot.pause()
        assert launcher.request().budget_usd == 3.25
        field.value = ""
        await pilot.pause()
        assert launcher.request().budget_usd is None  # empty: no budget
        field.value = "-2"
        await pilot.pause()
        error = str(launcher.query_one("#launch-error", Static).render())
        assert "budget: must be more than $0" in error


def test_a_simulated_spend_says_so_next_to_its_cost() -> None:
    record = RUNNING.model_copy(update={"budget_usd": RUNNING.cost_usd * 2})
    assert record.simulated
    assert str(spend(record)).startswith(f"${RUNNING.cost_usd:.4f} simulated ▰▰")
