"""The engine contract of DESIGN §4 and §7, the same tests on both engines (§8): in process, and
on Temporal with a real dev server and a `cowork-tui worker` in another process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from cowork_tui.core.engine.protocol import Engine
from cowork_tui.core.errors import ControlError
from cowork_tui.core.models import AgentState, SessionState
from cowork_tui.core.procs import group_members, is_stopped
from tests.engine_support import (
    GRACE,
    Recorder,
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
from tests.temporal_support import DevServer, dev_server, worker  # noqa: F401 (fixtures)

pytestmark = pytest.mark.anyio
A, S = AgentState, SessionState
OpenEngine = Callable[..., contextlib.AbstractAsyncContextManager[Engine]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["local", "temporal"])
def open_engine(request: pytest.FixtureRequest) -> OpenEngine:
    """Opens the engine under test: `async with open_engine(recorder) as engine`."""
    if request.param == "local":
        return running_engine
    request.getfixturevalue("worker")  # a worker serves the dev server's task queue
    server: DevServer = request.getfixturevalue("dev_server")

    @asynccontextmanager
    async def temporal(recorder: Recorder | None = None) -> AsyncIterator[Engine]:
        from cowork_tui.core.engine.temporal.client import TemporalEngine

        async with TemporalEngine(
            server.settings(), recorder=recorder, grace_seconds=GRACE, poll_seconds=0.05
        ) as engine:
            yield engine

    return temporal


def printed_pid(record: Any, subtask: str = "a") -> int:
    line = agent_line(record, subtask)
    assert line is not None
    return int(line)


async def test_parallel_cap_holds_exactly(open_engine: OpenEngine, tmp_path: Path) -> None:
    log = tmp_path / "log"
    script = f"echo start >> {log}; sleep 0.3; echo end >> {log}"
    agents = [command(f"a{i}", script) for i in range(7)]
    req = request(item_of(*agents), plan_of(*(step(a.name) for a in agents)), max_parallel=3)
    async with open_engine() as engine:
        record = await engine.wait(engine.launch(req))
    assert record.state is S.COMPLETED and not record.partial
    running = peak = 0
    for line in log.read_text().split():
        running += 1 if line == "start" else -1
        peak = max(peak, running)
    assert peak == 3


async def test_failing_agent_leaves_siblings_running_and_session_partial(
    open_engine: OpenEngine,
) -> None:
    item = item_of(command("bad", "echo oops >&2; exit 4"), command("good", "sleep 0.2; echo fine"))
    async with open_engine() as engine:
        record = await engine.wait(engine.launch(request(item, plan_of(step("bad"), step("good")))))
    assert record.state is S.COMPLETED and record.partial
    assert agent_state(record, "good") is A.SUCCEEDED
    bad = record.agent("bad")
    assert bad is not None and bad.state is A.FAILED and bad.error == "exit code 4: oops"
    assert record.failed_subtasks == ("bad",)
    assert "\n- FAILED: bad" in record.summary


async def test_dependent_of_failed_subtask_is_skipped(open_engine: OpenEngine) -> None:
    item = item_of(command("bad", "exit 1"), command("next", "cat"), command("ok", "echo ok"))
    plan = plan_of(step("bad"), step("ok"), step("next", after=("bad",)))
    async with open_engine() as engine:
        record = await engine.wait(engine.launch(request(item, plan)))
    assert agent_state(record, "next") is A.SKIPPED
    assert record.state is S.COMPLETED and record.partial
    assert set(record.failed_subtasks) == {"bad", "next"}


async def test_upstream_output_feeds_the_merge(open_engine: OpenEngine) -> None:
    item = item_of(command("a", "echo found A"), command("b", "echo found B"))
    plan = plan_of(step("a"), step("b"), step("merge", after=("a", "b"), merge=True))
    async with open_engine() as engine:
        record = await engine.wait(engine.launch(request(item, plan)))
    assert record.state is S.COMPLETED and not record.partial
    assert "## a\n\nfound A" in record.summary and "## b\n\nfound B" in record.summary


async def test_hanging_agent_ignoring_sigterm_times_out_within_timeout_and_grace(
    open_engine: OpenEngine,
) -> None:
    req = solo("trap '' TERM; echo $$; sleep 30", timeout=0.5)
    async with open_engine() as engine:
        record = await engine.wait(engine.launch(req))
    agent = record.agent("a")
    assert agent is not None and agent.state is A.TIMED_OUT and agent.pgid is not None
    assert agent.error == "timed out after 0.5 s"
    assert not group_members(agent.pgid)
    assert agent.duration_s is not None and agent.duration_s < 0.5 + GRACE + 5  # not the 30 s
    assert record.state is S.FAILED


async def test_grandchild_holding_stdout_does_not_hang_the_agent(open_engine: OpenEngine) -> None:
    async with open_engine() as engine:
        record = await engine.wait(engine.launch(solo("sleep 30 & echo $!")))
    agent = record.agent("a")
    assert agent is not None and agent.state is A.SUCCEEDED
    assert gone(int(agent.output_preview)) and agent.pgid and not group_members(agent.pgid)


async def test_a_process_that_left_its_group_does_not_outlive_the_session(
    open_engine: OpenEngine,
) -> None:
    async with open_engine() as engine:
        record = await engine.wait(engine.launch(solo("setsid sleep 30 & echo $!")))
    agent = record.agent("a")
    assert agent is not None and agent.state is A.SUCCEEDED
    await reach([int(agent.output_preview)], gone)  # on Temporal, its worker ends it after


async def test_no_grandchild_survives_cancel(open_engine: OpenEngine) -> None:
    script = "sh -c 'sleep 30 & echo $!; wait' ; wait"  # a grandchild of the agent's shell
    async with open_engine() as engine:
        sid = engine.launch(solo(script))
        running = await until(engine, sid, lambda r: agent_line(r, "a") is not None)
        grandchild = printed_pid(running)
        engine.cancel(sid)
        record = await engine.wait(sid)
    assert record.state is S.CANCELLED and gone(grandchild)


async def test_pause_really_stops_processes_and_resume_continues(open_engine: OpenEngine) -> None:
    script = "echo $$; sleep 30 & wait"  # a child in the same group
    item = item_of(command("a", script), command("b", "echo later"))
    async with open_engine() as engine:
        sid = engine.launch(request(item, plan_of(step("a"), step("b")), max_parallel=1))
        running = await until(engine, sid, lambda r: agent_line(r, "a") is not None)
        pgid = printed_pid(running)
        with anyio.fail_after(10):  # the shell has started its child
            while len(group_members(pgid)) < 2:
                await anyio.sleep(0.01)
        engine.pause(sid)
        paused = await until(engine, sid, lambda r: r.state is S.PAUSED)
        members = group_members(pgid)
        assert len(members) == 2
        await reach(members, is_stopped)  # PAUSED once every process is stopped
        assert agent_state(paused, "a") is A.PAUSED and agent_state(paused, "b") is A.QUEUED
        engine.resume(sid)
        await until(engine, sid, lambda r: agent_state(r, "a") is A.RUNNING)
        await reach(members, lambda pid: not is_stopped(pid))
        engine.cancel(sid, "a")  # one agent's cancel: b still runs
        record = await engine.wait(sid)
    assert agent_state(record, "a") is A.CANCELLED and agent_state(record, "b") is A.SUCCEEDED
    assert record.state is S.COMPLETED and record.partial and not group_members(pgid)


async def test_cancel_while_paused_ends_cancelled_and_kills_grandchildren(
    open_engine: OpenEngine,
) -> None:
    recorder = Recorder()
    script = "sleep 30 & echo $!; wait"  # prints the grandchild's pid
    item = item_of(command("a", script), command("b", "cat"))
    plan = plan_of(step("a"), step("b", after=("a",)))
    async with open_engine(recorder) as engine:
        sid = engine.launch(request(item, plan))
        running = await until(engine, sid, lambda r: agent_line(r, "a") is not None)
        grandchild = printed_pid(running)
        engine.pause(sid)
        await until(engine, sid, lambda r: r.state is S.PAUSED)
        engine.cancel(sid)
        record = await engine.wait(sid)
    assert record.state is S.CANCELLED  # never stuck in CANCELLING
    assert agent_state(record, "a") is A.CANCELLED and agent_state(record, "b") is A.CANCELLED
    assert gone(grandchild)
    # the intent is recorded before anything is killed
    kinds = [
        (e.kind, e.state) for e, of in zip(recorder.events, recorder.of, strict=True) if of == sid
    ]
    assert kinds.index(("control", "cancel")) < kinds.index(("agent", "CANCELLED"))
    assert recorder.session_states(sid)[-2:] == ["CANCELLING", "CANCELLED"]


async def test_pause_longer_than_a_timeout_times_nothing_out(open_engine: OpenEngine) -> None:
    req = solo("echo $$; sleep 1; echo finished", timeout=2.0)
    async with open_engine() as engine:
        sid = engine.launch(req)
        running = await until(engine, sid, lambda r: agent_line(r, "a") is not None)
        engine.pause(sid)
        await until(engine, sid, lambda r: r.state is S.PAUSED)
        await reach([printed_pid(running)], is_stopped)
        await anyio.sleep(2.5)  # paused for longer than the whole timeout
        engine.resume(sid)
        record = await engine.wait(sid)
    agent = record.agent("a")
    assert agent is not None and agent.state is A.SUCCEEDED, agent
    assert "finished" in agent.output_preview


async def test_cancel_racing_the_last_completion_ends_in_one_terminal_state(
    open_engine: OpenEngine,
) -> None:
    outcomes = set()
    for turn in range(12):
        recorder = Recorder()
        async with open_engine(recorder) as engine:
            sid = engine.launch(solo("true" if turn % 2 else "sleep 0.05"))
            if turn % 3:
                await until(engine, sid, lambda r: r.state is S.RUNNING or r.state.terminal)
            with contextlib.suppress(ControlError):  # it ended already: nothing to cancel
                engine.cancel(sid)
            record = await engine.wait(sid)
        terminal = [s for s in recorder.session_states(sid) if S(s).terminal]
        assert terminal == [record.state.value]
        assert record.state in (S.CANCELLED, S.COMPLETED)
        outcomes.add(record.state)
    assert S.CANCELLED in outcomes


async def test_controls_on_ended_sessions_are_refused_with_one_error(
    open_engine: OpenEngine,
) -> None:
    async with open_engine() as engine:
        sid = engine.launch(solo("echo done"))
        record = await engine.wait(sid)
        for control in (engine.pause, engine.resume, engine.cancel):
            with pytest.raises(ControlError, match=f"session {sid} is COMPLETED: cannot"):
                control(sid)
            with pytest.raises(ControlError, match="is COMPLETED"):
                control(sid, "a")
        with pytest.raises(ControlError, match="no session"):
            engine.pause("nope")
        assert engine.snapshot(sid) == record
