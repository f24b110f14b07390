"""The Temporal engine's own cases (DESIGN §8), on a real dev server and real `cowork-tui worker`
processes: a worker killed -9 leaves no process and its sessions fail on the next worker; a
session goes on across a server restart; sessions outlive the client that launched them and are
recorded once, by one client; budget, steering and resume as in process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from cowork_tui.core.archive.store import Archive
from cowork_tui.core.config import TemporalSettings
from cowork_tui.core.engine.backends.command import CommandRun
from cowork_tui.core.engine.protocol import LaunchRequest
from cowork_tui.core.engine.temporal.client import TemporalEngine
from cowork_tui.core.engine.temporal.connection import connect
from cowork_tui.core.engine.temporal.shapes import HEARTBEAT_TIMEOUT, View
from cowork_tui.core.engine.temporal.worker import STICKY_TIMEOUT
from cowork_tui.core.errors import ControlError
from cowork_tui.core.models import AgentState, SessionEvent, SessionRecord, SessionState
from cowork_tui.core.procs import is_stopped, session_processes
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
    solo,
    step,
    until,
)
from tests.marketplaces import cli
from tests.temporal_support import (  # noqa: F401 (fixtures, by getfixturevalue)
    DevServer,
    WorkerProcess,
    _own_dev_server,
    _start_worker,
    dev_server,
    worker,
)
from tests.test_archive_temporal import owner_of
from tests.test_budget import four_dollars
from tests.test_resume import ITEM, interrupted

pytestmark = pytest.mark.anyio
A, S = AgentState, SessionState
StartWorker = Callable[[TemporalSettings], WorkerProcess]
WORKER_GRACE = 0.3  # what WorkerProcess configures: its reaper's SIGTERM → SIGKILL
MARGIN = 8.0  # for a noisy machine, on top of what Temporal's timeouts allow


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server(request: pytest.FixtureRequest) -> DevServer:
    """The module's dev server."""
    found: DevServer = request.getfixturevalue("dev_server")
    return found


@pytest.fixture
def served(request: pytest.FixtureRequest, server: DevServer) -> TemporalSettings:
    """The module's dev server, the module's worker serving its task queue."""
    request.getfixturevalue("worker")
    return server.settings()


def temporal(
    settings: TemporalSettings, recorder: Archive | Recorder | None = None
) -> TemporalEngine:
    return TemporalEngine(settings, recorder=recorder, grace_seconds=GRACE, poll_seconds=0.05)


def printed(record: SessionRecord, subtask: str) -> int:
    line = agent_line(record, subtask)
    assert line is not None
    return int(line)


async def found(engine: TemporalEngine, session_id: str, timeout: float = 20) -> SessionRecord:
    """The session once the engine has found it (as it opens, it looks for sessions)."""
    with anyio.fail_after(timeout):
        while not any(record.id == session_id for record in engine.snapshots()):
            await engine.changed(engine.version)
    return engine.snapshot(session_id)


async def workflow_view(settings: TemporalSettings, session_id: str) -> View:
    """The session as its workflow ended it (waits for that): its record and all its events."""
    client = await connect(settings)
    view: View = await client.get_workflow_handle(session_id, result_type=View).result()
    return view


def assert_recorded_once(archive: Archive, view: View) -> None:
    """The archive holds the workflow's events, each once."""
    events: list[SessionEvent] = archive.events(view.record.id)
    assert events == list(view.events)
    states = [e.state for e in events if e.kind == "session"]
    assert len(states) == len(set(states)), states


async def test_a_killed_workers_agents_end_and_its_session_fails_on_the_next_worker(
    server: DevServer, start_worker: StartWorker
) -> None:
    settings = server.settings(task_queue="killed")  # served by these workers alone
    first = start_worker(settings)
    item = item_of(
        command("tree", "sh -c 'sleep 300 & echo $!; wait'"),  # prints a grandchild's pid
        command("stubborn", "trap '' TERM; echo $$; sleep 300"),  # its sleep ignores it too
    )
    async with temporal(settings) as engine:
        sid = engine.launch(request(item, plan_of(step("tree"), step("stubborn"))))
        running = await until(
            engine, sid, lambda r: all(agent_line(r, s) for s in ("tree", "stubborn"))
        )
        processes = session_processes(sid)
        assert {printed(running, "tree"), printed(running, "stubborn")} <= set(processes)
        killed = time.monotonic()
        first.kill()
        await reach(processes, gone, timeout=WORKER_GRACE + MARGIN)  # its reaper ended them
        assert not session_processes(sid)
        start_worker(settings)
        bound = (HEARTBEAT_TIMEOUT + STICKY_TIMEOUT).total_seconds() + MARGIN
        ended = await until(engine, sid, lambda r: r.state.terminal, timeout=bound)
        took = time.monotonic() - killed
    assert ended.state is S.FAILED, ended
    for agent in ended.agents:
        assert agent.state is A.FAILED
        assert agent.error == "its worker was lost (no word from it in time)"
    assert took < bound


