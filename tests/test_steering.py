"""Steering a running agent (DESIGN §4), and rate limits and stalls as states people see: the
REAL bundled Claude Code CLI against the scripted API on 127.0.0.1; command and demo agents
refuse a message, saying why."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from rich.console import Group
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Input

from cowork_tui.core.engine.backends.base import (
    RATE_LIMITED,
    STALLED,
    AgentContext,
    AgentOutcome,
    AgentReporter,
    AgentRun,
    Backend,
)
from cowork_tui.core.engine.backends.claude import ClaudeBackend
from cowork_tui.core.engine.backends.demo import DemoBackend
from cowork_tui.core.engine.backends.select import sdk_installed
from cowork_tui.core.engine.local import LocalEngine
from cowork_tui.core.engine.protocol import Engine, LaunchRequest
from cowork_tui.core.errors import ControlError
from cowork_tui.core.models import (
    AgentSpec,
    AgentState,
    Item,
    SessionRecord,
    SessionState,
)
from cowork_tui.ui.app import CoworkApp
from cowork_tui.ui.commands import CoworkCommands
from cowork_tui.ui.screens.help import KEYS
from cowork_tui.ui.screens.message import MessageScreen
from cowork_tui.ui.screens.monitor import MonitorScreen
from cowork_tui.ui.widgets.agent_panel import AgentPanel
from cowork_tui.ui.widgets.agent_table import AgentTable
from tests.claude_support import Reporter, collect, context, offline_env, spec
from tests.engine_support import (
    Recorder,
    agent_state,
    command,
    item_of,
    plan_of,
    request,
    running_engine,
    solo,
    step,
    until,
)
from tests.fake_anthropic import FakeAnthropic, Reply, Usage
from tests.ui_fixtures import RUNNING, frozen_engine
from tests.ui_support import engine_of, make_app, open_workspace
from tests.ui_support import until as ui_until

pytestmark = pytest.mark.anyio
needs_sdk = pytest.mark.skipif(not sdk_installed(), reason="claude-agent-sdk is not installed")
STEER = "STEER-TEXT: look at the tests too"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def claude_session(agent: AgentSpec, cwd: Path) -> LaunchRequest:
    item = Item(name="it", marketplace="tests", agents=(agent,))
    return request(item, plan_of(step("a", agent.name)), backend="claude", cwd=cwd)


def events_of(recorder: Recorder, state: str) -> list[tuple[str, str | None, str | None]]:
    return [(e.kind, e.subtask, e.reason) for e in recorder.events if e.state == state]


async def writing(engine: LocalEngine, sid: str) -> SessionRecord:
    """Once agent `a` runs and has written something (its backend has started it)."""

    def ready(record: SessionRecord) -> bool:
        agent = record.agent("a")
        return agent is not None and agent.state is AgentState.RUNNING and bool(agent.output_tail)

    return await until(engine, sid, ready)


# --- steering ------------------------------------------------------------------------------


@needs_sdk
@pytest.mark.claude
@pytest.mark.parametrize("tool_first", [False, True], ids=["a-turn-of-its-own", "in-the-turn"])
async def test_a_message_reaches_the_agents_next_request(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path, tool_first: bool
) -> None:
    (tmp_path / "notes.txt").write_text("the notes")
    tool = ("Read", {"file_path": str(tmp_path / "notes.txt")}) if tool_first else None
    first = Reply("FIRST-WORDS of an answer", Usage(10, 3), tool=tool, hold=threading.Event())
    api.script("MARKER-S", first, Reply("STEERED-ANSWER", Usage(20, 4)))
    recorder = Recorder()
    agent = spec("a", "You are MARKER-S.", tools=("Read",))
    async with running_engine(recorder, claude=backend) as engine:
        sid = engine.launch(claude_session(agent, tmp_path))
        await anyio.to_thread.run_sync(first.held.wait)  # the model is answering
        await engine.steer(sid, "a", f"  {STEER} ")
        assert first.hold is not None
        first.hold.set()
        final = await engine.wait(sid)
        record = final.agent("a")
        assert record is not None and record.output_path is not None
        output = Path(record.output_path).read_text()  # while the engine keeps its outputs

    assert final.state is SessionState.COMPLETED, final.error
    turns = api.conversation("MARKER-S")
    assert len(turns) == 2
    assert STEER not in turns[0].text
    assert STEER in turns[1].text  # the next request carries it
    assert "STEERED-ANSWER" in final.summary
    if not tool_first:  # two turns: the answer is both of theirs
        assert "FIRST-WORDS" in final.summary
    assert events_of(recorder, "steer") == [("control", "a", STEER)]
    assert f"[you] {STEER}\n" in output


async def test_command_and_demo_agents_say_they_cannot_be_steered(tmp_path: Path) -> None:
    recorder = Recorder()
    slow_demo = DemoBackend(step_seconds=30)
    async with running_engine(recorder, demo=slow_demo) as engine:
        scripted = engine.launch(solo("echo started; exec sleep 30"))
        await writing(engine, scripted)
        with pytest.raises(ControlError, match=r"a command agent runs a program.*be steered"):
            await engine.steer(scripted, "a", "hello")
        with pytest.raises(ControlError, match="has no subtask 'nope'"):
            await engine.steer(scripted, "nope", "hello")
        engine.cancel(scripted)

        model = AgentSpec(name="a", model="sonnet", system_prompt="You help.")
        demo = engine.launch(request(item_of(model), plan_of(step("a")), backend="demo"))
        await writing(engine, demo)
        with pytest.raises(ControlError, match=r"a demo agent is a simulation.*cannot be steered"):
            await engine.steer(demo, "a", "hello")
        with pytest.raises(ControlError, match="the message is empty"):
            await engine.steer(demo, "a", "   ")
        engine.pause(demo, "a")
        with pytest.raises(ControlError, match="agent a is PAUSED: only a running agent"):
            await engine.steer(demo, "a", "hello")
        engine.cancel(demo)
        for sid in (scripted, demo):
            final = await engine.wait(sid)
            assert "[you]" not in "".join(final.agents[0].output_tail)
    assert not events_of(recorder, "steer")


# --- rate limits and stalls ---------------------------------------------------------------


@needs_sdk
@pytest.mark.claude
async def test_a_rate_limited_agent_says_so_then_succeeds(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path
) -> None:
    limited = Reply(status=429, error_type="rate_limit_error", error_message="slow down")
    api.script("MARKER-R", limited, Reply("Answered after the wait.", Usage(10, 5)))
    recorder = Recorder()
    async with running_engine(recorder, claude=backend) as engine:
        sid = engine.launch(claude_session(spec("a", "You are MARKER-R."), tmp_path))
        final = await engine.wait(sid)

    assert final.state is SessionState.COMPLETED, final.error
    assert "Answered after the wait." in final.summary
    [(kind, subtask, reason)] = events_of(recorder, RATE_LIMITED)
    assert (kind, subtask) == ("agent", "a")
    assert reason is not None and reason.startswith("rate limited, retrying in ")


@needs_sdk
@pytest.mark.claude
async def test_a_silent_api_shows_the_agent_stalled_before_it_would_fail(
    api: FakeAnthropic, tmp_path: Path
) -> None:
    silence = threading.Event()
    api.script("MARKER-Q", Reply(stall=silence), Reply("Back again.", Usage(10, 5)))
    home = tmp_path / "home"
    home.mkdir()
    backend = ClaudeBackend(env=offline_env(api, home), stall_seconds=60, stall_warn_seconds=1)
    recorder = Recorder()
    async with running_engine(recorder, claude=backend) as engine:
        sid = engine.launch(claude_session(spec("a", "You are MARKER-Q."), tmp_path))

        def stalled(record: SessionRecord) -> bool:
            agent = record.agent("a")
            return agent is not None and agent.step.startswith(STALLED)

        shown = await until(engine, sid, stalled, timeout=30)  # long before stall_seconds
        assert agent_state(shown, "a") is AgentState.RUNNING  # a warning: it still runs
        silence.set()  # the held request ends unanswered: the CLI asks again, and is answered
        final = await engine.wait(sid)

    assert final.state is SessionState.COMPLETED, final.error
    assert "Back again." in final.summary
    stall = "stalled: no output, no API traffic for 1 s"
    assert events_of(recorder, STALLED) == [("agent", "a", stall)]


async def test_the_claude_run_tells_its_reporter_of_a_stall(
    api: FakeAnthropic, tmp_path: Path
) -> None:
    """The backend's side alone: the notice, once per silence, the agent going on."""
    silence = threading.Event()
    api.script("MARKER-Q", Reply(stall=silence), Reply("Back again.", Usage(10, 5)))
    home = tmp_path / "home"
    home.mkdir()
    backend = ClaudeBackend(env=offline_env(api, home), stall_seconds=60, stall_warn_seconds=1)
    reporter = Reporter()
    run = await backend.start(context(spec("a", "You are MARKER-Q."), tmp_path), reporter)
    outcomes: list[AgentOutcome] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(collect, run.wait, outcomes)
        with anyio.fail_after(30):
            await reporter.noticed.wait()
        assert not outcomes
        silence.set()
    [outcome] = outcomes
    assert outcome.ok, outcome.error
    assert reporter.notices == [(STALLED, "stalled: no output, no API traffic for 1 s")]


