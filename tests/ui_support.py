"""Helpers for the UI tests: a prepared home, a fast workspace, waits on the real engine."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static, TextArea
from textual.worker import WorkerCancelled

from cowork_tui.core.engine.backends.base import Backend
from cowork_tui.core.engine.backends.demo import DemoBackend
from cowork_tui.core.engine.protocol import Engine, LaunchRequest
from cowork_tui.core.workspace import Workspace
from cowork_tui.ui.app import CoworkApp
from cowork_tui.ui.screens.history import READS
from tests.marketplaces import write_marketplace

FROZEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
STEPS = "".join(f"echo '::progress 0.{i} step {i}'; echo line {i}; sleep 0.2; " for i in range(9))
TEST_ITEMS: dict[str, dict[str, Any]] = {
    # command agents that take a few seconds: time to pause, resume, cancel
    "slow": {
        "agents": {
            "one": {"command": STEPS},
            "two": {"command": STEPS},
        },
        "cowork": {
            "maxParallelAgents": 2,
            "estimatedDuration": "2s",
            "workflow": [{"id": "one", "agent": "one"}, {"id": "two", "agent": "two"}],
        },
    },
    "quick": {"agents": {"solo": {"command": "echo quick done"}}},
}


class FastWorkspace(Workspace):
    """The real workspace, with a demo backend that steps every 20 ms."""

    def backends(self) -> dict[str, Backend]:
        return super().backends() | {"demo": DemoBackend(step_seconds=0.02)}


def open_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FastWorkspace:
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text("grace_seconds = 0.5\nbell = false\n")
    monkeypatch.setenv("COWORK_TUI_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))  # no ~/.claude marketplaces
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    workspace = FastWorkspace.open()
    workspace.catalog.add_marketplace(write_marketplace(tmp_path / "market", TEST_ITEMS))
    return workspace


def make_app(workspace: Workspace, **kw: object) -> CoworkApp:
    return CoworkApp(workspace, now=lambda: FROZEN, **kw)  # type: ignore[arg-type]


def launched_app(workspace: Workspace, name: str, task: str = "go") -> CoworkApp:
    """The app opened on a session of the test marketplace's item `name`, installed first."""
    workspace.catalog.install(f"{name}@testmarket", yes=True)
    item = workspace.catalog.find(f"{name}@testmarket")
    return make_app(workspace, launch=LaunchRequest(item=item, task=task, cwd=Path.cwd()))


async def engine_of(app: CoworkApp) -> Engine:
    with anyio.fail_after(10):
        while app.engine is None:
            await anyio.sleep(0)  # the engine worker starts on the app's first turns
    return app.engine


async def until(engine: Engine, condition: Callable[[], bool], seconds: float = 20) -> None:
    """Wait on the engine's change notifications until `condition` holds."""
    with anyio.fail_after(seconds):
        while not condition():
            await engine.changed(engine.version)


async def archive_read(pilot: Pilot[Any]) -> None:
    """Wait for the archive reads the screens started (they run in threads), then a repaint."""
    await pilot.pause()  # the screen's handlers have started their reads
    for worker in [w for w in pilot.app.workers if w.group == READS]:
        with contextlib.suppress(WorkerCancelled):  # a newer read of the same screen won
            await worker.wait()
    await pilot.pause()


async def open_launcher(pilot: Pilot[Any]) -> None:
    """The launcher on the second item, with a task and its plan previewed (for pictures)."""
    await pilot.press("down", "l")
    task = pilot.app.screen.query_one(TextArea)
    task.cursor_blink = False
    task.text = "Review the diff of parser.py"
    pilot.app.screen.query_one("#cwd", Input).value = "/tmp"  # a folder on every machine
    await pilot.pause(0.5)  # the preview is debounced
    error = pilot.app.screen.query_one("#launch-error", Static)
    assert not str(error.render()), error.render()  # the picture shows a plan, not an error