async def test_a_session_goes_on_across_a_server_restart_on_the_same_database(
    own_dev_server: DevServer, start_worker: StartWorker
) -> None:
    server, settings = own_dev_server, own_dev_server.settings()  # a server of its own
    start_worker(settings)
    async with temporal(settings) as engine:
        sid = engine.launch(solo("echo started; sleep 3; echo done"))
        await until(engine, sid, lambda r: agent_line(r, "a") == "started")
        server.stop()
        server.start()
        with anyio.fail_after(60):
            record = await engine.wait(sid)
    assert record.state is S.COMPLETED and not record.partial, record
    agent = record.agent("a")
    assert agent is not None and agent.state is A.SUCCEEDED
    assert agent.output_preview.split() == ["started", "done"]


async def launched_and_left(settings: TemporalSettings, path: Path, gate: Path) -> str:
    """A session launched by a client, recording into the archive at `path`, that has then
    ended (its archive closed: its owner gone); the agent runs on until `gate` exists."""
    archive = Archive(path)
    try:
        async with temporal(settings, archive) as engine:
            script = f"echo started; while [ ! -e '{gate}' ]; do sleep 0.02; done; echo released"
            sid = engine.launch(solo(script))
            await until(engine, sid, lambda r: agent_line(r, "a") == "started")
    finally:
        archive.close()
    return sid


async def test_a_session_outlives_its_client_and_one_later_client_records_it(
    served: TemporalSettings, tmp_path: Path
) -> None:
    settings, path, gate = served, tmp_path / "archive.sqlite3", tmp_path / "go"
    sid = await launched_and_left(settings, path, gate)
    adopting, watching = Archive(path), Archive(path)
    async with temporal(settings, adopting) as adopter:
        await found(adopter, sid)  # adopted: it records the session from now on
        async with temporal(settings, watching) as watcher:  # while a second client watches
            for engine in (adopter, watcher):
                running = await found(engine, sid)
                assert running.state is S.RUNNING and agent_state(running, "a") is A.RUNNING
            assert owner_of(path, sid) == adopting.owner.id  # type: ignore[union-attr]
            gate.touch()
            with anyio.fail_after(20):
                ended = [await engine.wait(sid) for engine in (adopter, watcher)]
    assert [record.state for record in ended] == [S.COMPLETED] * 2
    stored = Archive(path, read_only=True).get(sid)
    assert stored.state is S.COMPLETED and stored.engine == "temporal"
    assert_recorded_once(adopting, await workflow_view(settings, sid))


async def test_a_session_that_ended_while_no_client_ran_is_recorded_by_the_next(
    served: TemporalSettings, tmp_path: Path
) -> None:
    settings, path, gate = served, tmp_path / "archive.sqlite3", tmp_path / "go"
    sid = await launched_and_left(settings, path, gate)
    gate.touch()
    view = await workflow_view(settings, sid)
    assert view.record.state is S.COMPLETED
    assert Archive(path, read_only=True).get(sid).state is S.RUNNING  # nobody recorded its end
    archive = Archive(path)
    async with temporal(settings, archive) as engine:
        await found(engine, sid)
        with anyio.fail_after(20):
            await engine.wait(sid)
    stored = archive.get(sid)
    assert stored.state is S.COMPLETED and stored.engine == "temporal"
    assert_recorded_once(archive, view)


