"""The services one run of cowork-tui works with, built once: settings, catalog, archive, the
launch path and the engine (in process, or Temporal's client)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Self

import anyio

from .archive.files import ArchiveError
from .archive.store import Archive, keep_alive
from .config import Settings, load_settings
from .engine.backends.base import Backend
from .engine.backends.claude import ClaudeBackend
from .engine.backends.command import CommandBackend
from .engine.backends.demo import DemoBackend
from .engine.local import LocalEngine
from .engine.protocol import Engine
from .engine.temporal import require_temporal
from .errors import InputError
from .launch import Launcher
from .marketplace.catalog import Catalog, missing_requirements
from .models import Item, Plan, SessionRecord
from .paths import Paths, default_paths
from .planning.plans import check_plannable, plan_task
from .pricing import PriceTable


@dataclass
class Workspace:
    paths: Paths
    settings: Settings = field(default_factory=Settings)
    read_only: bool = False  # the archive is only read: no recovery, no writes, none created

    @classmethod
    def open(
        cls, paths: Paths | None = None, *, need_archive: bool = False, read_only: bool = False
    ) -> Self:
        """Load the settings and open the archive. Commands that run sessions (the default)
        recover what a crashed run left behind; `read_only` ones (history, plan, marketplace)
        never write to it — they read a crashed run's sessions as recovery will write them,
        and end the processes those left. An archive that cannot be opened is a warning, or an
        error when the caller needs it; one that cannot be written to now (busy, full,
        damaged) is a warning from the archive itself: sessions go on, their records kept in
        its journal."""
        paths = paths or default_paths()
        workspace = cls(paths, load_settings(paths), read_only=read_only)
        try:
            archive = workspace.archive
        except (InputError, ArchiveError) as exc:  # not an archive, a newer one, unreadable
            if need_archive:
                raise
            print(f"cowork-tui: warning: {exc}", file=sys.stderr)
            return workspace
        if not read_only:
            archive.recover()
        return workspace

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.paths)

    @cached_property
    def archive(self) -> Archive:
        return Archive(self.paths.archive_file, read_only=self.read_only)

    @cached_property
    def prices(self) -> PriceTable:
        return PriceTable(self.settings.pricing)

    @cached_property
    def launcher(self) -> Launcher:
        return Launcher(self.catalog, self.settings, self.prices, self.paths.claude_config_dir)

    @cached_property
    def claude(self) -> ClaudeBackend:
        return ClaudeBackend(
            prices=self.prices,
            stall_seconds=self.settings.stall_seconds,
            stall_warn_seconds=self.settings.stall_warn_seconds,
            config_dir=self.paths.claude_config_dir,
        )

    def backends(self) -> dict[str, Backend]:
        return {"command": CommandBackend(), "demo": DemoBackend(), "claude": self.claude}

    async def plan(
        self,
        item: Item,
        task: str,
        backend: str,
        *,
        max_parallel: int | None = None,
        session_id: str = "",
    ) -> Plan:
        """The plan a session on `backend` runs: Claude's when the model planner is on for it
        (the heuristic's, saying why, when Claude fails), else the heuristic's or the item's
        declared workflow. InputError when it cannot be planned."""
        check_plannable(item, task)
        if not self.launcher.model_plans(item, backend):
            return plan_task(item, task)
        return await self.claude.plan(item, task, max_parallel=max_parallel, session_id=session_id)

    async def _plan_session(self, item: Item, session: SessionRecord) -> Plan:
        return await self.plan(
            item,
            session.task,
            session.backend,
            max_parallel=session.max_parallel,
            session_id=session.id,
        )

    @asynccontextmanager
    async def engine(self) -> AsyncIterator[Engine]:
        """The engine the settings choose, running: it archives as it goes, with the archive's
        heartbeat kept alive."""
        try:
            async with self._new_engine() as engine, anyio.create_task_group() as tg:
                tg.start_soon(keep_alive, self.archive)
                yield engine
                tg.cancel_scope.cancel()
        finally:
            self.archive.flush()  # what the journal kept meanwhile, if the archive takes it now

    def _new_engine(self) -> AbstractAsyncContextManager[Engine]:
        if self.settings.engine == "temporal":
            require_temporal()
            from .engine.temporal.client import TemporalEngine  # it loads temporalio

            return TemporalEngine(
                self.settings.temporal,
                recorder=self.archive,
                grace_seconds=self.settings.grace_seconds,
            )
        return LocalEngine(
            self.backends(),
            recorder=self.archive,
            prices=self.prices,
            grace_seconds=self.settings.grace_seconds,
            outputs_dir=self.paths.outputs_dir,
            planner=self._plan_session,
            preflight=lambda item: missing_requirements(item, self.catalog),
        )
