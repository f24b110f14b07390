"""Session budgets (DESIGN §4): at its cost cap a session pauses, nothing killed, nothing new
started; a raised budget lets it go on; headless `run` cancels it (exit 4); a Claude agent gets
what is left as the SDK's `max_budget_usd`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from cowork_tui.core.engine.backends.base import AgentContext, AgentReporter, AgentRun, Backend
from cowork_tui.core.engine.backends.claude_options import ClaudeSetup, agent_options
from cowork_tui.core.engine.backends.command import CommandBackend
from cowork_tui.core.errors import ControlError
from cowork_tui.core.models import CoworkDefaults, SessionState
from cowork_tui.core.procs import is_stopped

from .claude_support import context, spec
from .engine_support import (
    Recorder,
    agent_line,
    command,
    item_of,
    plan_of,
    request,
    running_engine,
    step,
    until,
)
from .marketplaces import cli, prepared_home

pytestmark = pytest.mark.anyio

S = SessionState
HALF = "::usage 500000 0 haiku"  # $0.50 more, at haiku's $1 per million input tokens


def costly(gate: Path) -> str:
    """An agent that spends $0.50, waits for `gate`, then spends $0.50 more."""
    return (
        f"echo $$; echo '{HALF}'; while [ ! -e '{gate}' ]; do sleep 0.02; done; "
        f"echo '{HALF}'; echo done"
    )


def four_dollars(gate: Path) -> tuple[Any, Any]:
    """a and b in parallel, then c and d: $1 each, $4 in all."""
    agents = [command(name, costly(gate)) for name in "abcd"]
    plan = plan_of(step("a"), step("b"), step("c", after=("a", "b")), step("d", after=("a", "b")))
    return item_of(*agents), plan


async def test_the_budget_pauses_the_session_and_a_raised_one_lets_it_finish(
    tmp_path: Path,
) -> None:
    gate = tmp_path / "go"
    item, plan = four_dollars(gate)
    recorder = Recorder()
    async with running_engine(recorder) as engine:
        sid = engine.launch(request(item, plan, max_parallel=4, budget_usd=1.0))
        paused = await until(engine, sid, lambda r: r.state is S.PAUSED)
        assert paused.paused_reason == "budget" and paused.budget_usd == 1.0
        assert paused.cost_usd == pytest.approx(1.0)
        pids = [int(agent_line(paused, sub) or 0) for sub in "ab"]
        assert all(is_stopped(pid) for pid in pids)  # stopped, not killed
        assert all(paused.agent(sub).started_at is None for sub in "cd")  # type: ignore[union-attr]
        assert any(e.reason == "budget: $1.00 reached" for e in recorder.events)

        with pytest.raises(ControlError, match="raise the budget first"):
            engine.resume(sid)
        with pytest.raises(ControlError, match="not more than"):
            engine.set_budget(sid, 0.75)
        engine.set_budget(sid, 10.0)
        engine.resume(sid)
        gate.touch()
        done = await engine.wait(sid)
    assert done.state is S.COMPLETED and not done.partial
    assert done.paused_reason is None and done.budget_usd == 10.0
    assert done.cost_usd == pytest.approx(4.0)


async def test_a_user_pause_says_so_and_no_budget_never_pauses(tmp_path: Path) -> None:
    gate = tmp_path / "go"
    item, plan = four_dollars(gate)
    async with running_engine() as engine:
        sid = engine.launch(request(item, plan, max_parallel=4))
        await until(engine, sid, lambda r: r.cost_usd >= 1.0)
        engine.pause(sid)
        paused = await until(engine, sid, lambda r: r.state is S.PAUSED)
        assert paused.paused_reason == "user"
        engine.resume(sid)
        gate.touch()
        done = await engine.wait(sid)
    assert done.state is S.COMPLETED and done.cost_usd == pytest.approx(4.0)


class _Capturing(Backend):
    """Command agents whose contexts are kept."""

    name = "command"

    def __init__(self) -> None:
        self.contexts: dict[str, AgentContext] = {}
        self._inner = CommandBackend()

    async def start(self, ctx: AgentContext, reporter: AgentReporter) -> AgentRun:
        self.contexts[ctx.subtask.id] = ctx
        return await self._inner.start(ctx, reporter)


async def test_an_agent_is_told_what_is_left_of_the_budget(tmp_path: Path) -> None:
    capturing = _Capturing()
    item = item_of(command("a", f"echo '{HALF}'"), command("b", "echo b"))
    plan = plan_of(step("a"), step("b", after=("a",)))
    async with running_engine(command=capturing) as engine:
        sid = engine.launch(request(item, plan, budget_usd=2.0))
        done = await engine.wait(sid)
    assert done.state is S.COMPLETED
    assert capturing.contexts["a"].budget_left_usd == pytest.approx(2.0)
    assert capturing.contexts["b"].budget_left_usd == pytest.approx(1.5)


def test_a_claude_agent_gets_max_budget_usd(tmp_path: Path) -> None:
    ctx = dataclasses.replace(context(spec("writer"), tmp_path), budget_left_usd=0.42)
    options = agent_options(ctx, ClaudeSetup(), lambda line: None)
    assert options.max_budget_usd == pytest.approx(0.42)
    unbounded = agent_options(context(spec("writer"), tmp_path), ClaudeSetup(), lambda _: None)
    assert unbounded.max_budget_usd is None


def test_the_item_default_is_read_as_budget_usd() -> None:
    defaults = CoworkDefaults.model_validate_json('{"budgetUsd": 2}', strict=True)
    assert defaults.budget_usd == 2.0


# --- headless `run` ---------------------------------------------------------------------------

HEADLESS: dict[str, dict[str, Any]] = {
    "four-dollars": {
        "agents": {name: {"command": costly(Path("never-there"))} for name in "abcd"},
        "cowork": {
            "maxParallelAgents": 4,
            "workflow": [
                {"id": "a", "agent": "a"},
                {"id": "b", "agent": "b"},
                {"id": "c", "agent": "c", "after": ["a", "b"]},
                {"id": "d", "agent": "d", "after": ["a", "b"]},
            ],
        },
    },
    "capped": {
        "agents": {"solo": {"command": "echo fine"}},
        "cowork": {"budgetUsd": 2.5},
    },
    "uncapped": {"agents": {"solo": {"command": "echo fine"}}},
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = prepared_home(tmp_path_factory, HEADLESS)
    with (home / "config" / "config.toml").open("a") as config:
        config.write("budget_usd = 7\n")
    return home


def run_json(home: Path, cwd: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli(home, "run", *args, "--json", cwd=cwd)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_headless_run_cancels_at_the_budget_and_exits_4(home: Path, tmp_path: Path) -> None:
    code, record = run_json(home, tmp_path, "four-dollars", "the task", "--budget", "1.00")
    assert code == 4
    assert record["state"] == "CANCELLED" and record["paused_reason"] == "budget"
    assert record["budget_usd"] == 1.0 and "budget: $1.00 reached" in record["error"]
    assert record["cost_usd"] == pytest.approx(1.0)
    assert {a["subtask"]: a["started_at"] is None for a in record["agents"]} == {
        "a": False, "b": False, "c": True, "d": True,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("item", "flags", "budget"),
    [
        ("capped", ["--budget", "$3"], 3.0),  # the flag over the item's default
        ("capped", [], 2.5),  # the item's default over the config's
        ("uncapped", [], 7.0),  # the config's
    ],
)
def test_budget_precedence_flag_item_config(
    home: Path, tmp_path: Path, item: str, flags: list[str], budget: float
) -> None:
    code, record = run_json(home, tmp_path, item, "the task", *flags)
    assert code == 0 and record["budget_usd"] == budget


def test_a_bad_budget_is_a_usage_error(home: Path, tmp_path: Path) -> None:
    result = cli(home, "run", "uncapped", "the task", "--budget", "-1", cwd=tmp_path)
    assert result.returncode == 2 and "--budget" in result.stderr
