"""Fixtures shared by the test modules: the scripted Messages API and a Claude backend on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cowork_tui.core.engine.backends.claude import ClaudeBackend
from tests.claude_support import offline_env
from tests.fake_anthropic import FakeAnthropic


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def backend(api: FakeAnthropic, tmp_path: Path) -> ClaudeBackend:
    home = tmp_path / "home"
    home.mkdir()
    return ClaudeBackend(env=offline_env(api, home))
