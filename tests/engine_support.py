"""Helpers for the engine tests: items made of command agents, a recording recorder, waits."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio

from cowork_tui.core.engine.backends.base import (
    AgentContext,
    AgentOutcome,
    AgentReporter,
    AgentRun,
    Backend,
)
from cowork_tui.core.engine.backends.command import CommandBackend
from cowork_tui.core.engine.backends.demo import DemoBackend
from cowork_tui.core.engine.local import LocalEngine
from cowork_tui.core.engine.protocol import Engine, LaunchRequest
from cowork_tui.core.models import (
    AgentSpec,
    AgentState,
    Item,
    Plan,
    SessionEvent,
    SessionRecord,
    Subtask,
)
from cowork_tui.core.procs import process_state

GRACE = 0.3


def command(name: str, script: str, timeout: float | None = None) -> AgentSpec:
    return AgentSpec(name=name, kind="command", command=script, timeout=timeout)


def item_of(*agents: AgentSpec) -> Item:
    return Item(name="test-item", marketplace="tests", agents=agents)


def step(
    sid: str, agent: str | None = None, after: tuple[str, ...] = (), merge: bool = False
) -> Subtask:
    return Subtask(id=sid, agent=agent or sid, prompt=f"do {sid}", after=after, merge=merge)


def plan_of(*subtasks: Subtask) -> Plan:
    return Plan(pattern="dag", subtasks=subtasks)


def request(
    item: Item, plan: Plan | None = None, max_parallel: int = 3, **kw: object
) -> LaunchRequest:
    return LaunchRequest(item=item, task="the task", plan=plan, max_parallel=max_parallel, **kw)


def solo(script: str, timeout: float | None = None) -> LaunchRequest:
    """A session of one command agent `a`."""
    return request(item_of(command("a", script, timeout)), plan_of(step("a")))


class Recorder:
    def __init__(self) -> None:
        self.events: list[SessionEvent] = []
        self.sessions: list[SessionRecord] = []
        self.counts: Counter[str] = Counter()  # events by session
        self.of: list[str] = []  # each event's session

    def record(self, session: SessionRecord, event: SessionEvent | None = None) -> None:
        self.sessions.append(session)
        if event is not None:
            self.events.append(event)
            self.of.append(session.id)
            self.counts[session.id] += 1

    def claim(self, session_id: str) -> None:
        pass  # one engine, no other process: nobody else resumes

    def adopt(self, session_id: str) -> bool:
        return True  # nobody else records

    def event_count(self, session_id: str) -> int:
        return sum(
            1 for s, e in zip(self.sessions, self.events, strict=False) if s.id == session_id
        )

    def live_ids(self, engine: str) -> list[str]:
        return []  # nothing from before this test

    def get(self, session_id: str) -> SessionRecord:
        return next(s for s in reversed(self.sessions) if s.id == session_id)

    def events_of(self, session_id: str | None) -> list[SessionEvent]:
        """The events recorded (of one session: a Temporal engine records the sessions it
        finds running too)."""
        return [e for e, of in zip(self.events, self.of, strict=True) if session_id in (None, of)]

    def session_states(self, session_id: str | None = None) -> list[str]:
        return [str(e.state) for e in self.events_of(session_id) if e.kind == "session"]


@asynccontextmanager
async def running_engine(
    recorder: Recorder | None = None, **backends: Backend
) -> AsyncIterator[LocalEngine]:
    all_backends: dict[str, Backend] = {
        "command": CommandBackend(),
        "demo": DemoBackend(step_seconds=0.01),
        **backends,
    }
    async with LocalEngine(all_backends, recorder=recorder, grace_seconds=GRACE) as engine:
        yield engine


async def until(
    engine: Engine, sid: str, ready: Callable[[SessionRecord], bool], timeout: float = 20
) -> SessionRecord:
    """Wait (on engine changes, no polling) until the session's snapshot satisfies `ready`."""
    with anyio.fail_after(timeout):
        while True:
            version = engine.version
            record = engine.snapshot(sid)
            if ready(record):
                return record
            await engine.changed(version)


def agent_line(record: SessionRecord, subtask: str) -> str | None:
    """The first line of an agent's output tail (e.g. a pid it printed)."""
    agent = record.agent(subtask)
    return agent.output_tail[0] if agent and agent.output_tail else None


class GatedBackend(Backend):
    """In-process agents that finish when the test says so; counts what was started."""

    name = "gated"

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release = anyio.Event()

    async def start(self, ctx: AgentContext, reporter: AgentReporter) -> AgentRun:
        self.started.append(ctx.subtask.id)
        return _GatedRun(self.release)


class _GatedRun(AgentRun):
    def __init__(self, release: anyio.Event) -> None:
        self._release = release
        self._stopped = anyio.Event()

    async def wait(self) -> AgentOutcome:
        async with anyio.create_task_group() as tg:

            async def stopped() -> None:
                await self._stopped.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(stopped)
            await self._release.wait()
            tg.cancel_scope.cancel()
        return AgentOutcome(ok=not self._stopped.is_set(), output="gated result")

    async def pause(self) -> None:
        pass

    async def resume(self) -> None:
        pass

    async def stop(self) -> None:
        self._stopped.set()


def gone(pid: int) -> bool:
    """The process has exited (a zombie nobody reaped counts as gone)."""
    return process_state(pid) in (None, "Z", "X")


def write_script(tmp: Path, name: str, body: str) -> str:
    path = tmp / name
    path.write_text(body)
    return f"sh {path}"


def agent_state(record: SessionRecord, subtask: str) -> AgentState | None:
    agent = record.agent(subtask)
    return agent.state if agent else None


async def reach(pids: list[int], ready: Callable[[int], bool], timeout: float = 10) -> None:
    """Wait until `ready(pid)` holds for every process (there is no event to await)."""
    with anyio.move_on_after(timeout):
        while not all(ready(pid) for pid in pids):
            await anyio.sleep(0.01)
    states = {pid: process_state(pid) for pid in pids}
    assert all(ready(pid) for pid in pids), f"processes in states {states}"