# --- the monitor's `m` ---------------------------------------------------------------------


class SteerableBackend(Backend):
    """In-process stand-ins for Claude agents: they take messages and end when told to."""

    name = "claude"

    def __init__(self) -> None:
        self.steered: list[str] = []
        self.got = anyio.Event()
        self.release = anyio.Event()

    async def start(self, ctx: AgentContext, reporter: AgentReporter) -> AgentRun:
        return _SteerableRun(self, reporter)


class _SteerableRun(AgentRun):
    def __init__(self, backend: SteerableBackend, reporter: AgentReporter) -> None:
        self._backend, self._reporter = backend, reporter

    async def wait(self) -> AgentOutcome:
        self._reporter.output("working\n")
        await self._backend.release.wait()
        return AgentOutcome(ok=True, output="done")

    async def pause(self) -> None:
        pass

    async def resume(self) -> None:
        pass

    async def stop(self) -> None:
        self._backend.release.set()

    async def steer(self, text: str) -> None:
        self._backend.steered.append(text)
        self._backend.got.set()


def model_session(backend: str) -> LaunchRequest:
    model = AgentSpec(name="a", model="sonnet", system_prompt="You help.")
    return request(item_of(model), plan_of(step("a")), backend=backend, cwd=Path.cwd())


def notes(app: CoworkApp) -> str:
    return "\n".join(n.message for n in app._notifications)


