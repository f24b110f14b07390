"""Engine controls of DESIGN §4: pause, resume, cancel — session-wide and per agent."""

from __future__ import annotations

import anyio
import pytest

from cowork_tui.core.errors import ControlError
from cowork_tui.core.models import AgentSpec, AgentState, Item, Plan, SessionRecord, SessionState
from cowork_tui.core.procs import is_stopped
from tests.engine_support import (
    GatedBackend,
    agent_line,
    agent_state,
    command,
    gone,
    item_of,
    plan_of,
    reach,
    request,
    running_engine,
    solo,
    step,
    until,
)

pytestmark = pytest.mark.anyio
A, S = AgentState, SessionState
SLEEPER = "echo $$; sleep 30"  # prints its pid (= its pgid), then hangs


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def printed_pid(record: object, subtask: str = "a") -> int:
    line = agent_line(record, subtask)  # type: ignore[arg-type]
    assert line is not None
    return int(line)


async def test_cancel_during_planning_spawns_nothing() -> None:
    planning = anyio.Event()
    gated = GatedBackend()

    async def slow_planner(item: Item, session: SessionRecord) -> Plan:
        planning.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    item = item_of(AgentSpec(name="m"))
    async with running_engine(gated=gated) as engine:
        engine._planner = slow_planner  # the planner this test controls
        sid = engine.launch(request(item, backend="gated"))
        await planning.wait()
        assert engine.snapshot(sid).state is S.PLANNING
        engine.cancel(sid)
        assert engine.snapshot(sid).state is S.CANCELLED  # at once
        record = await engine.wait(sid)
    assert record.state is S.CANCELLED and not record.agents and gated.started == []


async def test_cancel_right_after_launch_spawns_nothing() -> None:
    gated = GatedBackend()
    item = item_of(AgentSpec(name="m"))
    async with running_engine(gated=gated) as engine:
        sid = engine.launch(request(item, plan_of(step("m")), backend="gated"))
        engine.cancel(sid)
        record = await engine.wait(sid)
    assert record.state is S.CANCELLED and gated.started == []


async def test_pause_before_dispatch_is_held_until_resume() -> None:
    gated = GatedBackend()
    item = item_of(AgentSpec(name="m"))
    async with running_engine(gated=gated) as engine:
        sid = engine.launch(request(item, plan_of(step("m")), backend="gated"))
        engine.pause(sid)
        await until(engine, sid, lambda r: r.state is S.PAUSED)
        assert gated.started == []
        engine.resume(sid)
        await until(engine, sid, lambda r: agent_state(r, "m") is A.RUNNING)
        gated.release.set()
        record = await engine.wait(sid)
    assert record.state is S.COMPLETED and gated.started == ["m"]


async def test_nothing_new_starts_while_paused() -> None:
    gated = GatedBackend()
    item = item_of(AgentSpec(name="m"))
    plan = plan_of(step("first", "m"), step("second", "m", after=("first",)))
    async with running_engine(gated=gated) as engine:
        sid = engine.launch(request(item, plan, backend="gated"))
        await until(engine, sid, lambda r: agent_state(r, "first") is A.RUNNING)
        engine.pause(sid)
        gated.release.set()  # "first" ends while the session is paused
        await until(engine, sid, lambda r: (agent_state(r, "first") or A.PENDING).terminal)
        await until(engine, sid, lambda r: r.state is S.PAUSED)
        for _ in range(10):
            await anyio.lowlevel.checkpoint()
        assert gated.started == ["first"]
        engine.resume(sid)
        record = await engine.wait(sid)
    assert gated.started == ["first", "second"] and record.state is S.COMPLETED


