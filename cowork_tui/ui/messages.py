"""What screens ask of the app (messages up): the app owns the engine and the launch path, the
screens only show what they are given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # the app's first frame loads this module, before the core
    from ..core.engine.lifecycle import Control
    from ..core.models import Item


@dataclass
class LauncherRequested(Message):
    """Open the launcher on this item."""

    item: Item


@dataclass
class ControlRequested(Message):
    """Pause, resume or cancel a session, or one of its agents."""

    session_id: str
    verb: Control  # not `control`: Message has a property of that name
    subtask: str | None = None


@dataclass
class BudgetRequested(Message):
    """A session's new budget (a session paused at its budget goes on)."""

    session_id: str
    budget_usd: float


@dataclass
class OutputRequested(Message):
    """Open an agent's full output."""

    session_id: str
    subtask: str


@dataclass
class SessionSelected(Message):
    """The monitor's list moved to this session."""

    session_id: str


class MonitorShown(Message):
    """The monitor came to the front: it needs the sessions as they are now."""


@dataclass
class RerunRequested(Message):
    """Launch an archived session's item and task again, as a new session."""

    session_id: str


@dataclass
class ResumeRequested(Message):
    """Continue an INTERRUPTED session under its id."""

    session_id: str


@dataclass
class ArchiveProblem(Message):
    """The archive cannot take records now (busy, full, damaged): sessions go on (posted from
    wherever the archive found it)."""

    text: str


@dataclass
class SteerRequested(Message):
    """Send the user's message to a running agent's conversation."""

    session_id: str
    subtask: str
    text: str