async def focus_writing_agent(app: CoworkApp, pilot: Pilot[Any]) -> tuple[Engine, str]:
    """Focus agent `a` of the app's one session once it runs and has written something."""
    engine = await engine_of(app)
    (sid,) = [s.id for s in engine.snapshots()]

    def ready() -> bool:
        agent = engine.snapshot(sid).agent("a")
        return agent is not None and agent.state is AgentState.RUNNING and bool(agent.output_tail)

    await ui_until(engine, ready)
    app.poll_now()
    await pilot.pause()
    await pilot.press("tab")
    assert isinstance(app.focused, AgentPanel)
    return engine, sid


async def test_m_sends_a_message_to_the_focused_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = open_workspace(tmp_path, monkeypatch)
    steerable = SteerableBackend()
    backends = workspace.backends() | {"claude": steerable}
    monkeypatch.setattr(workspace, "backends", lambda: backends)
    app = make_app(workspace, launch=model_session("claude"))
    async with app.run_test(size=(120, 40)) as pilot:
        engine, sid = await focus_writing_agent(app, pilot)
        palette = [str(hit.text) async for hit in CoworkCommands(app.screen).discover()]
        assert "Message agent" in palette
        assert "| | `m` | message the focused Claude agent" in KEYS
        await pilot.press("m")
        dialog = app.screen
        assert isinstance(dialog, MessageScreen)
        dialog.query_one(Input).value = "look at the tests too"
        await pilot.press("enter")
        with anyio.fail_after(10):
            await steerable.got.wait()
        await pilot.pause()
        assert steerable.steered == ["look at the tests too"]
        assert isinstance(app.screen, MonitorScreen)
        assert "Sent to a: it reads it at its next turn" in notes(app)
        agent = engine.snapshot(sid).agent("a")
        assert agent is not None and "[you] look at the tests too" in agent.output_tail

        await pilot.press("m", "escape")  # escape sends nothing
        assert isinstance(app.screen, MonitorScreen) and len(steerable.steered) == 1
        steerable.release.set()
        await engine.wait(sid)


