"""The claude backend, end to end: the REAL bundled Claude Code CLI against a scripted Messages
API on 127.0.0.1 (tests/fake_anthropic.py). Unit checks of its pure parts come first."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import anyio
import pytest

from cowork_tui.core.engine.backends.base import (
    AgentOutcome,
    BackendUnavailable,
    Upstream,
)
from cowork_tui.core.engine.backends.claude import ClaudeBackend
from cowork_tui.core.engine.backends.claude_options import agent_input, model_option, tool_names
from cowork_tui.core.engine.backends.claude_usage import UsageMeter
from cowork_tui.core.engine.backends.select import (
    claude_credentials,
    resolve_backend,
    sdk_installed,
)
from cowork_tui.core.engine.protocol import LaunchRequest
from cowork_tui.core.models import AgentState, Item, Plan, SessionState, Subtask, Tokens
from cowork_tui.core.pricing import Price, PriceTable
from tests.claude_support import Reporter, alive, cli_processes, collect, context, spec
from tests.engine_support import running_engine
from tests.fake_anthropic import FakeAnthropic, Reply, Usage

pytestmark = pytest.mark.anyio
needs_sdk = pytest.mark.skipif(not sdk_installed(), reason="claude-agent-sdk is not installed")
SONNET = "claude-sonnet-5-5"  # what the bundled CLI resolves the "sonnet" alias to


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- pure parts --------------------------------------------------------------------------


def test_model_aliases_and_inherit() -> None:
    assert model_option(None) is None
    assert model_option("inherit", "haiku") == "haiku"
    assert model_option(" sonnet ") == "sonnet"
    assert model_option("claude-opus-5-5") == "claude-opus-5-5"


def test_tools_are_the_declared_ones_only() -> None:
    tools = ("Read", "Bash(git log:*)", "Bash(git diff:*)", " ")
    assert tool_names(tools, skills=False) == ["Read", "Bash"]
    assert tool_names(tools, skills=True) == ["Read", "Bash", "Skill"]
    assert tool_names((), skills=False) == []
    assert tool_names(None, skills=True) is None  # no `tools:` line: Claude Code's defaults


def test_agent_input_carries_every_upstream_result(tmp_path: Path) -> None:
    ctx = context(
        spec("coordinator"),
        tmp_path,
        prompt="Combine the findings",
        upstream=(
            Upstream("scan", "scanner", "found a leaked key"),
            Upstream("lint", "linter", "two unused imports", output_path=tmp_path / "lint.txt"),
        ),
    )
    text = agent_input(ctx)
    assert text.startswith("Combine the findings")
    assert "## scan (agent scanner)\n\nfound a leaked key" in text
    assert "## lint (agent linter)\n\ntwo unused imports" in text
    assert "the task at hand" in text  # the session task, since the prompt does not hold it


def test_meter_counts_stream_then_trusts_the_result() -> None:
    meter = UsageMeter()
    usage = {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 4}
    meter.on_stream_event({"type": "message_start", "message": {"usage": usage}})
    meter.on_stream_event({"type": "message_delta", "usage": {"output_tokens": 7}})
    meter.on_stream_event({"type": "message_stop"})
    assert meter.live_tokens() == Tokens(input=10, output=7, cache_read=4)
    model_usage = {SONNET: {"inputTokens": 10, "outputTokens": 8, "costUSD": 0.5}}
    meter.on_result(model_usage, 0.5)
    assert meter.live_tokens() == Tokens(input=10, output=8)
    assert meter.cost_usd() == 0.5
    priced = (10 * 2 + 8 * 10) / 1e6  # the price table's figure: the CLI's differs
    assert meter.settle(PriceTable()) == (0.5, "claude-cli", f"Claude Code's prices; "
                                          f"the price table's: ${priced:.6f}")  # fmt: skip
    mine = PriceTable({"sonnet": Price(input=100, output=100, cache_read=1, cache_write=1)})
    note = f"config.toml prices for {SONNET}; Claude Code's own: $0.500000"
    cost, source, said = meter.settle(mine)
    assert cost == pytest.approx(18 * 100 / 1e6) and (source, said) == ("pricing", note)
    both = {SONNET: {"inputTokens": 10, "costUSD": 0.5}, "claude-haiku-5-5": {"costUSD": 0.25}}
    meter.on_result(both, 0.75)  # only sonnet is the user's: haiku keeps Claude Code's cost
    assert meter.settle(mine)[0] == pytest.approx(10 * 100 / 1e6 + 0.25)


def test_auto_picks_claude_only_with_credentials(tmp_path: Path) -> None:
    assert resolve_backend("demo", {}, tmp_path) == ("demo", None)
    assert claude_credentials({}, tmp_path) is None
    name, notice = resolve_backend("auto", {}, tmp_path)
    if sdk_installed():
        assert name == "demo" and notice is not None
        assert "no credentials" in notice and "simulated" in notice
        assert resolve_backend("auto", {"ANTHROPIC_API_KEY": "k"}, tmp_path) == ("claude", None)
        (tmp_path / ".claude").mkdir()
        (tmp_path / ".claude" / ".credentials.json").write_text("{}")
        assert resolve_backend("auto", {}, tmp_path) == ("claude", None)
    else:
        assert name == "demo" and notice is not None and "cowork-tui[claude]" in notice


async def test_missing_sdk_is_a_clear_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "claude_agent_sdk", None)  # import fails
    with pytest.raises(BackendUnavailable, match=r"pip install 'cowork-tui\[claude\]'"):
        await ClaudeBackend().start(context(spec("a"), tmp_path), Reporter())


# --- the real CLI against the scripted API --------------------------------------------------


@needs_sdk
@pytest.mark.claude
async def test_agent_succeeds_with_the_api_usage_priced_right(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("the notes say hello")
    first, second = Usage(1200, 45, 3000, 800), Usage(1500, 60, 4000, 0)
    api.script(
        "MARKER-SCAN",
        Reply(
            "Reading the notes.", first, tool=("Read", {"file_path": str(tmp_path / "notes.txt")})
        ),
        Reply("The notes say hello.", second),
    )
    reporter = Reporter()
    ctx = context(spec("scanner", "You are MARKER-SCAN.", tools=("Read",)), tmp_path)
    outcome = await (await backend.start(ctx, reporter)).wait()

    assert outcome.ok, outcome.error
    assert outcome.output == "The notes say hello."
    expected = Tokens(input=2700, output=105, cache_read=7000, cache_write=800)
    tokens, model, cost = reporter.usages[-1]
    assert (tokens, model) == (expected, SONNET)
    assert cost == pytest.approx(PriceTable().cost(SONNET, expected), rel=1e-9)
    assert (outcome.cost_source, outcome.cost_note) == ("claude-cli", None)
    assert {"writing…", "using Read"} <= set(reporter.steps)
    assert "Reading the notes." in reporter.text and "The notes say hello." in reporter.text

    turns = api.conversation("MARKER-SCAN")
    assert len(turns) == 2
    tools = [t["name"] for t in turns[0].body["tools"]]
    assert [t for t in tools if t != "DeferredToolPlaceholder"] == ["Read"]  # the declared one
    assert turns[0].body["messages"][0]["content"].startswith("do scanner")
    assert "the notes say hello" in turns[1].text  # the tool really ran, in the session cwd


@needs_sdk
@pytest.mark.claude
async def test_coordinator_request_carries_both_upstream_findings(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path
) -> None:
    api.script("MARKER-SCAN", Reply("FINDING-1: a leaked key in config.py", Usage(100, 20)))
    api.script("MARKER-LINT", Reply("FINDING-2: two unused imports", Usage(120, 25, 10, 5)))
    api.script("MARKER-LEAD", Reply("Report: fix the key, drop the imports", Usage(300, 40)))
    item = Item(
        name="review",
        marketplace="tests",
        agents=(
            spec("scanner", "You are MARKER-SCAN."),
            spec("linter", "You are MARKER-LINT.", model="haiku"),
            spec("coordinator", "You are MARKER-LEAD."),
        ),
    )
    plan = Plan(
        pattern="fan-out-fan-in",
        subtasks=(
            Subtask(id="scan", agent="scanner", prompt="scan it"),
            Subtask(id="lint", agent="linter", prompt="lint it"),
            Subtask(
                id="report",
                agent="coordinator",
                prompt="report",
                after=("scan", "lint"),
                merge=True,
            ),
        ),
    )
    request = LaunchRequest(item=item, task="review", plan=plan, backend="claude", cwd=tmp_path)
    async with running_engine(claude=backend) as engine:
        final = await engine.wait(engine.launch(request))

    assert final.state is SessionState.COMPLETED and not final.partial, final.error
    lead = api.conversation("MARKER-LEAD")
    assert len(lead) == 1
    assert "FINDING-1: a leaked key" in lead[0].text and "FINDING-2: two unused" in lead[0].text
    assert "Report: fix the key" in final.summary
    lint = final.agent("lint")
    assert lint is not None and lint.model == "claude-haiku-5-5"
    assert lint.tokens == Tokens(input=120, output=25, cache_read=10, cache_write=5)
    assert lint.cost_usd == pytest.approx(PriceTable().cost("claude-haiku-5-5", lint.tokens))
    total = sum((a.tokens for a in final.agents), Tokens())
    assert total == Tokens(input=520, output=85, cache_read=10, cache_write=5)
    assert final.cost_usd == pytest.approx(sum(a.cost_usd for a in final.agents))
    assert all(a.state is AgentState.SUCCEEDED for a in final.agents)
    assert all(a.cost_source == "claude-cli" for a in final.agents)


@needs_sdk
@pytest.mark.claude
async def test_pause_then_resume_continues_the_same_conversation(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path
) -> None:
    hold = threading.Event()
    first = Reply("PARTIAL-WORDS of an answer", Usage(100, 7), hold=hold)
    api.script("MARKER-A", first, Reply("The full answer.", Usage(200, 30, 50)))
    reporter = Reporter()
    run = await backend.start(context(spec("a", "You are MARKER-A."), tmp_path), reporter)
    outcomes: list[AgentOutcome] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(collect, run.wait, outcomes)
        await reporter.writing.wait()  # the CLI has streamed the first words to us
        await run.pause()
        hold.set()
        assert not outcomes  # paused, not ended
        await run.resume()
    [outcome] = outcomes

    assert outcome.ok, outcome.error
    assert outcome.output == "PARTIAL-WORDS\n\nThe full answer."  # all it said, both turns
    turns = api.conversation("MARKER-A")
    assert len(turns) == 2
    resumed = turns[1]
    roles = [m["role"] for m in resumed.body["messages"]]
    assert roles[0] == "user" and "assistant" in roles
    assert resumed.body["messages"][0]["content"].startswith("do a")  # the original prompt
    assert "PARTIAL-WORDS" in resumed.text and "continue" in resumed.text
    session = "X-Claude-Code-Session-Id"
    assert resumed.headers[session] == turns[0].headers[session]
    tokens, _, cost = reporter.usages[-1]
    assert tokens.input == 300 and tokens.cache_read == 50  # both requests counted, once
    assert cost == pytest.approx(PriceTable().cost(SONNET, tokens), rel=1e-9)


@needs_sdk
@pytest.mark.claude
async def test_cancel_leaves_no_cli_process(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path
) -> None:
    first = Reply("Working on it for a long time", Usage(10, 2), hold=threading.Event())
    api.script("MARKER-A", first)
    run = await backend.start(context(spec("a", "You are MARKER-A."), tmp_path), Reporter())
    outcomes: list[AgentOutcome] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(collect, run.wait, outcomes)
        await anyio.to_thread.run_sync(first.held.wait)
        clis = cli_processes()
        assert clis, "the CLI should be running"
        await run.stop()
    assert not outcomes[0].ok and outcomes[0].error == "cancelled"
    assert not [pid for pid in clis if alive(pid)]


@needs_sdk
@pytest.mark.claude
@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [
        (400, "invalid_request_error", "Claude API error (HTTP 400): "),
        (429, "rate_limit_error", "rate limited by the Claude API (HTTP 429): "),
    ],
)
async def test_api_errors_are_clear_failures(
    api: FakeAnthropic,
    backend: ClaudeBackend,
    tmp_path: Path,
    status: int,
    kind: str,
    expected: str,
) -> None:
    api.script("MARKER-A", Reply(status=status, error_type=kind, error_message="SCRIPTED-REASON"))
    run = await backend.start(context(spec("a", "You are MARKER-A."), tmp_path), Reporter())
    outcome = await run.wait()
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.startswith(expected) and "SCRIPTED-REASON" in outcome.error
    assert "Traceback" not in outcome.error


@needs_sdk
@pytest.mark.claude
async def test_no_credentials_or_no_cli_are_clear_failures(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path
) -> None:
    no_key = {**backend.setup.env, "ANTHROPIC_API_KEY": "", "ANTHROPIC_AUTH_TOKEN": ""}
    run = await ClaudeBackend(env=no_key).start(context(spec("a"), tmp_path), Reporter())
    outcome = await run.wait()
    assert outcome.error is not None and outcome.error.startswith("no valid Claude credentials")
    assert "ANTHROPIC_API_KEY" in outcome.error
    assert not api.requests  # nothing was sent without a key

    missing = ClaudeBackend(env=backend.setup.env, cli_path=tmp_path / "no-such-claude")
    outcome = await (await missing.start(context(spec("a"), tmp_path), Reporter())).wait()
    assert outcome.error is not None and outcome.error.startswith("Claude Code CLI not found")
    assert "pip install 'cowork-tui[claude]'" in outcome.error


@needs_sdk
@pytest.mark.claude
async def test_max_turns_ends_cleanly(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path
) -> None:
    loop = Reply("Again.", Usage(10, 3), tool=("Read", {"file_path": str(tmp_path / "none")}))
    api.script("MARKER-A", loop)
    agent = spec("a", "You are MARKER-A.", tools=("Read",), max_turns=2)
    reporter = Reporter()
    outcome = await (await backend.start(context(agent, tmp_path), reporter)).wait()
    assert not outcome.ok
    assert outcome.error == "stopped at its turn limit (max_turns=2) before finishing"
    assert reporter.usages[-1][0].input == 10 * len(api.conversation("MARKER-A"))
    assert not cli_processes()