def test_run_on_temporal_prints_one_record_and_the_history_shows_it(
    served: TemporalSettings, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    done = cli(
        home, "run", "repo-health", "check", "--json", "--cwd", str(tmp_path),
        "--engine", "temporal", "--temporal-address", served.address,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)  # one record, nothing else
    assert record["engine"] == "temporal" and record["state"] == "COMPLETED"
    shown = cli(home, "history", "show", record["id"], "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == record


async def test_the_budget_pauses_the_session_and_a_raised_one_lets_it_finish(
    served: TemporalSettings, tmp_path: Path
) -> None:
    gate = tmp_path / "go"
    item, plan = four_dollars(gate)
    async with temporal(served) as engine:
        sid = engine.launch(request(item, plan, max_parallel=4, budget_usd=1.0))
        paused = await until(engine, sid, lambda r: r.state is S.PAUSED)
        assert paused.paused_reason == "budget" and paused.budget_usd == 1.0
        assert paused.cost_usd == pytest.approx(1.0)
        await reach([printed(paused, sub) for sub in "ab"], is_stopped)  # stopped, not killed
        assert all(paused.agent(sub).started_at is None for sub in "cd")  # type: ignore[union-attr]
        with pytest.raises(ControlError, match="raise the budget first"):
            engine.resume(sid)
        engine.set_budget(sid, 10.0)
        engine.resume(sid)  # what the TUI does as the budget is raised
        gate.touch()
        with anyio.fail_after(30):
            done = await engine.wait(sid)
    assert done.state is S.COMPLETED and not done.partial, done
    assert done.budget_usd == 10.0 and done.cost_usd == pytest.approx(4.0)


async def test_steering_a_command_agent_is_refused_saying_why(
    served: TemporalSettings,
) -> None:
    recorder = Recorder()
    async with temporal(served, recorder) as engine:
        sid = engine.launch(solo("echo started; exec sleep 30"))
        await until(engine, sid, lambda r: agent_line(r, "a") == "started")
        with pytest.raises(ControlError) as refused:
            await engine.steer(sid, "a", "hello")
        assert str(refused.value) == f"agent a: {CommandRun.cannot_steer}"  # as in process
        engine.cancel(sid)
        await engine.wait(sid)
    assert not [e for e in recorder.events if e.state == "steer"]


async def test_an_interrupted_session_resumes_on_temporal_under_its_id(
    served: TemporalSettings, tmp_path: Path
) -> None:
    before = await interrupted(tmp_path, tmp_path / "outputs")
    assert [a.state for a in before.agents] == [A.SUCCEEDED, A.INTERRUPTED, A.INTERRUPTED]
    archive = Archive(tmp_path / "archive.sqlite3")
    archive.record(before)  # what the app that quit left in its archive
    (tmp_path / "go").touch()
    resumed = LaunchRequest(
        item=ITEM, task="t", plan=before.plan, cwd=tmp_path, backend="command", resumed=before
    )
    async with temporal(served, archive) as engine:
        assert engine.launch(resumed) == before.id
        with anyio.fail_after(30):
            after = await engine.wait(before.id)
    assert after.state is S.COMPLETED and not after.partial, after
    stored = archive.get(before.id)
    assert stored.state is S.COMPLETED and stored.engine == "temporal"
    assert len(stored.resumed_at) == 1 and stored.started_at == before.started_at
    assert (tmp_path / "first.log").read_text() == "ran\n"  # not run again
    assert (tmp_path / "second.log").read_text() == "ran\nran\n"
    assert "FIRST-RESULT" in (tmp_path / "merge.in").read_text()  # its kept result fed on


def test_a_namespace_the_server_lacks_is_one_line_exit_2(
    dev_server: DevServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    done = cli(tmp_path, "worker", "--temporal-address", dev_server.address, "--namespace", "nope")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"cowork-tui: the Temporal server at {dev_server.address} (namespace nope): "
        "Namespace nope is not found."
    ]


def test_a_cancel_no_worker_takes_ends_the_session_cancelled(
    dev_server: DevServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Ctrl-C on `run` while no worker serves its queue: the workflow is ended (nothing of it
    runs anywhere), the session CANCELLED, exit 130."""
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text(
        f'[temporal]\naddress = "{dev_server.address}"\ntask_queue = "nobody"\n'
    )
    argv = [sys.executable, "-m", "cowork_tui", "run", "repo-health", "check", "--json",
            "--engine", "temporal"]  # fmt: skip
    env = os.environ | {"COWORK_TUI_HOME": str(home)}
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as run:
        assert run.stderr is not None
        warned = run.stderr.readline().decode()  # said before the session starts
        assert "no worker serves task queue 'nobody'" in warned
        run.send_signal(signal.SIGINT)
        out, _ = run.communicate(timeout=60)
    assert run.returncode == 130
    record = json.loads(out)
    assert record["state"] == "CANCELLED" and "no worker answered" in record["error"]