@pytest.mark.parametrize(
    ("backend", "why"),
    [
        ("command", "Agent a is a command agent: only a running Claude agent can be steered"),
        ("demo", "Agent a is simulated (demo backend): only a running Claude agent can be"),
    ],
)
async def test_m_on_an_agent_that_cannot_take_a_message_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str, why: str
) -> None:
    workspace = open_workspace(tmp_path, monkeypatch)
    slow = workspace.backends() | {"demo": DemoBackend(step_seconds=30)}
    monkeypatch.setattr(workspace, "backends", lambda: slow)
    if backend == "command":
        script = command("a", "echo started; exec sleep 30")
        launch = request(item_of(script), plan_of(step("a")), cwd=Path.cwd())
    else:
        launch = model_session("demo")
    app = make_app(workspace, launch=launch)
    async with app.run_test(size=(120, 40)) as pilot:
        engine, sid = await focus_writing_agent(app, pilot)
        await pilot.press("m")
        assert isinstance(app.screen, MonitorScreen)  # no dialog
        assert why in notes(app)
        engine.cancel(sid)
        await engine.wait(sid)


def step_line(panel: AgentPanel) -> Text:
    """The panel's step line (the third of a full panel's)."""
    shown = panel.render()
    assert isinstance(shown, Group)
    line = shown.renderables[2]
    assert isinstance(line, Text)
    return line


async def test_rate_limited_and_stalled_agents_stand_out_in_panels_and_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limited, stalled = "rate limited, retrying in 5s", "stalled: no output, no API traffic for 20 s"
    first, second, merge = RUNNING.agents
    agents = (
        first.model_copy(update={"state": AgentState.RUNNING, "step": limited}),
        second.model_copy(update={"step": stalled}),
        merge,
    )
    record = RUNNING.model_copy(update={"agents": agents})
    workspace = open_workspace(tmp_path, monkeypatch)
    app = make_app(workspace, engine_factory=frozen_engine(record))
    async with app.run_test(size=(120, 40)) as pilot:
        await engine_of(app)
        await pilot.press("2")
        await pilot.pause()
        panels = list(app.screen.query(AgentPanel))
        steps = [step_line(panel) for panel in panels[:2]]
        assert [(s.plain, s.style) for s in steps] == [
            (f"▸ {limited}", "bold yellow"),
            (f"▸ {stalled}", "bold yellow"),
        ]
        await pilot.press("v")
        await pilot.pause()
        table = app.screen.query_one(AgentTable)
        cells = [
            table.get_cell(subtask, "step") for subtask in ("security", "correctness", "merge")
        ]
        assert [(c.plain, c.style) for c in cells] == [
            (limited, "bold yellow"),
            (stalled, "bold yellow"),
            ("", ""),
        ]


@needs_sdk
@pytest.mark.claude
async def test_a_message_to_an_agent_then_paused_waits_for_the_resume(
    api: FakeAnthropic, backend: ClaudeBackend, tmp_path: Path
) -> None:
    first = Reply("FIRST-WORDS of an answer", Usage(10, 3), hold=threading.Event())
    taken = Reply("STEERED-WORDS of an answer", Usage(10, 3), hold=threading.Event())
    api.script("MARKER-P", first, taken, Reply("AFTER-RESUME", Usage(20, 4)))
    async with running_engine(claude=backend) as engine:
        sid = engine.launch(claude_session(spec("a", "You are MARKER-P."), tmp_path))
        await anyio.to_thread.run_sync(first.held.wait)
        await engine.steer(sid, "a", STEER)
        engine.pause(sid)  # before Claude Code has taken the message
        await until(engine, sid, lambda r: r.state is SessionState.PAUSED)
        # Claude Code takes it in a turn of its own as the paused one ends: that one is
        # interrupted too, and nothing ends while the session is paused
        await anyio.to_thread.run_sync(taken.held.wait)
        for reply in (first, taken):
            assert reply.hold is not None
            reply.hold.set()
        paused = engine.snapshot(sid)
        assert (paused.state, agent_state(paused, "a")) == (SessionState.PAUSED, AgentState.PAUSED)
        engine.resume(sid)
        final = await engine.wait(sid)

    assert final.state is SessionState.COMPLETED, final.error
    turns = api.conversation("MARKER-P")
    assert STEER in turns[1].text  # the model read it
    assert all(STEER in turn.text for turn in turns[1:])  # and it stays in the conversation
