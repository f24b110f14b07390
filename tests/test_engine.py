"""Engine reliability cases of DESIGN §7 (lifecycle, cap, failures, timeouts, output size)."""

from __future__ import annotations

import sqlite3
import tracemalloc
from pathlib import Path

import anyio
import pytest

from cowork_tui.core.engine.backends.base import Backend
from cowork_tui.core.engine.backends.command import CommandBackend
from cowork_tui.core.engine.backends.demo import DemoBackend
from cowork_tui.core.engine.local import LocalEngine
from cowork_tui.core.engine.protocol import LaunchRequest
from cowork_tui.core.errors import InputError
from cowork_tui.core.models import (
    AgentSpec,
    AgentState,
    Plan,
    SessionEvent,
    SessionRecord,
    SessionState,
)
from tests.engine_support import (
    GRACE,
    GatedBackend,
    Recorder,
    agent_line,
    command,
    gone,
    item_of,
    plan_of,
    request,
    running_engine,
    solo,
    step,
    until,
)

pytestmark = pytest.mark.anyio
A, S = AgentState, SessionState


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_every_subtask_failing_fails_the_session() -> None:
    async with running_engine() as engine:
        record = await engine.wait(engine.launch(solo("exit 1")))
    assert record.state is S.FAILED and record.error == "every subtask failed"


async def test_output_that_cannot_be_written_fails_the_agent_saying_why(tmp_path: Path) -> None:
    blocked = tmp_path / "outputs"
    blocked.write_text("a file where the outputs folder should be (or a full disk)")
    backends: dict[str, Backend] = {"command": CommandBackend(), "demo": DemoBackend()}
    async with LocalEngine(backends, grace_seconds=GRACE, outputs_dir=blocked) as engine:
        record = await engine.wait(engine.launch(solo("echo hello")))
    (agent,) = record.agents
    assert agent.state is A.FAILED and record.state is S.FAILED
    assert agent.error == (
        f"cannot write: {blocked / record.id / 'a.txt'}: the agent's output could not be "
        "written (Not a directory)"
    )


class FullDisk(Recorder):
    def record(self, session: SessionRecord, event: SessionEvent | None = None) -> None:
        raise sqlite3.OperationalError("database or disk is full")


async def test_an_archive_that_cannot_record_is_said_once_and_the_agents_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running_engine(FullDisk()) as engine:
        record = await engine.wait(engine.launch(solo("echo one; echo two")))
    assert record.state is S.COMPLETED
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.endswith("(OperationalError: database or disk is full)")


@pytest.mark.parametrize(
    ("b", "merge", "why"),
    [("echo b", "exit 3", "m FAILED"), ("exit 3", "cat", "m SKIPPED")],  # skipped: b failed
    ids=["merge-failed", "merge-skipped"],
)
async def test_a_merge_that_did_not_succeed_fails_the_session(b: str, merge: str, why: str) -> None:
    item = item_of(command("a", "echo a"), command("b", b), command("m", merge))
    plan = plan_of(step("a"), step("b"), step("m", after=("a", "b"), merge=True))
    async with running_engine() as engine:
        record = await engine.wait(engine.launch(request(item, plan)))
    assert record.state is S.FAILED and record.error == f"the merge did not succeed ({why})"


async def test_in_process_merge_for_command_items() -> None:
    item = item_of(command("a", "echo alpha"), command("b", "echo beta"))
    plan = plan_of(step("a"), step("b"), step("merge", after=("a", "b"), merge=True))
    async with running_engine() as engine:
        record = await engine.wait(engine.launch(request(item, plan)))
    merge = record.agent("merge")
    assert merge is not None and merge.state is A.SUCCEEDED and merge.tokens.total == 0
    assert record.summary == "## a\n\nalpha\n\n## b\n\nbeta"


async def test_upstream_output_feeds_the_next_agent_through_stdin() -> None:
    # 200 kB: more than the in-memory part, so the file on disk must be streamed
    item = item_of(
        command("make", "head -c 200000 /dev/zero | tr '\\0' x; echo"),
        command("shout", "echo from make; tr x y | wc -c"),
        command("both", "cat | head -c 5"),
    )
    plan = plan_of(step("make"), step("shout", after=("make",)), step("both", after=("make",)))
    async with running_engine() as engine:
        record = await engine.wait(engine.launch(request(item, plan)))
    assert record.agent("shout").output_preview == "from make\n200001\n"  # type: ignore[union-attr]
    assert record.agent("both").output_preview == "xxxxx"  # type: ignore[union-attr]


