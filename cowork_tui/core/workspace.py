"""The services one run of cowork-tui works with, built once: settings, catalog, archive, the
launch path and the engine."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Self

import anyio

from .archive.store import Archive, keep_alive
from .config import Settings, load_settings
from .engine.backends.base import Backend
from .engine.backends.claude import ClaudeBackend
from .engine.backends.command import CommandBackend
from .engine.backends.demo import DemoBackend
from .engine.local import LocalEngine
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

    @classmethod
    def open(cls, paths: Paths | None = None, *, need_archive: bool = False) -> Self:
        """Load the settings and recover what a crashed run left behind (every command does).
        An archive that cannot be used is a warning, or an error when the caller needs it."""
        paths = paths or default_paths()
        workspace = cls(paths, load_settings(paths))
        try:
            workspace.archive.recover()
        except sqlite3.Error as exc:  # damaged, or locked by another program
            problem = InputError(f"{paths.archive_file}: cannot use the archive ({exc})")
        except InputError as exc:  # e.g. an archive from a newer cowork-tui
            problem = exc
        else:
            return workspace
        if need_archive:
            raise problem
        print(f"cowork-tui: warning: {problem}", file=sys.stderr)
        return workspace

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.paths)

    @cached_property
    def archive(self) -> Archive:
        return Archive(self.paths.archive_file)

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
    async def engine(self) -> AsyncIterator[LocalEngine]:
        """A running engine that archives as it goes, with the archive's heartbeat kept alive."""
        engine = LocalEngine(
            self.backends(),
            recorder=self.archive,
            prices=self.prices,
            grace_seconds=self.settings.grace_seconds,
            outputs_dir=self.paths.outputs_dir,
            planner=self._plan_session,
            preflight=lambda item: missing_requirements(item, self.catalog),
        )
        async with engine, anyio.create_task_group() as tg:
            tg.start_soon(keep_alive, self.archive)
            yield engine
            tg.cancel_scope.cancel()
