"""What the engine tells its recorder (the archive) as a session runs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from .models import Frozen, SessionRecord


class SessionEvent(Frozen):
    """One line of a session's append-only event log."""

    at: datetime
    kind: Literal["session", "agent", "control"]
    subtask: str | None = None  # agent events and agent controls
    state: str | None = None  # the new state (session/agent) or the control ("pause", ...)
    reason: str | None = None  # why: the control's origin, an error, "app shutdown", ...


class SessionRecorder(Protocol):
    """Persists sessions while they run; called on the engine's event loop, must be quick."""

    def record(self, session: SessionRecord, event: SessionEvent | None = None) -> None:
        """Store the session as it is now, with the event that changed it (if any)."""
