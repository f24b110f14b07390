"""Resume (DESIGN §4): an INTERRUPTED session continues under its id; what succeeded keeps its
result and does not run again, the rest runs again, and what the first run spent still counts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from cowork_tui.core.archive.store import Archive
from cowork_tui.core.clock import utcnow
from cowork_tui.core.engine.backends.command import CommandBackend
from cowork_tui.core.engine.local import LocalEngine
from cowork_tui.core.engine.protocol import LaunchRequest
from cowork_tui.core.engine.resume import check_resumable
from cowork_tui.core.errors import InputError
from cowork_tui.core.models import AgentState, SessionRecord, SessionState
from tests.engine_support import command, item_of, plan_of, step, until

pytestmark = pytest.mark.anyio
A, S = AgentState, SessionState


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


ITEM = item_of(
    command("first", "echo ran >> first.log; echo '::usage 7 3 m'; echo FIRST-RESULT"),
    command(
        "second",
        "cat > second.in; echo ran >> second.log; echo started; [ -e go ] || sleep 30; echo OK",
    ),
    command("joiner", "cat > merge.in; echo merged"),
)
PLAN = plan_of(
    step("first"),
    step("second", after=("first",)),
    step("join", "joiner", after=("first", "second"), merge=True),
)


async def interrupted(cwd: Path, outputs: Path) -> SessionRecord:
    """A session interrupted (the app quit) while `second` ran, `first` done."""
    async with LocalEngine({"command": CommandBackend()}, outputs_dir=outputs) as engine:
        request = LaunchRequest(item=ITEM, task="t", plan=PLAN, cwd=cwd, backend="command")
        sid = engine.launch(request)
        await until(
            engine, sid, lambda r: (a := r.agent("second")) is not None and bool(a.output_tail)
        )
        await engine.shutdown("app quit")
        return engine.snapshot(sid)


async def test_a_resumed_session_runs_only_what_did_not_succeed(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    before = await interrupted(tmp_path, outputs)
    assert before.state is S.INTERRUPTED
    assert [a.state for a in before.agents] == [A.SUCCEEDED, A.INTERRUPTED, A.INTERRUPTED]
    (tmp_path / "go").touch()
    check_resumable(before, ITEM)
    async with LocalEngine({"command": CommandBackend()}, outputs_dir=outputs) as engine:
        request = LaunchRequest(
            item=ITEM, task="t", plan=before.plan, cwd=tmp_path, backend="command", resumed=before
        )
        sid = engine.launch(request)
        after = await engine.wait(sid)
    assert sid == before.id and after.state is S.COMPLETED, after.error
    assert len(after.resumed_at) == 1 and after.started_at == before.started_at
    assert (tmp_path / "first.log").read_text() == "ran\n"  # not run again
    assert (tmp_path / "second.log").read_text() == "ran\nran\n"
    assert "FIRST-RESULT" in (tmp_path / "second.in").read_text()  # fed downstream as before
    assert "FIRST-RESULT" in (tmp_path / "merge.in").read_text()
    kept = (
        "state",
        "started_at",
        "ended_at",
        "tokens",
        "cost_usd",
        "output_path",
        "output_preview",
    )
    first, earlier = after.agent("first"), before.agent("first")
    assert first is not None and earlier is not None
    assert first.model_dump(include=set(kept)) == earlier.model_dump(include=set(kept))
    assert after.tokens.input == 7 and after.summary == "merged"


async def test_what_resumes_is_only_an_interrupted_session_that_still_fits(
    tmp_path: Path,
) -> None:
    before = await interrupted(tmp_path, tmp_path / "outputs")
    done = before.model_copy(update={"state": S.COMPLETED})
    with pytest.raises(InputError, match="is COMPLETED: only an INTERRUPTED session resumes"):
        check_resumable(done, ITEM)
    changed = item_of(*ITEM.agents[:2])  # "joiner" is gone
    with pytest.raises(InputError, match="changed since it ran, its plan no longer fits"):
        check_resumable(before, changed)
    async with LocalEngine({"command": CommandBackend()}, outputs_dir=tmp_path / "o") as engine:
        request = LaunchRequest(item=ITEM, task="t", plan=PLAN, cwd=tmp_path, backend="command")
        sid = engine.launch(request)
        with anyio.fail_after(20):
            running = await until(engine, sid, lambda r: r.state is S.RUNNING)
        again = LaunchRequest(item=ITEM, task="t", cwd=tmp_path, backend="command", resumed=running)
        with pytest.raises(InputError, match="is running already"):
            engine.launch(again)
        engine.cancel(sid)


def test_what_a_crash_leaves_keeps_the_active_time_until_the_last_record_and_the_budget(
    tmp_path: Path,
) -> None:
    archive = Archive(tmp_path / "archive.sqlite3")
    now = utcnow()
    running = SessionRecord(
        id="s1", item="i", marketplace="m", task="t", state=S.RUNNING, started_at=now,
        active_s=2.0, active_since=now - timedelta(seconds=10), budget_usd=1.5,
        paused_reason="budget",
    )  # fmt: skip
    archive.record(running)
    stored = archive.get("s1")
    assert stored.active_s is not None and stored.active_s >= 12.0  # 2 s before, 10 s since
    assert (stored.budget_usd, stored.paused_reason) == (1.5, "budget")  # a resume keeps its cap
    archive.close()