async def test_command_environment_and_cwd(tmp_path: Path) -> None:
    script = 'echo "$COWORK_TASK|$COWORK_SUBTASK|$COWORK_AGENT|${#COWORK_SESSION_ID}|$PWD"'
    req = solo(script).model_copy(update={"cwd": tmp_path})
    async with running_engine() as engine:
        sid = engine.launch(req)
        record = await engine.wait(sid)
    assert record.agent("a").output_preview == (  # type: ignore[union-attr]
        f"the task|do a|a|{len(sid)}|{tmp_path.resolve()}\n"
    )


async def test_progress_and_usage_lines_are_consumed_and_priced() -> None:
    script = "echo one; echo '::progress 0.5 halfway'; echo '::usage 1000 2000 claude-sonnet-4-5'"
    async with running_engine() as engine:
        record = await engine.wait(engine.launch(solo(script + "; echo two")))
        agent = record.agent("a")
        assert agent is not None and agent.output_path
        assert Path(agent.output_path).read_text() == "one\ntwo\n"  # the full output on disk
    assert agent is not None and agent.output_preview == "one\ntwo\n"
    assert agent.step == "halfway" and agent.progress == 1.0
    assert (agent.tokens.input, agent.tokens.output, agent.model) == (
        1000,
        2000,
        "claude-sonnet-4-5",
    )
    assert agent.cost_source == "pricing" and agent.cost_usd == pytest.approx(0.033)
    assert record.cost_usd == pytest.approx(0.033) and record.tokens.total == 3000


async def test_usage_of_several_models_is_priced_per_model() -> None:
    script = (
        "echo '::usage 1000 2000 claude-sonnet-4-5'; echo '::usage 1000 0 claude-opus-4-5'; "
        "echo '::usage 99999999999999999999 1 claude-opus-4-5'; echo '::usage -5 3'"
    )  # the last two are impossible counts: dropped
    async with running_engine() as engine:
        record = await engine.wait(engine.launch(solo(script)))
    agent = record.agent("a")
    assert agent is not None and agent.state is AgentState.SUCCEEDED
    assert (agent.tokens.input, agent.tokens.output) == (2000, 2000)
    # sonnet 4.5: $3 in / $15 out per million; opus 4.5: $5 in
    assert agent.cost_usd == pytest.approx(0.033 + 0.005)


async def test_timeouts_apply_to_every_backend() -> None:
    item = item_of(AgentSpec(name="slow", timeout=0.2))
    req = request(item, plan_of(step("slow")), backend="gated")
    async with running_engine(gated=GatedBackend()) as engine:
        record = await engine.wait(engine.launch(req))
    assert record.agent("slow").state is A.TIMED_OUT  # type: ignore[union-attr]


async def test_an_escaped_process_gets_sigterm_first(tmp_path: Path) -> None:
    flag = tmp_path / "terminated"
    daemon = f"trap 'touch {flag}; exit' TERM; while :; do sleep 0.05; done"
    async with running_engine() as engine:
        # the agent waits until its child has left the group: then only the session's end can
        await engine.wait(
            engine.launch(solo(f'setsid sh -c "{daemon}" >/dev/null 2>&1 & sleep 0.5'))
        )
    assert flag.exists()  # it could clean up


@pytest.mark.parametrize(
    ("script", "lines"),
    [
        ("yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 100000000", 100_000_000),
        ("head -c 10000000 /dev/zero | tr '\\0' x", 10_000_000),  # one 10 MB line
    ],
    ids=["100MB", "one-10MB-line"],
)
async def test_huge_output_keeps_memory_bounded(script: str, lines: int) -> None:
    tracemalloc.start()
    try:
        async with running_engine() as engine:
            record = await engine.wait(engine.launch(solo(script)))
            agent = record.agent("a")
            assert agent is not None and agent.output_path
            size = Path(agent.output_path).stat().st_size
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert agent.state is A.SUCCEEDED and size == lines
    assert peak < 8_000_000, f"peak Python memory {peak:,} B"
    assert len(agent.output_preview) <= 2000 and all(len(x) <= 400 for x in agent.output_tail)


