"""The in-process engine: runs cowork sessions on this event loop, under live control; the
default implementation of the engine protocol (`protocol.Engine`)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import anyio
from anyio.abc import TaskGroup

from ..clock import utcnow
from ..errors import InputError
from ..models import Item, Plan, SessionRecord
from ..planning.plans import plan_task
from ..pricing import PriceTable
from .backends.base import Backend
from .common import EngineBase
from .controls import Planner, Preflight, SessionSetup
from .lifecycle import Control
from .output_files import private_folder
from .protocol import LaunchRequest, SessionRecorder
from .session import SessionRun


async def default_planner(item: Item, session: SessionRecord) -> Plan:
    return plan_task(item, session.task)


class LocalEngine(EngineBase[SessionRun]):
    durable = False  # its sessions end with this process
    notice: str | None = None

    def __init__(
        self,
        backends: Mapping[str, Backend],
        *,
        recorder: SessionRecorder | None = None,
        prices: PriceTable | None = None,
        grace_seconds: float = 5.0,
        outputs_dir: Path | None = None,
        planner: Planner | None = None,
        preflight: Preflight | None = None,
    ) -> None:
        super().__init__()
        self._backends = dict(backends)
        self._recorder = recorder
        self._prices = prices or PriceTable()
        self._grace = grace_seconds
        self._outputs_dir = outputs_dir
        self._planner = planner or default_planner
        self._preflight = preflight
        self._tg: TaskGroup | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    async def __aenter__(self) -> LocalEngine:
        if self._outputs_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="cowork-outputs-")
            self._outputs_dir = Path(self._tmp.name)
        with contextlib.suppress(OSError):  # else each agent fails, saying why it cannot write
            private_folder(self._outputs_dir)  # every session's outputs: the user's only
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._tg is not None
        try:
            with anyio.CancelScope(shield=True):
                await self.shutdown()
        finally:
            tg, self._tg = self._tg, None
            result = await tg.__aexit__(exc_type, exc, tb)
            if self._tmp is not None:
                self._tmp.cleanup()
        return result

    # --- sessions -------------------------------------------------------------------------

    def launch(self, request: LaunchRequest) -> str:
        """Start a session (INITIALIZING at once); returns its id."""
        if self._tg is None or self._outputs_dir is None:
            raise RuntimeError("the engine is not running: use `async with Engine(...)`")
        if request.backend not in self._backends:
            known = ", ".join(sorted(self._backends))
            raise InputError(f"backend: unknown backend {request.backend!r} (known: {known})")
        record = request.first_record(utcnow(), "local")
        if request.resumed is not None:
            if record.id in self._sessions and not self._sessions[record.id].done.is_set():
                raise InputError(f"session {record.id} is running already")
            if self._recorder is not None:
                self._recorder.claim(record.id)
        session_id = record.id
        setup = SessionSetup(
            backends=self._backends,
            backend=request.backend,
            prices=self._prices,
            recorder=self._recorder,
            planner=self._planner,
            preflight=self._preflight,
            grace_seconds=self._grace,
            outputs_dir=self._outputs_dir,
            on_change=self._bump,
        )
        earlier = request.resumed.agents if request.resumed else ()
        run = SessionRun(session_id, record, request.item, record.plan, setup, earlier)
        self._sessions[session_id] = run
        self._bump()
        self._tg.start_soon(run.run)
        return session_id

    def control(
        self, session_id: str, control: Control, subtask: str | None = None, reason: str = "user"
    ) -> None:
        self._session(session_id).control(control, subtask, reason)

    def set_budget(self, session_id: str, budget_usd: float | None) -> None:
        self._session(session_id).set_budget(budget_usd)

    async def steer(self, session_id: str, subtask: str, text: str) -> None:
        await self._session(session_id).steer(subtask, text)

    def snapshot(self, session_id: str) -> SessionRecord:
        return self._session(session_id).snapshot()

    def snapshots(self) -> tuple[SessionRecord, ...]:
        return tuple(run.snapshot() for run in self._sessions.values())

    async def wait(self, session_id: str) -> SessionRecord:
        run = self._session(session_id)
        await run.done.wait()
        return run.snapshot()

    async def shutdown(self, reason: str = "app shutdown") -> None:
        """Interrupt every running session; returns when no process of theirs is left."""
        running = [run for run in self._sessions.values() if not run.done.is_set()]
        for run in running:
            run.interrupt(reason)
        for run in running:
            await run.done.wait()
