"""`marketplace list|add`, `install`, `uninstall` through `cowork_tui.cli.main`."""

from __future__ import annotations

import errno
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from cowork_tui.cli import main

from .marketplace_files import agent_text, entry, write_raw_marketplace

INTEROP = Path(__file__).resolve().parents[2] / "shared" / "interop"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COWORK_TUI_HOME", str(tmp_path / "cowork"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    return tmp_path / "cowork"


@pytest.fixture
def market(tmp_path: Path) -> Path:
    root = tmp_path / "market"
    write_raw_marketplace(
        root,
        {
            "name": "local",
            "plugins": [
                entry("tool", cowork={"maxParallelAgents": 2}),
                entry("broken", cowork={"maxParallelAgents": 0}),
            ],
        },
        {
            "tool": {"run.md": agent_text("run", command="'echo hi'")},
            "broken": {"x.md": agent_text("x")},
        },
    )
    return root


def list_json(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["marketplace", "list", "--json"]) == 0
    data: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return data


def test_list_json_shows_the_bundled_items(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = {i["name"]: i for i in list_json(capsys)}
    assert set(items) == {"repo-health", "code-review-team", "feature-pipeline", "research-brief"}
    health = items["repo-health"]
    assert health["marketplace"] == "cowork-tui" and health["installed"] and health["available"]
    assert health["source"] == "repo-health" and health["errors"] == []
    assert {a["kind"] for a in health["agents"]} == {"command"}
    assert health["cowork"]["maxParallelAgents"] == 4
    assert [s["id"] for s in health["cowork"]["workflow"]][-1] == "report"
    reviewer = items["code-review-team"]["agents"][0]
    assert set(reviewer) >= {"name", "description", "kind", "model"} and reviewer["kind"] == "model"


def test_list_table(home: Path, capsys: pytest.CaptureFixture[str], market: Path) -> None:
    assert main(["marketplace", "add", str(market)]) == 0
    assert "added marketplace local: 2 items, 1 with errors" in capsys.readouterr().out
    assert main(["marketplace", "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["ITEM", "STATE", "AGENTS", "SKILLS", "DESCRIPTION"]
    assert "repo-health@cowork-tui" in out and "installed" in out
    assert "tool@local" in out and "broken@local" in out
    assert "plugins[1].cowork.maxParallelAgents: must be between 1 and 10" in out


def test_add_an_unreadable_marketplace(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_raw_marketplace(tmp_path / "bad", '{"name": "x", "plugins": [}')
    assert main(["marketplace", "add", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'bad' / '.claude-plugin' / 'marketplace.json'}: not valid JSON" in err
    assert "(line 1, column 27)" in err
    assert not (home / "config" / "marketplaces.json").exists()


def test_install_asks_for_the_commands(
    home: Path, market: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["marketplace", "add", str(market)])
    capsys.readouterr()
    assert main(["install", "tool"]) == 2
    err = capsys.readouterr().err
    assert "tool@local can act on this machine" in err and "echo hi" in err and "--yes" in err
    assert not (home / "data" / "installed.json").exists()
    assert main(["install", "tool@local", "--yes"]) == 0
    assert "installed tool@local" in capsys.readouterr().out
    assert next(i for i in list_json(capsys) if i["name"] == "tool")["installed"]
    assert main(["uninstall", "tool"]) == 0
    assert not next(i for i in list_json(capsys) if i["name"] == "tool")["installed"]


@pytest.mark.parametrize(("answer", "code", "installed"), [("y", 0, True), ("", 1, False)])
def test_install_prompts_on_a_terminal(
    home: Path,
    market: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    code: int,
    installed: bool,
) -> None:
    main(["marketplace", "add", str(market)])
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: answer)
    assert main(["install", "tool"]) == code
    assert "echo hi" in capsys.readouterr().out
    assert next(i for i in list_json(capsys) if i["name"] == "tool")["installed"] is installed


def test_install_errors_exit_2(
    home: Path, market: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["marketplace", "add", str(market)])
    assert main(["install", "nothing-like-it"]) == 2
    assert main(["install", "broken", "--yes"]) == 2
    assert "broken@local: cannot be installed" in capsys.readouterr().err
    assert main(["uninstall", "repo-health"]) == 2


def refuse_writes(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    """Files cannot be made, as on a read-only or full disk (chmod would not stop root)."""

    def refused(*args: object, dir: str = "", **kwargs: object) -> tuple[int, str]:
        raise OSError(code, os.strerror(code), os.path.join(dir, ".x.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", refused)


@pytest.mark.parametrize(
    ("code", "cause"), [(errno.EROFS, "read-only"), (errno.ENOSPC, "disk full")]
)
def test_a_home_that_cannot_be_written_is_said_in_words(
    home: Path,
    market: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    cause: str,
) -> None:
    installed, listing = home / "data" / "installed.json", home / "config" / "marketplaces.json"
    write_raw_marketplace(tmp_path / "other", {"name": "other", "plugins": []})
    assert main(["marketplace", "add", str(market)]) == 0
    for argv, file, setup in (
        (["install", "tool", "--yes"], installed, []),
        (["uninstall", "tool"], installed, ["install", "tool", "--yes"]),
        (["marketplace", "add", str(tmp_path / "other")], listing, []),
    ):
        if setup:
            assert main(setup) == 0
        before = [f.read_bytes() if f.exists() else None for f in (installed, listing)]
        capsys.readouterr()
        with monkeypatch.context() as refusing:
            refuse_writes(refusing, code)
            assert main(argv) == 1, argv  # the machine's problem, not bad input
        err = capsys.readouterr().err
        assert err == f"cowork-tui: {cause}: {file} ({os.strerror(code)}); nothing was changed\n"
        assert [f.read_bytes() if f.exists() else None for f in (installed, listing)] == before


def test_real_marketplaces_through_the_cli(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not INTEROP.is_dir():
        pytest.fail(f"interop fixtures not found at {INTEROP} (shared/ beside the repo)")
    for folder in ("claude-code", "knowledge-work-plugins"):
        assert main(["marketplace", "add", str(INTEROP / folder)]) == 0
    items = list_json(capsys)
    listed = sum(
        len(
            json.loads((INTEROP / f / ".claude-plugin" / "marketplace.json").read_text())["plugins"]
        )
        for f in ("claude-code", "knowledge-work-plugins")
    )
    assert len(items) == 4 + listed
    assert not any(i["errors"] for i in items)
    remote = [i for i in items if not i["available"]]
    assert remote and all(i["source"].startswith("remote — not available offline") for i in remote)
    finance = next(i for i in items if i["ref"] == "finance@knowledge-work-plugins")
    assert finance["runnable"] and finance["not_runnable"] is None and finance["agents"] == []
    skills = {s["name"]: s for s in finance["skills"]}
    assert skills["reconciliation"]["kind"] == "skill" and skills["reconciliation"]["description"]
    styles = next(i for i in items if i["ref"] == "explanatory-output-style@claude-code-plugins")
    assert not styles["runnable"] and styles["not_runnable"].endswith("nothing to run")
    assert all("mcp_servers" in i and "hooks" in i for i in items)
    assert main(["plan", "finance@knowledge-work-plugins", "Reconcile the bank account"]) == 0
    assert "general-purpose" in capsys.readouterr().out