async def test_planner_is_used_when_no_plan_is_given() -> None:
    item = item_of(command("echoer", "echo planned"))
    async with running_engine() as engine:
        record = await engine.wait(engine.launch(request(item)))
    assert record.plan is not None and record.state is S.COMPLETED
    assert record.summary == "planned"


async def test_planning_failure_fails_the_session() -> None:
    item = item_of(command("a", "true"))
    bad_plan = Plan(pattern="single", subtasks=(step("x", agent="nobody"),))
    async with running_engine() as engine:
        empty = await engine.wait(engine.launch(LaunchRequest(item=item, task="  ")))
        unknown = await engine.wait(engine.launch(request(item, bad_plan)))
    assert empty.state is S.FAILED and empty.error == "task: must not be empty"
    assert unknown.state is S.FAILED and "nobody" in (unknown.error or "")
    assert not empty.agents and not unknown.agents


async def test_cyclic_plan_is_refused() -> None:
    item = item_of(command("a", "true"))
    plan = plan_of(step("x", "a", after=("y",)), step("y", "a", after=("x",)))
    async with running_engine() as engine:
        record = await engine.wait(engine.launch(request(item, plan)))
    assert record.state is S.FAILED and "cycle" in (record.error or "")


async def test_unknown_backend_is_an_input_error() -> None:
    async with running_engine() as engine:
        with pytest.raises(InputError, match="unknown backend 'nope'"):
            engine.launch(solo("true").model_copy(update={"backend": "nope"}))


async def test_snapshots_are_versioned_and_recorded() -> None:
    recorder = Recorder()
    async with running_engine(recorder) as engine:
        sid = engine.launch(solo("echo hi"))
        first = engine.snapshot(sid)
        assert engine.snapshot(sid) is first  # nothing changed: the same object
        record = await engine.wait(sid)
    assert record.version > first.version and engine.snapshots() == (record,)
    assert recorder.session_states() == [
        "INITIALIZING",
        "PLANNING",
        "RUNNING",
        "COMPLETING",
        "COMPLETED",
    ]
    agent_states = [e.state for e in recorder.events if e.kind == "agent"]
    assert agent_states == ["QUEUED", "RUNNING", "SUCCEEDED"]
    assert recorder.sessions[-1] == record


async def test_shutdown_interrupts_running_sessions_and_leaves_no_process() -> None:
    recorder = Recorder()
    item = item_of(command("a", "echo $$; sleep 30"), command("b", "echo later"))
    async with running_engine(recorder) as engine:
        sid = engine.launch(request(item, plan_of(step("a"), step("b", after=("a",)))))
        running = await until(engine, sid, lambda r: agent_line(r, "a") is not None)
    record = engine.snapshot(sid)
    assert record.state is S.INTERRUPTED and record.agent("a").state is A.INTERRUPTED  # type: ignore[union-attr]
    waiting = record.agent("b")
    assert waiting is not None and waiting.state is A.INTERRUPTED
    assert waiting.error == "the session was interrupted before it started"
    assert gone(int(agent_line(running, "a") or 0))
    assert recorder.session_states()[-1] == "INTERRUPTED"
    assert [e.reason for e in recorder.events if e.kind == "control"] == ["app shutdown"]


async def test_demo_sessions_run_and_report_costs() -> None:
    item = item_of(AgentSpec(name="reviewer", description="reviews code", model="opus"))
    async with running_engine() as engine:
        record = await engine.wait(engine.launch(request(item, plan_of(step("reviewer")))))
    agent = record.agent("reviewer")
    assert agent is not None and agent.state is A.SUCCEEDED
    assert agent.model == "claude-opus-4-5" and agent.cost_source == "pricing"
    assert agent.cost_usd > 0 and "[simulated]" in agent.output_preview


async def test_launch_needs_a_running_engine() -> None:
    from cowork_tui.core.engine.local import LocalEngine

    with pytest.raises(RuntimeError, match="not running"):
        LocalEngine({}).launch(solo("true"))
    await anyio.lowlevel.checkpoint()


async def test_output_file_is_readable_while_the_agent_runs() -> None:
    async with running_engine() as engine:
        sid = engine.launch(solo("echo early; sleep 30"))
        record = await until(engine, sid, lambda r: agent_line(r, "a") == "early")
        agent = record.agent("a")
        assert agent is not None and agent.output_path
        assert Path(agent.output_path).read_text() == "early\n"
        engine.cancel(sid)
        await engine.wait(sid)
