"""The real engine recording into the archive: what ran is what is stored, as it runs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import anyio

from cowork_tui.core.archive.store import Archive
from cowork_tui.core.engine.backends.command import CommandBackend
from cowork_tui.core.engine.backends.demo import DemoBackend
from cowork_tui.core.engine.local import LocalEngine
from cowork_tui.core.models import AgentState, SessionState

from .engine_support import GRACE, command, item_of, plan_of, request, step


def alive(pid: int) -> bool:
    """A process that is neither gone nor a zombie (killed, waiting for init to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def engine_for(archive: Archive, outputs: Path) -> LocalEngine:
    return LocalEngine(
        {"command": CommandBackend(), "demo": DemoBackend(step_seconds=0.01)},
        recorder=archive,
        grace_seconds=GRACE,
        outputs_dir=outputs,
    )


def test_a_finished_session_is_archived_as_the_engine_saw_it(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive.sqlite3")
    launch = request(
        item_of(command("a", "echo alpha output"), command("b", "cat; echo beta")),
        plan_of(step("a"), step("b", after=("a",))),
        cwd=tmp_path,
    )

    async def main() -> str:
        async with engine_for(archive, tmp_path / "outputs") as engine:
            session_id = engine.launch(launch)
            final = await engine.wait(session_id)
        assert archive.get(session_id).to_json() == final.to_json()
        return session_id

    session_id = anyio.run(main)
    record = archive.get(session_id)
    assert record.state is SessionState.COMPLETED
    path = Path(record.agents[0].output_path or "")
    assert archive.output_sha256(session_id, "a") == hashlib.sha256(path.read_bytes()).hexdigest()
    log = [(e.kind, e.subtask, e.state) for e in archive.events(session_id)]
    assert log[0] == ("session", None, "INITIALIZING") and log[-1] == ("session", None, "COMPLETED")
    assert ("agent", "b", "SUCCEEDED") in log
    assert [s.id for s in archive.list_sessions(search="beta")] == [session_id]


def test_shutdown_while_running_archives_interrupted_with_no_process_left(
    tmp_path: Path,
) -> None:
    archive = Archive(tmp_path / "archive.sqlite3")
    launch = request(
        item_of(command("slow", "sleep 60 & echo $! > pid; wait")), plan_of(step("slow")),
        cwd=tmp_path,
    )  # fmt: skip

    async def main() -> str:
        async with engine_for(archive, tmp_path / "outputs") as engine:
            session_id = engine.launch(launch)
            version = 0
            while not (tmp_path / "pid").exists() or not (tmp_path / "pid").read_text():
                with anyio.move_on_after(0.05):
                    version = await engine.changed(version)
            assert archive.get(session_id).agents[0].state is AgentState.RUNNING
            await engine.shutdown()
        return session_id

    session_id = anyio.run(main)
    record = archive.get(session_id)
    assert (record.state, record.error) == (SessionState.INTERRUPTED, "app shutdown")
    assert record.agents[0].state is AgentState.INTERRUPTED
    assert not alive(int((tmp_path / "pid").read_text()))
    assert archive.recover() == []
