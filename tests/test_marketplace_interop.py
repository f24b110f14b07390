"""The real Claude Code marketplaces in ../shared/interop load whole: every plugin, every agent,
skill and command; every local item with something to run plans and runs (demo backend)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cowork_tui.core.engine.backends.demo import DemoBackend
from cowork_tui.core.engine.local import LocalEngine
from cowork_tui.core.engine.protocol import LaunchRequest
from cowork_tui.core.marketplace.agent_files import load_agent
from cowork_tui.core.marketplace.loader import load_marketplace
from cowork_tui.core.models import Item, SessionState
from cowork_tui.core.planning.dag import check_plan
from cowork_tui.core.planning.plans import plan_task

INTEROP = Path(__file__).resolve().parents[2] / "shared" / "interop"
MARKETS = [
    "claude-code",
    "knowledge-work-plugins",
    "anthropics-skills",
    "trailofbits-skills",
    "claude-plugins-official",
    "dev-gom",
]
if not INTEROP.is_dir():  # CI has ../shared beside the clone: its absence must fail there
    if os.environ.get("CI"):
        raise RuntimeError(f"interop fixtures not found at {INTEROP} (shared/ beside the repo)")
    pytest.skip(f"interop fixtures not found at {INTEROP}", allow_module_level=True)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def local_items(folder: str) -> list[Item]:
    return [i for i in load_marketplace(INTEROP / folder).items if i.path is not None]


@pytest.mark.parametrize("folder", MARKETS)
def test_every_plugin_is_listed_without_errors(folder: str) -> None:
    root = INTEROP / folder
    manifest = json.loads((root / ".claude-plugin" / "marketplace.json").read_text())
    market = load_marketplace(root)
    assert market.errors == () and market.available
    assert market.name == manifest["name"]
    assert [i.name for i in market.items] == [p["name"] for p in manifest["plugins"]]
    assert all(item.errors == () for item in market.items), [i.errors for i in market.items]


@pytest.mark.parametrize("folder", MARKETS)
def test_relative_sources_load_and_remote_ones_say_where_they_live(folder: str) -> None:
    root = INTEROP / folder
    manifest = json.loads((root / ".claude-plugin" / "marketplace.json").read_text())
    market = load_marketplace(root)
    for entry, item in zip(manifest["plugins"], market.items, strict=True):
        if isinstance(entry["source"], str):
            assert item.available and item.path is not None and item.path.is_dir()
        else:
            assert not item.available and not item.runnable
            assert item.source.startswith("remote — not available offline: ")
            assert entry["source"]["source"] in item.source


@pytest.mark.parametrize("folder", MARKETS)
def test_every_local_item_with_parts_is_runnable_and_the_others_say_why(folder: str) -> None:
    for item in local_items(folder):
        if item.agents or item.skills:
            assert item.runnable, (item.ref, item.not_runnable)
        else:
            assert not item.runnable and item.not_runnable
            assert item.not_runnable.endswith("nothing to run")


@pytest.mark.parametrize("folder", MARKETS)
def test_every_agent_skill_and_command_file_is_found(folder: str) -> None:
    items = local_items(folder)
    folders = {i.path for i in items}
    found = {s.path for i in items for s in i.skills}
    # skills/<dir>/SKILL.md, or skills/SKILL.md: a skills folder that is one skill
    skills = {
        f for d in folders if d for f in [*d.glob("skills/*/SKILL.md"), *d.glob("skills/SKILL.md")]
    }
    commands = {f for d in folders if d for f in d.glob("commands/**/*.md")}
    # a command with a skill's name is the skill's (as in Claude Code): said, not loaded
    shadowed = {f for f in commands if any(f"command {f.stem!r} has a skill's name" in w
                                           for i in items for w in i.warnings)}  # fmt: skip
    assert found == skills | commands - shadowed
    agents = {a.path.resolve() for i in items for a in i.agents if a.path}
    assert agents == {f.resolve() for d in folders if d for f in d.glob("agents/*.md")}
    for item in items:
        names = [s.name for s in item.skills]
        assert len(names) == len(set(names)), item.ref


def test_entries_sharing_a_marketplaces_skills_folder_get_only_their_own() -> None:
    market = load_marketplace(INTEROP / "anthropics-skills")
    manifest = json.loads(
        (INTEROP / "anthropics-skills/.claude-plugin/marketplace.json").read_text()
    )
    for entry, item in zip(manifest["plugins"], market.items, strict=True):
        assert [s.path.parent.name for s in item.skills if s.path] == [
            Path(p).name for p in entry["skills"]
        ]


def test_skills_commands_mcp_and_hooks_read_as_claude_code_means_them() -> None:
    (finance,) = [i for i in local_items("knowledge-work-plugins") if i.name == "finance"]
    assert {s.name for s in finance.skills} >= {"reconciliation", "journal-entry"}
    assert all(s.kind == "skill" and s.description for s in finance.skills)
    audit = finance.skill("audit-support")
    assert audit is not None and not audit.user_invocable and audit.model_invocable
    (commits,) = [i for i in local_items("claude-code") if i.name == "commit-commands"]
    assert {s.name for s in commits.skills} == {"commit", "commit-push-pr", "clean_gone"}
    assert all(s.kind == "command" for s in commits.skills)
    official = {i.name: i for i in local_items("claude-plugins-official")}
    assert official["github"].mcp_servers and official["github"].not_runnable == (
        "MCP servers only: nothing to run"
    )
    assert official["security-guidance"].hooks


def test_claude_code_agent_quirks_are_read_as_claude_code_means_them() -> None:
    plugins = INTEROP / "claude-code" / "plugins"
    explorer, _ = load_agent(plugins / "feature-dev" / "agents" / "code-explorer.md")
    assert explorer.tools is not None and explorer.tools[:3] == ("Glob", "Grep", "LS")
    assert explorer.model == "sonnet"
    analyzer, warnings = load_agent(plugins / "hookify" / "agents" / "conversation-analyzer.md")
    assert analyzer.tools == ("Read", "Grep") and analyzer.model == "inherit"
    assert analyzer.color == "yellow" and "<example>" in analyzer.description
    assert warnings and "read line by line" in warnings[0]
    # a multi-line description with unindented <example> lines (not valid YAML)
    validator, _ = load_agent(plugins / "plugin-dev" / "agents" / "plugin-validator.md")
    assert validator.description.startswith("Use this agent when the user asks")
    assert "Context: User finished creating a new plugin" in validator.description
    assert validator.tools == ("Read", "Grep", "Glob", "Bash") and validator.model == "inherit"
    # no `tools:` line: Claude Code's default tools, not none
    reviewer, _ = load_agent(plugins / "pr-review-toolkit" / "agents" / "code-reviewer.md")
    assert reviewer.tools is None


def test_folded_descriptions_lists_and_max_turns() -> None:
    agents = INTEROP / "knowledge-work-plugins" / "partner-built" / "brand-voice" / "agents"
    qa, warnings = load_agent(agents / "quality-assurance.md")
    assert warnings == []
    assert qa.max_turns == 10 and qa.model == "haiku" and qa.tools == ("Read", "Glob", "Grep")
    assert qa.description.startswith("Validates content") and "<example>" in qa.description


async def test_every_runnable_item_plans_and_runs_on_the_demo_backend(tmp_path: Path) -> None:
    items = [i for folder in MARKETS for i in local_items(folder) if i.runnable]
    task = "Review the latest changes and check the tests. Then write a short summary."
    async with LocalEngine({"demo": DemoBackend(step_seconds=0.001)}, outputs_dir=tmp_path) as e:
        sessions = {}
        for item in items:
            plan = plan_task(item, task)
            check_plan(item, plan)
            if not item.agents:  # skills and commands only: the general-purpose agent, directed
                assert all(s.agent in ("general-purpose", "merge") for s in plan.subtasks)
            request = LaunchRequest(item=item, task=task, backend="demo", cwd=tmp_path)
            sessions[item.ref] = e.launch(request)
        for ref, sid in sessions.items():
            record = await e.wait(sid)
            assert record.state is SessionState.COMPLETED, (ref, record.error)
            assert record.simulated
