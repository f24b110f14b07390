"""Controls on Temporal are workflow updates with validators (DESIGN §8): a refused one is the
engine's ControlError, in the same words, and writes no history."""

from __future__ import annotations

import pytest

from cowork_tui.core.engine.lifecycle import Control
from cowork_tui.core.engine.temporal.shapes import ControlInput
from tests.engine_support import GRACE, agent_line, solo, until
from tests.temporal_support import DevServer, dev_server, worker  # noqa: F401 (fixtures)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.usefixtures("worker")
async def test_a_refused_update_is_a_control_error_and_writes_no_history(
    dev_server: DevServer,  # noqa: F811
) -> None:
    from temporalio.client import WorkflowUpdateFailedError

    from cowork_tui.core.engine.temporal.client import TemporalEngine
    from cowork_tui.core.engine.temporal.connection import connect

    settings = dev_server.settings()
    client = await connect(settings)
    async with TemporalEngine(settings, grace_seconds=GRACE, poll_seconds=0.05) as engine:
        sid = engine.launch(solo("echo $$; sleep 30"))
        await until(engine, sid, lambda r: agent_line(r, "a") is not None)
        handle = client.get_workflow_handle(sid)
        before = len((await handle.fetch_history()).events)
        refused = ControlInput(control=Control.PAUSE, subtask="zzz")
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await handle.execute_update("control", refused)
        cause = caught.value.cause
        assert getattr(cause, "type", None) == "ControlError"
        assert getattr(cause, "message", None) == f"session {sid} has no subtask 'zzz'"
        assert len((await handle.fetch_history()).events) == before
        engine.cancel(sid)
        record = await engine.wait(sid)
    assert record.state.value == "CANCELLED"
