"""Regenerate an SVG of every screen into screenshots/ (fixed records, frozen clock, 120x40).

Run from the project root: `python screenshots/make_screenshots.py`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402
from textual.pilot import Pilot  # noqa: E402

from cowork_tui.ui.app import CoworkApp  # noqa: E402
from cowork_tui.ui.screens.budget import BudgetScreen  # noqa: E402
from cowork_tui.ui.screens.message import MessageScreen  # noqa: E402
from cowork_tui.ui.screens.output import OutputScreen  # noqa: E402
from tests.ui_fixtures import FINISHED, RUNNING, TEN, frozen_engine  # noqa: E402
from tests.ui_support import archive_read, make_app, open_launcher, open_workspace  # noqa: E402

SIZE = (120, 40)
Steps = Callable[[Pilot[Any]], Awaitable[None]]


async def output(pilot: Pilot[Any]) -> None:
    await pilot.app.push_screen(OutputScreen(RUNNING.id, RUNNING.agents[1]))


async def budget(pilot: Pilot[Any]) -> None:
    await pilot.app.push_screen(BudgetScreen(RUNNING))


async def message(pilot: Pilot[Any]) -> None:
    await pilot.app.push_screen(MessageScreen(RUNNING.agents[1].subtask))


def keys(*pressed: str) -> Steps:
    async def press(pilot: Pilot[Any]) -> None:
        for key in pressed:
            await pilot.press(key)
            await archive_read(pilot)

    return press


SHOTS: dict[str, Steps] = {
    "marketplace": keys(),
    "launcher": open_launcher,
    "monitor": keys("2"),
    "monitor-ten": keys("2", "down"),  # the session of ten agents, in a grid
    "monitor-table": keys("2", "down", "v", "j", "j"),
    "agent-output": output,
    "history": keys("3"),
    "history-details": keys("3", "enter"),
    "help": keys("question_mark"),
    "quit-confirmation": keys("q"),
    "add-marketplace": keys("a"),
    "budget": budget,
    "message-to-an-agent": message,
}


async def shoot(name: str, steps: Steps) -> Path:
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setenv("TZ", "UTC")
        time.tzset()
        workspace = open_workspace(Path(tmp), mp)
        workspace.archive.record(FINISHED)
        app = make_app(workspace, engine_factory=frozen_engine(FINISHED, RUNNING, TEN))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await steps(pilot)
            await pilot.pause()
            path = app.save_screenshot(f"{name}.svg", path=str(ROOT / "screenshots"))
        workspace.archive.close()
    return Path(path)


async def shoot_opening() -> Path:
    """The first frame, drawn while the workspace opens."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CoworkApp, "_open_workspace", lambda app: None)  # it stays
        app = CoworkApp()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            return Path(app.save_screenshot("opening.svg", path=str(ROOT / "screenshots")))


async def main() -> None:
    os.chdir(ROOT)
    print(await shoot_opening())
    for name, steps in SHOTS.items():
        print(await shoot(name, steps))


if __name__ == "__main__":
    asyncio.run(main())