async def test_a_control_shows_at_once_in_process() -> None:
    script = "sleep 30 & echo $!; wait"
    async with running_engine() as engine:
        sid = engine.launch(solo(script))
        running = await until(engine, sid, lambda r: agent_line(r, "a") is not None)
        engine.pause(sid)
        assert engine.snapshot(sid).state is S.PAUSING
        await until(engine, sid, lambda r: r.state is S.PAUSED)
        engine.resume(sid)
        assert engine.snapshot(sid).state is S.RUNNING
        engine.cancel(sid)
        assert engine.snapshot(sid).state is S.CANCELLING
        record = await engine.wait(sid)
        assert engine.snapshot(sid) is record  # unchanged: the same snapshot
    assert gone(printed_pid(running))


async def test_controls_are_idempotent() -> None:
    async with running_engine() as engine:
        sid = engine.launch(solo(SLEEPER))
        await until(engine, sid, lambda r: agent_line(r, "a") is not None)
        engine.resume(sid)  # no-op while running
        engine.pause(sid)
        engine.pause(sid)
        await until(engine, sid, lambda r: r.state is S.PAUSED)
        engine.resume(sid)
        engine.resume(sid)
        assert engine.snapshot(sid).state is S.RUNNING
        engine.cancel(sid)
        engine.cancel(sid)
        engine.pause(sid)  # no-op while cancelling
        record = await engine.wait(sid)
    assert record.state is S.CANCELLED


async def test_per_agent_pause_resume_and_unknown_subtask() -> None:
    item = item_of(command("a", SLEEPER), command("b", "echo b"))
    async with running_engine() as engine:
        sid = engine.launch(request(item, plan_of(step("a"), step("b"))))
        running = await until(engine, sid, lambda r: agent_line(r, "a") is not None)
        engine.pause(sid, "a")
        await until(engine, sid, lambda r: agent_state(r, "b") is A.SUCCEEDED)
        with pytest.raises(ControlError, match="agent b is SUCCEEDED: cannot pause it"):
            engine.pause(sid, "b")
        await reach([printed_pid(running)], is_stopped)
        assert engine.snapshot(sid).agent("a").state is A.PAUSED  # type: ignore[union-attr]
        engine.resume(sid, "a")
        assert engine.snapshot(sid).agent("a").state is A.RUNNING  # type: ignore[union-attr]
        with pytest.raises(ControlError, match="no subtask 'zzz'"):
            engine.cancel(sid, "zzz")
        engine.cancel(sid)
        record = await engine.wait(sid)
    assert record.state is S.CANCELLED and gone(printed_pid(running))


async def test_cancelling_a_pending_agent_skips_its_dependents() -> None:
    item = item_of(command("a", SLEEPER), command("b", "cat"), command("c", "cat"))
    plan = plan_of(step("a"), step("b", after=("a",)), step("c", after=("b",)))
    async with running_engine() as engine:
        sid = engine.launch(request(item, plan))
        await until(engine, sid, lambda r: agent_line(r, "a") is not None)
        engine.cancel(sid, "b")
        assert engine.snapshot(sid).agent("b").state is A.CANCELLED  # type: ignore[union-attr]
        engine.cancel(sid, "a")
        record = await engine.wait(sid)
    states = {a.subtask: a.state for a in record.agents}
    assert states == {"a": A.CANCELLED, "b": A.CANCELLED, "c": A.SKIPPED}
    assert record.state is S.FAILED  # nothing succeeded


async def test_cancelling_the_merge_keeps_the_finished_work() -> None:
    item = item_of(command("a", "echo found A"), command("b", "echo found B"),
                   command("join", "sleep 30"))  # fmt: skip
    plan = plan_of(step("a"), step("b"), step("join", after=("a", "b"), merge=True))
    async with running_engine() as engine:
        sid = engine.launch(request(item, plan))
        await until(engine, sid, lambda r: agent_state(r, "join") is AgentState.RUNNING)
        engine.cancel(sid, "join")
        record = await engine.wait(sid)
    assert record.state is SessionState.COMPLETED and record.partial  # not FAILED
    assert [agent_state(record, s) for s in ("a", "b", "join")] == [
        AgentState.SUCCEEDED, AgentState.SUCCEEDED, AgentState.CANCELLED,
    ]  # fmt: skip
    assert "found A" in record.summary and "found B" in record.summary
