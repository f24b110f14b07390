"""The model planner: the REAL bundled Claude Code CLI asked for a plan by the scripted API on
127.0.0.1, with structured output. Each test reads the logged requests: the planner's system
prompt, the schema it was given (the StructuredOutput tool), the parts it was told about."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cowork_tui.core.config import Settings
from cowork_tui.core.engine.backends.claude import ClaudeBackend
from cowork_tui.core.engine.backends.claude_planner import PLANNER_PROMPT
from cowork_tui.core.engine.backends.select import sdk_installed
from cowork_tui.core.engine.protocol import LaunchRequest
from cowork_tui.core.models import AgentSpec, Item, SessionState, SkillSpec
from cowork_tui.core.paths import Paths
from cowork_tui.core.planning.builtin import GENERAL_PURPOSE
from cowork_tui.core.workspace import Workspace
from tests.claude_support import cli_processes, offline_env
from tests.fake_anthropic import FakeAnthropic, Reply, Request, Usage

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.claude,
    pytest.mark.skipif(not sdk_installed(), reason="claude-agent-sdk is not installed"),
]
PLANNER = PLANNER_PROMPT[:40]  # the marker of the planner's conversation
PLANNED = Usage(400, 60)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


ITEM = Item(
    name="review",
    marketplace="tests",
    agents=(
        AgentSpec(name="scanner", description="Finds leaked secrets <example>long</example>"),
        AgentSpec(name="linter", description="Lints code style"),
    ),
    skills=(SkillSpec(name="changelog", description="Writes the changelog entry"),),
)
GOOD = {
    "subtasks": [  # listed out of order: the merge first
        {"id": "sum", "agent": "merge", "prompt": "combine", "after": ["scan", "log"]},
        {"id": "scan", "agent": "scanner", "prompt": "scan for secrets"},
        {"id": "log", "agent": GENERAL_PURPOSE, "prompt": "write it", "skills": ["changelog"]},
    ]
}


def planned(api: FakeAnthropic, answer: dict[str, Any]) -> None:
    api.script(PLANNER, Reply("", PLANNED, tool=("StructuredOutput", answer)))


def planner_request(api: FakeAnthropic) -> Request:
    first, *_ = api.conversation(PLANNER)
    return first


async def test_claude_plans_from_the_items_parts(
    api: FakeAnthropic, backend: ClaudeBackend
) -> None:
    planned(api, GOOD)
    plan = await backend.plan(ITEM, "scan for secrets and add a changelog entry", max_parallel=2)
    assert plan.source == "model" and not plan.warnings
    assert [(s.id, s.agent, s.skills) for s in plan.subtasks] == [
        ("scan", "scanner", ()),
        ("log", GENERAL_PURPOSE, ("changelog",)),
        ("sum", "merge", ()),
    ]  # each after what it waits for
    assert plan.pattern == "fan-out-fan-in"
    assert plan.tokens.input >= PLANNED.input and plan.tokens.output >= PLANNED.output
    assert plan.cost_usd > 0

    request = planner_request(api)
    assert request.system_text().count(PLANNER) == 1
    asked = json.dumps(request.body["messages"])
    assert "Task: scan for secrets and add a changelog entry" in asked
    assert "scanner: Finds leaked secrets" in asked and "<example>" not in asked
    assert "changelog (skill): Writes the changelog entry" in asked
    assert "At most 2 agents run at once" in asked
    (schema,) = [
        t["input_schema"] for t in request.body["tools"] if t["name"] == "StructuredOutput"
    ]
    subtask = schema["properties"]["subtasks"]["items"]["properties"]
    assert subtask["agent"]["enum"] == ["scanner", "linter", GENERAL_PURPOSE, "merge"]
    assert subtask["skills"]["items"]["enum"] == ["changelog"]
    assert request.body["model"].startswith("claude-haiku")
    assert not cli_processes()


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (
            {"subtasks": [{"id": "a", "agent": "scanner", "prompt": "x", "after": ["b"]},
                          {"id": "b", "agent": "linter", "prompt": "y", "after": ["a"]}]},
            "its plan does not fit review@tests: plan.subtasks: cycle between steps a → b → a",
        ),
        (
            {"subtasks": [{"id": "a", "agent": "scanner", "prompt": "x", "skills": ["nope"]}]},
            "no answer that fits the plan's schema in 3 tries",  # Claude Code asked again
        ),
    ],
    ids=["cycle", "unknown-skill"],
)  # fmt: skip
async def test_a_broken_plan_falls_back_to_the_heuristic_and_says_so(
    api: FakeAnthropic, backend: ClaudeBackend, answer: dict[str, Any], problem: str
) -> None:
    planned(api, answer)
    plan = await backend.plan(ITEM, "scan for leaked secrets and lint the code style")
    assert plan.source == "heuristic"
    assert [s.agent for s in plan.subtasks] == ["scanner", "linter", "merge"]
    warning = plan.warnings[0]
    assert warning.startswith("the model planner failed (") and "planned from the task" in warning
    assert problem in warning
    assert plan.tokens.input >= PLANNED.input  # what the failed call cost still counts
    assert api.conversation(PLANNER)


async def test_an_api_error_falls_back_and_says_so(
    api: FakeAnthropic, backend: ClaudeBackend
) -> None:
    api.script(PLANNER, Reply(status=401, error_type="authentication_error", error_message="bad"))
    plan = await backend.plan(ITEM, "lint the code style")
    assert plan.source == "heuristic" and [s.agent for s in plan.subtasks] == ["linter"]
    assert plan.warnings[0].startswith("the model planner failed (")
    assert "credentials" in plan.warnings[0] or "401" in plan.warnings[0]
    assert plan.cost_usd == 0


def isolated(tmp_path: Path, **settings: Any) -> Workspace:
    paths = Paths(config_dir=tmp_path / "config", data_dir=tmp_path / "data", isolated=True)
    return Workspace(paths, Settings(**settings))


@pytest.fixture
def claude_env(
    api: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The process's environment pointed at the scripted API, as a user's would be at theirs."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in offline_env(api, home).items() if k != "CLAUDE_CONFIG_DIR"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.mark.usefixtures("claude_env")
async def test_a_claude_session_is_planned_by_claude_and_counts_the_call(
    api: FakeAnthropic, tmp_path: Path
) -> None:
    planned(api, GOOD)
    api.script("You are scanner", Reply("No secrets.", Usage(100, 10)))
    api.script("general-purpose agent", Reply("Changelog written.", Usage(100, 10)))
    workspace = isolated(tmp_path)  # model_planner: "auto", the default
    request = LaunchRequest(item=ITEM, task="scan and log", backend="claude", cwd=tmp_path)
    async with workspace.engine() as engine:
        record = await engine.wait(engine.launch(request))
    assert record.state is SessionState.COMPLETED, record.error
    assert record.plan is not None and record.plan.source == "model"
    agents = sum(a.cost_usd for a in record.agents)
    assert record.cost_usd == pytest.approx(agents + record.plan.cost_usd)
    assert record.plan.cost_usd > 0
    assert record.tokens.input == sum(a.tokens.input for a in record.agents) + (
        record.plan.tokens.input
    )
    stored = workspace.archive.get(record.id)
    assert stored is not None and stored.cost_usd == pytest.approx(record.cost_usd)


@pytest.mark.usefixtures("claude_env")
@pytest.mark.parametrize(("setting", "backend"), [(False, "claude"), ("auto", "demo")])
async def test_the_heuristic_plans_when_the_setting_or_backend_says_so(
    api: FakeAnthropic, tmp_path: Path, setting: object, backend: str
) -> None:
    workspace = isolated(tmp_path, model_planner=setting)
    plan = await workspace.plan(ITEM, "lint the code style", backend)
    assert plan.source == "heuristic" and not plan.warnings
    assert not api.conversation(PLANNER)


async def test_plan_prints_claudes_plan_as_a_tree(
    api: FakeAnthropic, tmp_path: Path, claude_env: dict[str, str]
) -> None:
    planned(api, GOOD)
    market = tmp_path / "market"
    write_item(market)
    env = os.environ | claude_env | {"COWORK_TUI_HOME": str(tmp_path / "cowork")}
    cli = [sys.executable, "-m", "cowork_tui"]
    subprocess.run([*cli, "marketplace", "add", str(market)], env=env, check=True)
    shown = subprocess.run(
        [*cli, "plan", "review@m", "scan and log"], env=env, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    # the call, priced: 400 + 60 tokens of haiku
    assert (
        lines[0]
        == "review@m: fan-out-fan-in plan, 3 subtasks, planned by Claude (460 tokens, $0.0001)"
    )
    rough = "rough: 20k input + 2k output tokens per model agent"
    assert lines[1] == f"estimated duration: not given · cost: ≈ $0.27 ({rough})"
    assert lines[2:] == [
        "",
        "stage 1, in parallel",
        "├─ scan  scanner",
        "│    scan for secrets",
        "└─ log   general-purpose  skills: changelog",
        "     write it",
        "",
        "stage 2, one subtask, after log, scan",
        "└─ sum   merge  (fan-in: gets their results)",
        "     combine",
    ]
    as_json = subprocess.run(
        [
            *cli,
            "plan",
            "review@m",
            "find leaked secrets, write the changelog",
            "--json",
            "--backend",
            "demo",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    data = json.loads(as_json.stdout)
    assert data["source"] == "heuristic" and data["warnings"] == []
    assert [(s["agent"], s["skills"]) for s in data["subtasks"]] == [
        ("scanner", []),
        (GENERAL_PURPOSE, ["changelog"]),
        ("merge", []),
    ]
    assert len(api.conversation(PLANNER)) == 1  # the demo backend: Claude was not asked


def write_item(root: Path) -> None:
    plugin = root / "plugins" / "review"
    (plugin / "agents").mkdir(parents=True)
    (plugin / "agents" / "scanner.md").write_text(
        "---\nname: scanner\ndescription: Finds leaked secrets\n---\nYou are scanner.\n"
    )
    (plugin / "skills" / "changelog").mkdir(parents=True)
    (plugin / "skills" / "changelog" / "SKILL.md").write_text(
        "---\nname: changelog\ndescription: Writes the changelog entry\n---\nWrite it.\n"
    )
    manifest = {"name": "m", "owner": {"name": "t"}, "plugins": [
        {"name": "review", "source": "./plugins/review"}]}  # fmt: skip
    (root / ".claude-plugin").mkdir()
    (root / ".claude-plugin" / "marketplace.json").write_text(json.dumps(manifest))
