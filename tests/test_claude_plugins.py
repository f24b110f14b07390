"""Claude agents with their plugin loaded, and the ways the API can fail them: the REAL bundled
Claude Code CLI against the scripted API on 127.0.0.1. Each test reads the logged requests."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cowork_tui.core.engine.backends.base import AgentContext, AgentOutcome
from cowork_tui.core.engine.backends.claude import ClaudeBackend
from cowork_tui.core.engine.backends.select import sdk_installed
from cowork_tui.core.engine.protocol import LaunchRequest
from cowork_tui.core.marketplace.loader import load_marketplace
from cowork_tui.core.models import AgentSpec, Item, SessionState, Subtask
from cowork_tui.core.planning.builtin import GENERAL_PURPOSE, built_in_spec
from tests.claude_support import Reporter, cli_processes, offline_env
from tests.engine_support import running_engine
from tests.fake_anthropic import FakeAnthropic, Reply, Request, Usage

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.claude,
    pytest.mark.skipif(not sdk_installed(), reason="claude-agent-sdk is not installed"),
]
GP = "general-purpose agent of a cowork session"  # the built-in agent's system prompt
DEFAULT_TOOLS = {"Read", "Bash", "Edit", "Write", "Skill"}  # some of Claude Code's defaults


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def write_plugin(root: Path) -> Item:
    """A marketplace with one plugin `it`: two skills, a command, an agent without `tools:`,
    an MCP server and a hook that each leave a flag file when they run."""
    plugin = root / "plugins" / "it"
    for name, body in (("greet", "SKILLBODY-GREET: say hello"), ("tally", "SKILLBODY-TALLY")):
        (plugin / "skills" / name).mkdir(parents=True)
        (plugin / "skills" / name / "SKILL.md").write_text(
            f"---\nname: {name}\ndescription: The {name} skill, DESC-{name.upper()}\n---\n{body}\n"
        )
    (plugin / "commands").mkdir()
    (plugin / "commands" / "shout.md").write_text(
        "---\ndescription: Shout the words\n---\nCMDBODY: shout $ARGUMENTS loudly\n"
    )
    (plugin / "agents").mkdir()
    (plugin / "agents" / "reader.md").write_text(
        "---\nname: reader\ndescription: reads files\n---\nYou are MARKER-READER.\n"
    )
    flags = root / "flags"
    (plugin / ".mcp.json").write_text(
        json.dumps({"mcpServers": {"spy": {"command": "sh", "args": ["-c", f"touch {flags}/mcp"]}}})
    )
    (plugin / "hooks").mkdir()
    hook = {"type": "command", "command": f"touch {flags}/hook"}
    (plugin / "hooks" / "hooks.json").write_text(
        json.dumps({"hooks": {"UserPromptSubmit": [{"hooks": [hook]}]}})
    )
    flags.mkdir()
    manifest = {
        "name": "m",
        "owner": {"name": "t"},
        "plugins": [{"name": "it", "source": "./plugins/it"}],
    }
    (root / ".claude-plugin").mkdir()
    (root / ".claude-plugin" / "marketplace.json").write_text(json.dumps(manifest))
    (item,) = load_marketplace(root).items
    assert item.runnable and not item.errors, item.errors
    return item


def run_context(item: Item, spec: AgentSpec, cwd: Path, *skills: str) -> AgentContext:
    return AgentContext(
        session_id="s1",
        item=item,
        spec=spec,
        subtask=Subtask(id="x", agent=spec.name, prompt="the part to do", skills=skills),
        task="the whole task",
        cwd=cwd,
        output_dir=cwd / "outputs",
    )


async def run(backend: ClaudeBackend, ctx: AgentContext) -> tuple[AgentOutcome, Reporter]:
    reporter = Reporter()
    outcome = await (await backend.start(ctx, reporter)).wait()
    return outcome, reporter


def general(item: Item) -> AgentSpec:
    spec = built_in_spec(item, GENERAL_PURPOSE)
    assert spec is not None
    return spec


def tools_of(body: dict[str, Any]) -> set[str]:
    return {t["name"] for t in body["tools"]}


async def one_turn(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path, *skills: str
) -> Request:
    """The general-purpose agent on the test plugin, with `skills`: its one request."""
    item = write_plugin(tmp_path / "market")
    api.script(GP, Reply("Done.", Usage(10, 5)))
    outcome, _ = await run(backend, run_context(item, general(item), tmp_path, *skills))
    assert outcome.ok, outcome.error
    (turn,) = api.conversation(GP)
    return turn


async def test_one_skill_runs_as_its_slash_command_with_the_plugin_loaded(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path
) -> None:
    turn = await one_turn(api, backend, tmp_path, "greet")
    first = json.dumps(turn.body["messages"][0])
    assert "<command-name>/it:greet</command-name>" in first and "SKILLBODY-GREET" in first
    assert "the part to do" in first  # the subtask, as the skill's arguments
    assert "- it:greet: The greet skill, DESC-GREET" in turn.text  # listed to the model
    assert "it:tally" not in turn.text  # only the subtask's skills
    assert tools_of(turn.body) >= DEFAULT_TOOLS


async def test_several_skills_are_listed_and_the_skill_tool_loads_one(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path
) -> None:
    item = write_plugin(tmp_path / "market")
    api.script(
        GP,
        Reply("Loading it.", Usage(10, 5), tool=("Skill", {"skill": "it:tally"})),
        Reply("Tallied.", Usage(20, 5)),
    )
    outcome, _ = await run(backend, run_context(item, general(item), tmp_path, "greet", "tally"))
    assert outcome.ok and outcome.output == "Tallied.", outcome.error
    first, second = api.conversation(GP)
    listing = "The following skills are available for use with the Skill tool"
    assert listing in first.text and "it:greet" in first.text and "DESC-TALLY" in first.text
    assert "Use these skills of the plugin (the Skill tool): it:greet, it:tally." in first.text
    assert "SKILLBODY-TALLY" in second.text  # the Skill call loaded SKILL.md


async def test_a_command_expands_with_its_arguments(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path
) -> None:
    turn = await one_turn(api, backend, tmp_path, "shout")
    assert "CMDBODY: shout the part to do" in json.dumps(turn.body["messages"][0])


async def test_an_agent_without_tools_has_the_default_tools_and_reads_files(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path
) -> None:
    item = write_plugin(tmp_path / "market")
    reader = item.agent("reader")
    assert reader is not None and reader.tools is None  # no `tools:` line
    (tmp_path / "notes.txt").write_text("NOTES-CONTENT")
    read = ("Read", {"file_path": str(tmp_path / "notes.txt")})
    api.script("MARKER-READER", Reply("Reading.", Usage(10, 5), tool=read), Reply("Read it."))
    outcome, _ = await run(backend, run_context(item, reader, tmp_path))
    assert outcome.ok, outcome.error
    first, second = api.conversation("MARKER-READER")
    assert tools_of(first.body) >= DEFAULT_TOOLS
    assert "NOTES-CONTENT" in second.text  # the file was read, not refused


async def test_mcp_servers_and_hooks_run_only_when_agreed_to(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path
) -> None:
    item = write_plugin(tmp_path / "market")
    flags = tmp_path / "market" / "flags"
    api.script(GP, Reply("Done.", Usage(10, 5)))
    outcome, reporter = await run(backend, run_context(item, general(item), tmp_path / "a"))
    assert outcome.ok, outcome.error
    assert "it@m's MCP servers and hooks are left out" in reporter.text
    assert list(flags.iterdir()) == []

    agreed = item.model_copy(update={"extras_trusted": True})
    (tmp_path / "b").mkdir()
    outcome, reporter = await run(backend, run_context(agreed, general(agreed), tmp_path / "b"))
    assert outcome.ok, outcome.error
    assert "left out" not in reporter.text
    assert (flags / "hook").exists() and (flags / "mcp").exists()


async def test_a_stream_cut_and_retried_is_written_once(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path
) -> None:
    item = write_plugin(tmp_path / "market")
    cut = Reply("ALPHA BETA GAMMA DELTA", Usage(10, 5), cut_after=2)
    api.script(GP, cut, Reply("FULL answer after retry", Usage(10, 5)))
    outcome, reporter = await run(backend, run_context(item, general(item), tmp_path))
    assert outcome.ok and outcome.output == "FULL answer after retry", outcome.error
    assert "ALPHA" not in reporter.text and reporter.text.count("FULL answer") == 1


async def test_a_silent_api_fails_the_agent_after_the_stall_time(
    api: FakeAnthropic, tmp_path: Path
) -> None:
    item = write_plugin(tmp_path / "market")
    api.script(GP, Reply(stall=threading.Event()))
    home = tmp_path / "home"
    backend = ClaudeBackend(env=offline_env(api, home), stall_seconds=3)
    began = time.monotonic()
    outcome, _ = await run(backend, run_context(item, general(item), tmp_path))
    assert not outcome.ok and outcome.error is not None
    assert outcome.error.startswith("stalled: the Claude API sent nothing for 3 s")
    assert time.monotonic() - began < 30  # not the CLI's own minutes
    assert not cli_processes()


async def test_a_refused_connection_says_so(api: FakeAnthropic, tmp_path: Path) -> None:
    item = write_plugin(tmp_path / "market")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens once it is closed
    env = offline_env(api, tmp_path / "home") | {
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
        "CLAUDE_CODE_MAX_RETRIES": "0",
    }
    outcome, _ = await run(ClaudeBackend(env=env), run_context(item, general(item), tmp_path))
    assert outcome.error is not None and "(success)" not in outcome.error
    assert outcome.error.startswith("the Claude API could not be reached or did not answer")


async def test_a_rate_limited_agent_says_so_while_it_waits(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path
) -> None:
    item = write_plugin(tmp_path / "market")
    limited = Reply(status=429, error_type="rate_limit_error", retry_after="1")
    api.script(GP, limited, Reply("Got through.", Usage(10, 5)))
    outcome, reporter = await run(backend, run_context(item, general(item), tmp_path))
    assert outcome.ok and outcome.output == "Got through.", outcome.error
    assert "rate limited, retrying in 1s" in reporter.steps


async def test_an_isolated_home_keeps_claude_codes_files_in_it(
    api: FakeAnthropic, tmp_path: Path
) -> None:
    item = write_plugin(tmp_path / "market")
    home, config = tmp_path / "home", tmp_path / "cowork-home" / "data" / "claude"
    home.mkdir()
    env = {k: v for k, v in offline_env(api, home).items() if k != "CLAUDE_CONFIG_DIR"}
    api.script(GP, Reply("Done.", Usage(10, 5)))
    backend = ClaudeBackend(env=env, config_dir=config)
    outcome, _ = await run(backend, run_context(item, general(item), tmp_path))
    assert outcome.ok, outcome.error
    assert list(home.iterdir()) == []  # no ~/.claude, no ~/.claude.json
    assert (config / ".claude.json").is_file()


INTEROP = Path(__file__).resolve().parents[2] / "shared" / "interop"


@pytest.mark.parametrize(
    ("folder", "ref", "task", "expected"),
    [
        ("knowledge-work-plugins", "finance", "Reconcile the bank account for November",
         "Methodology and best practices for account reconciliation"),
        ("claude-code", "commit-commands", "Commit the staged changes",
         "Current git status: On branch"),  # its !`git status` ran, as it expanded
    ],
    ids=["skills-only", "commands-only"],
)  # fmt: skip
async def test_real_skill_and_command_items_run_through_the_engine(
    api: FakeAnthropic,
    backend: ClaudeBackend,
    tmp_path: Path,
    folder: str,
    ref: str,
    task: str,
    expected: str,
) -> None:
    if not INTEROP.is_dir():
        pytest.fail(f"interop fixtures not found at {INTEROP} (shared/ beside the repo)")
    (item,) = [i for i in load_marketplace(INTEROP / folder).items if i.name == ref]
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)  # for its !`git …`
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "start"], check=True)
    api.script(GP, Reply("Done as the skill says.", Usage(10, 5)))
    request = LaunchRequest(item=item, task=task, backend="claude", cwd=tmp_path)
    async with running_engine(claude=backend) as engine:
        record = await engine.wait(engine.launch(request))
    assert record.state is SessionState.COMPLETED, record.error
    (agent,) = record.agents
    assert agent.agent == GENERAL_PURPOSE and agent.skills
    (turn,) = api.conversation(GP)
    first = json.dumps(turn.body["messages"][0])
    assert expected in first and task in first  # the plugin's own file, expanded, with the task
