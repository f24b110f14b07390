"""Sessions that end, fail or stop at their budget while the monitor is not showing them: a
notification and the terminal bell (`notify` in config.toml); the terminal's title counts the
sessions running and those that need the user. Pilot, against the real engine and against an
engine stand-in whose records the test moves on."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from cowork_tui.core.models import SessionRecord, SessionState
from cowork_tui.ui.app import CoworkApp
from cowork_tui.ui.screens.marketplace import MarketplaceScreen
from cowork_tui.ui.screens.monitor import MonitorScreen
from tests.engine_support import command, item_of, plan_of, request, step
from tests.ui_fixtures import RUNNING, FrozenEngine, frozen_engine
from tests.ui_support import FastWorkspace, engine_of, make_app, open_workspace

pytestmark = pytest.mark.anyio
SIZE = (120, 40)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FastWorkspace:
    """A workspace whose settings ring the bell (the UI tests' own keep it quiet)."""
    opened = open_workspace(tmp_path, monkeypatch)
    opened.settings = opened.settings.model_copy(update={"bell": True, "notify": "bell"})
    return opened


def notes(app: CoworkApp) -> list[tuple[str, str]]:
    return [(n.title, n.message) for n in app._notifications]


def ringing(app: CoworkApp, monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """Each ring of the terminal bell, from now on."""
    rings: list[None] = []
    monkeypatch.setattr(app, "bell", lambda: rings.append(None))
    return rings


def moved(engine: FrozenEngine, record: SessionRecord, **update: object) -> None:
    """The session moves on: the stand-in serves its new record, under a new version."""
    engine.records[record.id] = record.model_copy(update=update)
    engine.version += 1


async def poll(app: CoworkApp, pilot: Pilot[int]) -> None:
    """What the app's refresh timer does, and the notifications it posts shown."""
    app.poll_now()
    await pilot.pause()


async def stand_in(app: CoworkApp) -> FrozenEngine:
    engine = await engine_of(app)
    assert isinstance(engine, FrozenEngine)
    return engine


BUDGET = {"state": SessionState.PAUSED, "paused_reason": "budget", "budget_usd": 1.0}


async def test_a_session_ending_out_of_sight_notifies_and_rings(
    workspace: FastWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    go = tmp_path / "go"
    waits = command("a", f"while [ ! -e {go} ]; do sleep 0.05; done; echo done")
    app = make_app(workspace, launch=request(item_of(waits), plan_of(step("a")), cwd=tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        rings = ringing(app, monkeypatch)
        engine = await engine_of(app)
        (sid,) = [s.id for s in engine.snapshots()]
        await pilot.pause()
        await poll(app, pilot)
        assert app.terminal_title == "cowork-tui — 1 running"
        await pilot.press("1")  # the marketplace: the session is out of sight
        assert isinstance(app.screen, MarketplaceScreen)
        go.touch()
        await engine.wait(sid)
        await poll(app, pilot)
        assert notes(app) == [("Session ended", "test-item: COMPLETED")]
        assert len(rings) == 1
        assert app.terminal_title == "cowork-tui"
        await poll(app, pilot)  # told once
        assert len(notes(app)) == 1 and len(rings) == 1


async def test_a_session_shown_on_the_monitor_ends_quietly(
    workspace: FastWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(workspace, engine_factory=frozen_engine(RUNNING))
    async with app.run_test(size=SIZE) as pilot:
        rings = ringing(app, monkeypatch)
        engine = await stand_in(app)
        await pilot.press("2")
        await pilot.pause()
        assert isinstance(app.screen, MonitorScreen) and app.selected_session == RUNNING.id
        moved(engine, RUNNING, state=SessionState.FAILED)
        await poll(app, pilot)
        assert not notes(app) and not rings  # the user sees it end


async def test_a_budget_stop_and_a_failure_out_of_sight_notify_and_title_counts(
    workspace: FastWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = RUNNING.model_copy(update={"id": "20260102-030231-fff999", "item": "other"})
    paused = RUNNING.model_copy(
        update={"id": "20260102-030232-eee888", "item": "held", "state": SessionState.PAUSED}
    )
    app = make_app(workspace, engine_factory=frozen_engine(RUNNING, other, paused))
    async with app.run_test(size=SIZE) as pilot:
        rings = ringing(app, monkeypatch)
        engine = await stand_in(app)
        await pilot.pause()
        await poll(app, pilot)
        assert app.terminal_title == "cowork-tui — 2 running, 1 needs you"
        moved(engine, RUNNING, **BUDGET)
        await poll(app, pilot)
        assert notes(app) == [("Needs you", "code-review-team: paused at its budget")]
        assert len(rings) == 1
        assert app.terminal_title == "cowork-tui — 1 running, 2 needs you"
        moved(engine, other, state=SessionState.FAILED)
        await poll(app, pilot)
        assert notes(app)[-1] == ("Session ended", "other: FAILED")
        assert len(rings) == 2
        assert app.terminal_title == "cowork-tui — 2 needs you"


async def test_notify_none_tells_nothing_but_the_title(
    workspace: FastWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace.settings = workspace.settings.model_copy(update={"notify": "none"})
    app = make_app(workspace, engine_factory=frozen_engine(RUNNING))
    async with app.run_test(size=SIZE) as pilot:
        rings = ringing(app, monkeypatch)
        engine = await stand_in(app)
        await pilot.pause()
        await poll(app, pilot)
        moved(engine, RUNNING, **BUDGET)
        await poll(app, pilot)
        moved(engine, RUNNING, state=SessionState.CANCELLED, paused_reason="budget")
        await poll(app, pilot)
        assert not notes(app) and not rings
        assert app.terminal_title == "cowork-tui"


def test_notify_is_bell_or_none_in_config_toml(workspace: FastWorkspace, tmp_path: Path) -> None:
    from cowork_tui.core.config import load_settings
    from cowork_tui.core.errors import InputError

    paths = workspace.paths
    assert load_settings(paths).notify == "bell"  # the default
    paths.config_file.write_text('notify = "none"\nstall_warn_seconds = 5\n')
    settings = load_settings(paths)
    assert (settings.notify, settings.stall_warn_seconds) == ("none", 5)
    paths.config_file.write_text('notify = "loud"\n')
    with pytest.raises(InputError, match=r"config\.toml: notify"):
        load_settings(paths)
