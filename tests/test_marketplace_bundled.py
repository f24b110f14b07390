"""The bundled marketplace: valid, four items covering the patterns, proper agent files, and
repo-health's command agents doing real work on a folder (run directly through `sh -c`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cowork_tui.core.marketplace.loaded_catalog import BUNDLED_DIR
from cowork_tui.core.marketplace.loader import load_marketplace
from cowork_tui.core.models import Item
from cowork_tui.core.planning.plans import plan_task

MODEL_ALIASES = {"sonnet", "opus", "haiku", "inherit"}


@pytest.fixture(scope="module")
def items() -> dict[str, Item]:
    market = load_marketplace(BUNDLED_DIR, kind="bundled")
    assert market.errors == () and market.warnings == ()
    return {item.name: item for item in market.items}


def test_every_item_is_valid(items: dict[str, Item]) -> None:
    assert set(items) == {"repo-health", "code-review-team", "feature-pipeline", "research-brief"}
    for item in items.values():
        assert item.available and item.errors == () and item.warnings == (), item.ref
        assert item.description and item.version and item.cowork.workflow


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("repo-health", "fan-out-fan-in"),
        ("code-review-team", "fan-out-fan-in"),
        ("feature-pipeline", "sequential"),
        ("research-brief", "fan-out-fan-in"),
    ],
)
def test_workflow_patterns(items: dict[str, Item], name: str, pattern: str) -> None:
    plan = plan_task(items[name], "the task")
    assert plan.pattern == pattern and plan.source == "workflow"
    assert all("the task" in sub.prompt for sub in plan.subtasks)


def test_model_agents_are_proper_claude_code_agents(items: dict[str, Item]) -> None:
    for name in ("code-review-team", "feature-pipeline", "research-brief"):
        agents = items[name].agents
        assert len(agents) == 4 and all(a.kind == "model" for a in agents)
        for agent in agents:
            assert agent.description.startswith("Use this agent"), agent.name
            assert agent.model in MODEL_ALIASES and agent.tools and agent.max_turns
            assert len(agent.system_prompt) > 300 and agent.path and agent.path.stem == agent.name


def test_repo_health_is_made_of_command_agents(items: dict[str, Item]) -> None:
    agents = items["repo-health"].agents
    assert len(agents) == 5
    assert all(a.kind == "command" and a.command and a.timeout for a in agents)


def run_repo_health(item: Item, folder: Path) -> tuple[str, list[str]]:
    """Run the workflow like the engine does: the checks, then the report with their outputs
    on stdin. Returns the report (directive lines consumed, as the engine does) and the raw
    outputs of the checks."""
    env = {"PATH": os.environ["PATH"], "COWORK_TASK": "check this folder", "LC_ALL": "C"}
    outputs: list[str] = []
    report = ""
    for step in item.cowork.workflow or ():
        agent = item.agent(step.agent)
        assert agent is not None and agent.command is not None
        stdin = "".join(outputs) if step.after else ""
        done = subprocess.run(
            ["sh", "-c", agent.command],
            cwd=folder,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0 and done.stderr == "", (step.id, done.stderr)
        if step.after:
            report = "".join(
                line for line in done.stdout.splitlines(keepends=True) if not line.startswith("::")
            )
        else:
            outputs.append(done.stdout)
    return report, outputs


def planted_folder(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "ok.py").write_text("# TODO: tidy\nx = 1\n")
    (root / "pkg" / "broken.py").write_text("def f(:\n    pass\n")
    (root / "data.json").write_text('{"a": [1, 2}')
    key = "-----BEGIN " + "RSA PRIVATE KEY-----"  # split so this test file is not flagged
    (root / "config.py").write_text(
        f'KEY = """{key}\nabc\n"""\npassword = "' + "hunter2" * 3 + '"\n'
    )
    (root / "big.bin").write_bytes(b"\0" * (1_300_000))
    (root / ".venv").mkdir()
    (root / ".venv" / "junk.py").write_text("def broken(:\n# FIXME\n")
    return root


def test_repo_health_on_a_folder_that_is_not_a_git_repository(
    items: dict[str, Item], tmp_path: Path
) -> None:
    report, outputs = run_repo_health(items["repo-health"], planted_folder(tmp_path / "work"))
    assert report.startswith("# Repository health: work\n")
    assert "- git: not a git repository" in report
    assert "- markers: 1 line(s) with TODO/FIXME/XXX/HACK" in report
    assert "- risks: 1 large file(s), 2 possible secret(s)" in report
    assert "- syntax: 2 file(s) with errors of 4 checked" in report
    assert "- big.bin (1.2 MiB)" in report
    assert "- config.py:1" in report and "- config.py:4" in report
    assert "hunter2" not in report and "PRIVATE KEY" not in report  # never the secret itself
    assert "- pkg/broken.py:1:" in report and "- data.json:" in report
    assert ".venv" not in report
    assert any(line.startswith("::progress ") for out in outputs for line in out.splitlines())


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_repo_health_on_a_git_repository(items: dict[str, Item], tmp_path: Path) -> None:
    work = tmp_path / "repo"
    work.mkdir()
    (work / "a.txt").write_text("FIXME later\n")
    git = [
        "git",
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "-c",
        "commit.gpgsign=false",
    ]
    subprocess.run(["git", "init", "-q", "-b", "trunk"], cwd=work, check=True)
    subprocess.run([*git, "add", "."], cwd=work, check=True)
    subprocess.run([*git, "commit", "-qm", "first commit"], cwd=work, check=True)
    (work / "new.txt").write_text("x\n")
    report, _ = run_repo_health(items["repo-health"], work)
    assert "- git: trunk, 1 commit(s), 1 uncommitted change(s)" in report
    assert "first commit" in report and "- uncommitted changes: 1 file(s), 1 untracked" in report
    assert (
        "- markers: 1 line(s)" in report
        and "- syntax: 0 file(s) with errors of 0 checked" in report
    )


def test_the_report_alone_says_it_needs_the_checks(items: dict[str, Item], tmp_path: Path) -> None:
    report_agent = items["repo-health"].agent("report")
    assert report_agent is not None and report_agent.command is not None
    done = subprocess.run(
        ["sh", "-c", report_agent.command],
        cwd=tmp_path,
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and "run it after the checks" in done.stdout
