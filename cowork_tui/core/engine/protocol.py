"""The one engine protocol the CLI and the UI use, whatever runs the sessions: launch a session,
control it, read immutable versioned snapshots, wait for changes. And what an engine tells its
recorder (the archive) as sessions run."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Protocol

from ..models import (
    BudgetUsd,
    EngineName,
    Frozen,
    Item,
    MaxParallel,
    Plan,
    SessionEvent,
    SessionRecord,
)
from .lifecycle import Control
from .resume import continued


class LaunchRequest(Frozen):
    item: Item
    task: str
    backend: str = "demo"  # backend for model agents; "auto" is resolved before launch
    max_parallel: MaxParallel = 3  # a hard cap on agents running at once
    cwd: Path = Path(".")
    plan: Plan | None = None  # None: the engine plans in PLANNING with its planner
    resumed: SessionRecord | None = None  # an INTERRUPTED session to continue, under its id
    budget_usd: BudgetUsd | None = None  # at this cost the session pauses (DESIGN §4)

    def first_record(self, started: datetime, engine: EngineName) -> SessionRecord:
        """The record the session starts from: a new one, or the one it continues."""
        if self.resumed is not None:
            record = continued(self.resumed, started)
            return record.model_copy(update={"budget_usd": self.budget_usd, "engine": engine})
        return SessionRecord(
            id=f"{started:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}",
            item=self.item.name,
            marketplace=self.item.marketplace,
            task=self.task,
            backend=self.backend,
            max_parallel=self.max_parallel,
            cwd=str(self.cwd.resolve()),
            started_at=started,
            plan=self.plan,
            budget_usd=self.budget_usd,
            engine=engine,
        )


class Engine(Protocol):
    durable: bool  # its sessions go on when this process ends (they run elsewhere)
    notice: str | None  # what the user should know of it now (no worker serves its queue)

    def launch(self, request: LaunchRequest) -> str:
        """Start a session (INITIALIZING at once); its id. InputError when it cannot start."""

    def control(
        self, session_id: str, control: Control, subtask: str | None = None, reason: str = "user"
    ) -> None:
        """Pause, resume or cancel a session, or one of its agents (`subtask`); ControlError
        when it cannot apply now (DESIGN §4)."""

    def pause(self, session_id: str, subtask: str | None = None, reason: str = "user") -> None: ...

    def resume(self, session_id: str, subtask: str | None = None, reason: str = "user") -> None: ...

    def cancel(self, session_id: str, subtask: str | None = None, reason: str = "user") -> None: ...

    def set_budget(self, session_id: str, budget_usd: float | None) -> None:
        """Change a session's budget (None: no cap); ControlError when it has ended or the new
        budget is not above what it has spent. It does not resume a session paused at its
        budget: `resume` does."""

    async def steer(self, session_id: str, subtask: str, text: str) -> None:
        """Send the user's `text` to a running agent's conversation (read at its next turn),
        kept in its output and the session's events; ControlError when it cannot take it."""

    def snapshot(self, session_id: str) -> SessionRecord:
        """The session as it is now (ControlError for an unknown id)."""

    def snapshots(self) -> tuple[SessionRecord, ...]:
        """Every session of this engine, in launch order."""

    @property
    def version(self) -> int:
        """Grows with every change of any session: an unchanged version means nothing to redo."""

    async def wait(self, session_id: str) -> SessionRecord:
        """The session's final record, once it has ended."""

    async def changed(self, since: int) -> int:
        """Returns the new version once it is past `since`."""

    async def shutdown(self, reason: str = "app shutdown") -> None:
        """Interrupt every session running in this process; returns when no process of theirs
        is left (a durable engine's sessions go on)."""


class SessionRecorder(Protocol):
    """Persists sessions while they run; called on the engine's event loop, must be quick."""

    def record(self, session: SessionRecord, event: SessionEvent | None = None) -> None:
        """Store the session as it is now, with the event that changed it (if any)."""

    def claim(self, session_id: str) -> None:
        """Take an INTERRUPTED session to continue it (InputError: it is not, or another process
        took it first): two resumers never run one session."""
