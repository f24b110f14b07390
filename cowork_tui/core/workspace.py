"""The services one run of cowork-tui works with, built once: settings, catalog, archive, engine."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property

import anyio

from .archive import Archive, keep_alive
from .backends.base import Backend
from .backends.claude import ClaudeBackend
from .backends.command import CommandBackend
from .backends.demo import DemoBackend
from .backends.select import claude_unavailable_reason, resolve_backend
from .config import Paths, Settings, default_paths, load_settings
from .engine import Engine
from .errors import InputError
from .marketplace import Catalog, missing_requirements
from .model_planner import plan_with_fallback
from .models import Item, Plan
from .planner import plan_task
from .pricing import PriceTable


@dataclass
class Workspace:
    paths: Paths
    settings: Settings = field(default_factory=Settings)

    @classmethod
    def open(cls, paths: Paths | None = None, *, need_archive: bool = False) -> Workspace:
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

    def resolve_backend(self, name: str | None, item: Item) -> tuple[str, str | None]:
        """The backend for the item's model agents, and a notice to show when it is not the one
        asked for; "command" for an item of command agents only (no model, nothing simulated)."""
        if all(agent.kind == "command" for agent in item.agents):
            return "command", None
        return resolve_backend(name or self.settings.default_backend)

    def backends(self) -> dict[str, Backend]:
        return {
            "command": CommandBackend(),
            "demo": DemoBackend(),
            "claude": ClaudeBackend(prices=self.prices),
        }

    async def plan(self, item: Item, task: str) -> Plan:
        """The heuristic plan, or Claude's when `model_planner` is on and Claude is available."""
        if self.settings.model_planner and claude_unavailable_reason() is None:
            return await plan_with_fallback(item, task)
        return plan_task(item, task)

    @asynccontextmanager
    async def engine(self) -> AsyncIterator[Engine]:
        """A running engine that archives as it goes, with the archive's heartbeat kept alive."""
        engine = Engine(
            self.backends(),
            recorder=self.archive,
            prices=self.prices,
            grace_seconds=self.settings.grace_seconds,
            outputs_dir=self.paths.outputs_dir,
            planner=self.plan,
            preflight=lambda item: missing_requirements(item, self.catalog),
        )
        async with engine, anyio.create_task_group() as tg:
            tg.start_soon(keep_alive, self.archive)
            yield engine
            tg.cancel_scope.cancel()
