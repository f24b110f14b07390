"""How the engine drives one agent, whatever runs it.

The engine owns the lifecycle (states, timeouts that exclude paused time, the parallel
cap); a backend only knows how to run, pause, resume and stop one agent and reports what
happens through an `AgentReporter`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ...models import AgentSpec, Item, Subtask, Tokens

# what `AgentReporter.notice` reports; the agent's step then starts with these words
RATE_LIMITED = "rate limited"
STALLED = "stalled"


@dataclass(frozen=True)
class Upstream:
    """The result of a subtask this one runs after."""

    subtask: str
    agent: str
    text: str  # the output, bounded in size (see output_path for all of it)
    output_path: Path | None = None


@dataclass(frozen=True)
class AgentContext:
    """Everything an agent needs to know about its place in the session."""

    session_id: str
    item: Item
    spec: AgentSpec
    subtask: Subtask
    task: str
    cwd: Path
    upstream: tuple[Upstream, ...] = ()  # results of the subtasks it runs after, in plan order
    output_dir: Path | None = None  # where the full output file goes
    grace_seconds: float = 5.0  # stop(): how long a process gets between SIGTERM and SIGKILL
    # resuming after an interruption: the backend's conversation to continue, and what the
    # agent had written in it
    conversation: str | None = None
    earlier_output: str = ""
    budget_left_usd: float | None = None  # what the session may still spend (None: no cap)


class AgentReporter(Protocol):
    """Callbacks from a running agent to the engine (called from the engine's event loop)."""

    def progress(self, fraction: float | None, step: str) -> None: ...

    def output(self, text: str) -> None:
        """A chunk of the agent's output (appended to its output file and tail)."""

    def usage(self, tokens: Tokens, model: str | None, cost_usd: float | None = None) -> None:
        """Usage so far (cumulative); cost_usd when the runtime computes it itself."""

    def process(self, pgid: int, started: float) -> None:
        """A process group the agent owns (recorded for crash recovery)."""

    def conversation(self, conversation_id: str) -> None:
        """The backend's id of the agent's conversation (recorded, to resume it)."""

    def notice(self, state: str, step: str) -> None:
        """A condition people should see (`RATE_LIMITED`, `STALLED`): shown as the agent's step
        and kept in the session's events."""


@dataclass
class AgentOutcome:
    """How an agent's run ended, as the backend sees it."""

    ok: bool
    output: str = ""  # the result handed downstream, bounded in size
    error: str | None = None
    output_path: Path | None = None
    cost_source: str | None = None  # whose prices the cost is at, when the backend knows
    cost_note: str | None = None  # when two price lists disagree


class AgentRun(ABC):
    """One running agent. `wait` runs it to its end; the controls may come at any time."""

    cannot_steer = "this agent has no conversation to send a message to"

    @abstractmethod
    async def wait(self) -> AgentOutcome: ...

    @abstractmethod
    async def pause(self) -> None:
        """Stop making progress (idempotent)."""

    @abstractmethod
    async def resume(self) -> None:
        """Continue where it stopped (idempotent)."""

    @abstractmethod
    async def stop(self) -> None:
        """End it for good and release everything it holds (no process left); idempotent."""

    async def steer(self, text: str) -> None:
        """Send the user's `text` to the agent's conversation, read at its next turn;
        `CannotSteer` (saying why) for an agent that has none."""
        raise CannotSteer(self.cannot_steer)


class Backend(ABC):
    name: str

    @abstractmethod
    async def start(self, ctx: AgentContext, reporter: AgentReporter) -> AgentRun: ...


class CannotSteer(Exception):
    """The agent cannot take a message now, or ever; the message says why."""


class BackendUnavailable(Exception):
    """The backend cannot run here (missing extra, no credentials); the message says why."""
