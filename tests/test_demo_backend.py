"""The demo backend: a labelled, deterministic, pausable simulation."""

from __future__ import annotations

import anyio
import pytest

from cowork_tui.core.engine.backends.demo import DemoBackend, demo_model
from cowork_tui.core.engine.local import LocalEngine
from cowork_tui.core.models import AgentSpec, AgentState, SessionRecord, SessionState
from tests.engine_support import agent_state, item_of, plan_of, request, step, until

pytestmark = pytest.mark.anyio
ITEM = item_of(
    AgentSpec(name="scanner", description="Scans dependencies for known vulnerabilities"),
    AgentSpec(name="writer", description="Writes the final report", model="haiku"),
)
PLAN = plan_of(step("scanner"), step("writer", after=("scanner",)))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def run_demo(task: str, step_seconds: float = 0.001) -> SessionRecord:
    async with LocalEngine({"demo": DemoBackend(step_seconds=step_seconds)}) as engine:
        req = request(ITEM, PLAN).model_copy(update={"task": task})
        return await engine.wait(engine.launch(req))


def essence(record: SessionRecord) -> list[tuple[str, object, str, str | None]]:
    return [(a.subtask, a.tokens, a.output_preview, a.model) for a in record.agents]


async def test_demo_is_deterministic_for_a_task_and_labelled() -> None:
    first, again, other = [await run_demo(t) for t in ("audit deps", "audit deps", "other")]
    assert essence(first) == essence(again) and essence(first) != essence(other)
    assert first.state is SessionState.COMPLETED and first.cost_usd > 0
    writer = first.agent("writer")
    assert writer is not None and writer.model == "claude-haiku-4-5"
    assert writer.output_preview.startswith("[simulated] writer")
    assert "scanner" in writer.output_preview  # it saw its upstream
    scanner = first.agent("scanner")
    assert scanner is not None and scanner.output_tail[0].startswith("[simulated]")


async def test_demo_pauses_at_its_next_step_and_resumes() -> None:
    async with LocalEngine({"demo": DemoBackend(step_seconds=0.05)}) as engine:
        sid = engine.launch(request(ITEM, PLAN))
        await until(engine, sid, lambda r: agent_state(r, "scanner") is AgentState.RUNNING)
        engine.pause(sid)
        await until(engine, sid, lambda r: r.state is SessionState.PAUSED)
        await anyio.sleep(0.2)  # let a step in flight finish
        frozen = engine.snapshot(sid)
        await anyio.sleep(0.4)  # several steps' worth of time
        assert engine.snapshot(sid).agent("scanner") == frozen.agent("scanner")
        engine.resume(sid)
        record = await engine.wait(sid)
    assert record.state is SessionState.COMPLETED


def test_model_aliases() -> None:
    assert demo_model(None) == "claude-sonnet-4-5"
    assert demo_model("opus") == "claude-opus-4-5"
    assert demo_model("claude-3-5-haiku-20241022") == "claude-3-5-haiku-20241022"
    assert demo_model("gpt-x") == "demo"
