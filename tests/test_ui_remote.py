"""The marketplace screen adds (`a`) and updates (`u`) git marketplaces and installs a remote
item by fetching it, in a thread, progress shown; local repositories stand in for GitHub."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from cowork_tui.ui.screens.add_marketplace import AddMarketplaceScreen
from cowork_tui.ui.screens.marketplace import MarketplaceScreen
from tests.test_remote_install import agent_files, marketplace
from tests.test_remote_sources import commit, new_repo
from tests.ui_support import FastWorkspace, make_app, open_workspace

SIZE = (120, 40)
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FastWorkspace:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")
    return open_workspace(tmp_path, monkeypatch)


async def until(pilot: Pilot[Any], condition: Callable[[], bool]) -> None:
    """Let the app handle its events until `condition` holds (bounded, not timed)."""
    for _ in range(500):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("the condition never held")


def rows(screen: MarketplaceScreen) -> set[str]:
    table = screen.query_one("#items", DataTable)
    return {str(key.value) for key in table.rows}


async def test_add_update_and_install_a_remote_item_without_a_restart(
    workspace: FastWorkspace, tmp_path: Path
) -> None:
    plugin = new_repo(tmp_path / "plugin")
    head = commit(plugin, agent_files("fetched"))
    repo = new_repo(tmp_path / "market-repo")
    far = {"name": "far", "source": {"source": "url", "url": f"file://{plugin}"}}
    marketplace(repo, [far])
    commit(repo, {})
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MarketplaceScreen)
        await pilot.press("a")
        assert isinstance(app.screen, AddMarketplaceScreen)
        app.screen.query_one(Input).value = f"file://{repo}"
        await pilot.press("enter")
        await until(pilot, lambda: "far@remotes" in rows(screen))

        table = screen.query_one("#items", DataTable)
        table.move_cursor(row=table.get_row_index("far@remotes"))
        await until(pilot, lambda: screen.item is not None and screen.item.name == "far")
        await pilot.press("i")  # fetched, then what it can do is shown
        await until(pilot, lambda: app.screen is not screen)
        body = str(app.screen.query_one("#dialog-body").render())
        assert f"commit {head[:12]}" in body and "echo fetched" in body
        await pilot.press("y")
        await until(pilot, lambda: workspace.catalog.is_installed("far@remotes"))
        await until(pilot, lambda: screen.items["far@remotes"].installed)

        marketplace(repo, [far, {"name": "near", "source": "./near"}])
        commit(repo, agent_files("near", prefix="near/"))
        await pilot.press("u")
        await until(pilot, lambda: "near@remotes" in rows(screen))


async def test_a_failed_add_says_why(workspace: FastWorkspace, tmp_path: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MarketplaceScreen)
        await pilot.press("a")
        app.screen.query_one(Input).value = f"file://{tmp_path / 'nowhere'}"
        await pilot.press("enter")
        await until(pilot, lambda: not screen._busy and bool(app._notifications))
        (note,) = list(app._notifications)
        assert note.severity == "error" and "nowhere" in note.message
        assert json.loads((workspace.paths.marketplaces_file).read_text())["marketplaces"] == [
            str(tmp_path / "market")
        ]
