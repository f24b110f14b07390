"""Catalog commands do work in proportion to the entries: counted in lines of code run (a trace
hook), never timed (the speed is measured by benchmarks/catalog.py)."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest

import cowork_tui
from cowork_tui.cli import main

SIZES = (100, 200, 400)
PACKAGE = str(Path(cowork_tui.__file__).parent)
# with the work per entry constant, doubling the entries doubles the lines they add (2.0);
# work that grows with the square of the entries (each entry scanning all the others) gives 4.0
LINEAR = 2.2

if TYPE_CHECKING:
    from _typeshed import TraceFunction


def count_lines(commands: list[list[str]]) -> tuple[int, list[int]]:
    """The lines of cowork-tui's own code run by the CLI `commands` (each turn of a loop counts),
    the libraries' left out: they follow from what it asks of them; and the exit codes."""
    lines = 0

    def local(frame: FrameType, event: str, arg: Any) -> TraceFunction:
        nonlocal lines
        lines += event == "line"
        return local

    def enter(frame: FrameType, event: str, arg: Any) -> TraceFunction | None:
        return local if frame.f_code.co_filename.startswith(PACKAGE) else None

    previous = sys.gettrace()  # a coverage tool's, say
    sys.settrace(enter)
    try:
        codes = [main(argv) for argv in commands]
    finally:
        sys.settrace(previous)
    return lines, codes


def write_json(file: Path, data: Any) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(data))


def local_plugins(folder: Path, name: str, count: int, **extra: Any) -> Path:
    """A marketplace of `count` plugins, each with a skill."""
    for n in range(count):
        (folder / "plugins" / f"p{n}" / "skills" / "s").mkdir(parents=True)
        (folder / "plugins" / f"p{n}" / "skills" / "s" / "SKILL.md").write_text(f"Do {n}.")
    entries = [{"name": f"p{n}", "source": f"./plugins/p{n}", **extra} for n in range(count)]
    write_json(folder / ".claude-plugin" / "marketplace.json", {"name": name, "plugins": entries})
    return folder


def remote_entries(folder: Path, count: int) -> Path:
    entries = [
        {"name": f"r{n}", "source": {"source": "github", "repo": f"o/r{n}"}} for n in range(count)
    ]
    write_json(folder / ".claude-plugin" / "marketplace.json", {"name": "far", "plugins": entries})
    return folder


def with_requirements(work: Path, count: int) -> list[list[str]]:
    """Local plugins that each require another item (`list --json` checks every one)."""
    folder = local_plugins(work / "m", "m", count, cowork={"requires": ["p0@m"]})
    return [
        ["marketplace", "add", str(folder)],
        ["marketplace", "list", "--json"],
        ["install", "p1@m", "--yes"],
    ]


def remote_only(work: Path, count: int) -> list[list[str]]:
    folder = remote_entries(work / "far", count)
    return [["marketplace", "add", str(folder)], ["marketplace", "list"]]


def claude_installs(work: Path, count: int) -> list[list[str]]:
    """A Claude Code marketplace whose plugins Claude Code installed, plus as many installed
    plugins it does not list."""
    folder = local_plugins(work / "cc", "cc", count)
    elsewhere = local_plugins(work / "installed", "unlisted", count)
    claude = work / "home" / ".claude" / "plugins"
    source = {"source": "directory", "path": str(folder)}
    write_json(claude / "known_marketplaces.json", {"cc": {"source": source}})
    installs = {
        f"p{n}@cc": [{"installPath": str(folder / "plugins" / f"p{n}")}] for n in range(count)
    }
    installs |= {
        f"q{n}@cc": [{"installPath": str(elsewhere / "plugins" / f"p{n}")}] for n in range(count)
    }
    write_json(claude / "installed_plugins.json", {"version": 2, "plugins": installs})
    return [["marketplace", "list"], ["marketplace", "list", "--json"]]


@pytest.mark.parametrize("scenario", [with_requirements, remote_only, claude_installs])
def test_catalog_commands_grow_linearly(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    scenario: Callable[[Path, int], list[list[str]]],
) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    lines = []
    for count in SIZES:
        work = tmp_path / str(count)
        monkeypatch.setenv("COWORK_TUI_HOME", str(work / "cowork"))
        monkeypatch.setenv("HOME", str(work / "home"))
        commands = scenario(work, count)
        run, codes = count_lines(commands)
        assert codes == [0] * len(commands), capsys.readouterr().err
        lines.append(run)
    added = [more - fewer for fewer, more in itertools.pairwise(lines)]
    assert added[1] <= LINEAR * added[0], f"lines run at {SIZES} entries: {lines}"
