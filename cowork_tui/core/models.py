"""Domain types shared by every layer: items, agents, plans, session records, usage.

Records are frozen: the engine publishes a new versioned copy on every change, so a
reader holding one never sees it move under its feet.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field

from .text import printable


class SessionState(StrEnum):
    INITIALIZING = "INITIALIZING"
    PLANNING = "PLANNING"
    RUNNING = "RUNNING"
    PAUSING = "PAUSING"
    PAUSED = "PAUSED"
    COMPLETING = "COMPLETING"
    CANCELLING = "CANCELLING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    INTERRUPTED = "INTERRUPTED"

    @property
    def terminal(self) -> bool:
        return self in SESSION_TERMINAL


SESSION_TERMINAL = frozenset(
    {
        SessionState.COMPLETED,
        SessionState.FAILED,
        SessionState.CANCELLED,
        SessionState.INTERRUPTED,
    }
)


class AgentState(StrEnum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"
    INTERRUPTED = "INTERRUPTED"

    @property
    def terminal(self) -> bool:
        return self in AGENT_TERMINAL


AGENT_TERMINAL = frozenset(
    {
        AgentState.SUCCEEDED,
        AgentState.FAILED,
        AgentState.TIMED_OUT,
        AgentState.CANCELLED,
        AgentState.SKIPPED,
        AgentState.INTERRUPTED,
    }
)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


# text from items and agents, shown to the user: escape sequences and control characters are
# removed as it comes in, so no screen or command can pass them on to the terminal
Shown = Annotated[str, AfterValidator(printable)]

MIN_PARALLEL, MAX_PARALLEL = 1, 10
SIMULATION = "demo"  # the backend that simulates model agents
MaxParallel = Annotated[int, Field(ge=MIN_PARALLEL, le=MAX_PARALLEL)]  # agents running at once
BudgetUsd = Annotated[float, Field(gt=0, allow_inf_nan=False)]  # a session's spending cap
PausedReason = Literal["user", "budget"]  # why a session is (or, once ended, last was) paused
EngineName = Literal["local", "temporal"]  # what runs a session: in process, or Temporal (§8)


# --- items -----------------------------------------------------------------------------


class AgentSpec(Frozen):
    """One `agents/*.md` file of a plugin: a language-model agent or a command agent."""

    name: Shown
    description: Shown = ""
    kind: Literal["command", "model"] = "model"
    model: Shown | None = None  # as written: an alias (sonnet/opus/haiku), a full id, "inherit"
    tools: tuple[Shown, ...] | None = None  # None: Claude Code's default tools (no `tools:`)
    max_turns: int | None = None
    color: Shown | None = None
    system_prompt: str = ""  # the Markdown body
    command: str | None = None  # command agents only: run through `sh -c`
    timeout: float | None = None  # seconds; None = no limit
    path: Path | None = None  # the file it came from


class SkillSpec(Frozen):
    """A skill (`skills/<dir>/SKILL.md`) or a command (`commands/*.md`) of a plugin: Markdown
    instructions an agent loads with the Skill tool, or that a `/plugin:name` prompt expands."""

    name: Shown  # without the plugin's prefix
    kind: Literal["skill", "command"] = "skill"
    description: Shown = ""
    user_invocable: bool = True  # `/plugin:name` runs it
    model_invocable: bool = True  # the model may load it with the Skill tool
    argument_hint: Shown | None = None
    shell: tuple[Shown, ...] = ()  # commands Claude Code runs locally when it expands it (!`…`)
    path: Path | None = None  # SKILL.md, or the command's file


class McpServer(Frozen):
    """An MCP server a plugin starts: a local command or a URL."""

    name: Shown
    command: Shown | None = None  # the command line, as the trust prompt shows it
    url: Shown | None = None
    config: dict[str, Any] = {}  # as written, for Claude Code


class Hook(Frozen):
    """One hook entry of a plugin: an event, its matcher, what it runs."""

    event: Shown
    matcher: Shown | None = None
    actions: tuple[Shown, ...] = ()  # "command: …", "prompt: …", as the trust prompt shows them
    config: dict[str, Any] = {}  # as written, for Claude Code


class WorkflowStep(Frozen):
    id: str
    agent: str
    prompt: Shown | None = None  # may hold `{task}`; default: the task itself
    after: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()  # of the item's skills and commands, the ones to use


class CoworkDefaults(Frozen):
    """The `cowork` extension object (marketplace entry wins over plugin.json)."""

    max_parallel_agents: MaxParallel = Field(3, alias="maxParallelAgents")
    estimated_duration: Shown | None = Field(None, alias="estimatedDuration")
    avg_session_minutes: float | None = Field(None, alias="avgSessionMinutes", ge=0)
    completion_rate: float | None = Field(None, alias="completionRate", ge=0, le=1)
    requires: tuple[str, ...] = ()
    workflow: tuple[WorkflowStep, ...] | None = None
    budget_usd: BudgetUsd | None = Field(None, alias="budgetUsd")


class Item(Frozen):
    """A plugin of a marketplace, as cowork-tui sees it."""

    name: Shown
    marketplace: Shown
    description: Shown = ""
    version: Shown | None = None
    category: Shown | None = None
    source: Shown = ""  # "./relative" path, or a readable description of a remote origin
    available: bool = True  # False for remote sources (not available offline) or broken entries
    installed: bool = False
    trusted: bool = False  # bundled items, or commands confirmed at install time
    path: Path | None = None  # the plugin folder when available
    agents: tuple[AgentSpec, ...] = ()
    skills: tuple[SkillSpec, ...] = ()  # skills and commands
    mcp_servers: tuple[McpServer, ...] = ()
    hooks: tuple[Hook, ...] = ()
    other_parts: tuple[Shown, ...] = ()  # what else it holds: "LSP servers", "output styles"
    cowork: CoworkDefaults = CoworkDefaults()
    errors: tuple[Shown, ...] = ()
    warnings: tuple[Shown, ...] = ()
    claude_installed: bool = False  # installed in Claude Code (~/.claude/plugins)
    extras_trusted: bool = False  # its MCP servers and hooks were shown and agreed to

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.marketplace}"

    def agent(self, name: str) -> AgentSpec | None:
        return next((a for a in self.agents if a.name == name), None)

    def skill(self, name: str) -> SkillSpec | None:
        return next((s for s in self.skills if s.name == name), None)

    @property
    def runnable(self) -> bool:
        return self.not_runnable is None

    @property
    def not_runnable(self) -> str | None:
        """Why nothing of it can run, said before anyone tries; None when it can."""
        if not self.available:
            return "; ".join(self.errors) or self.source or "not available"
        if self.agents or self.skills:
            return None
        parts = [
            *(["hooks"] if self.hooks else []),
            *(["MCP servers"] if self.mcp_servers else []),
            *self.other_parts,
        ]
        if not parts:
            return "no agents, skills or commands: nothing to run"
        return f"{' and '.join(parts)} only: nothing to run"

    @property
    def uses_models(self) -> bool:
        """Some of its work needs a language model: model agents, skills or commands."""
        return bool(self.skills) or any(a.kind == "model" for a in self.agents)


class Marketplace(Frozen):
    """A marketplace folder (`.claude-plugin/marketplace.json`) and its items, or a known
    marketplace that cannot be read offline (available=False, `origin` says where it lives)."""

    name: Shown
    kind: Literal["bundled", "user", "claude"] = "user"
    path: Path | None = None  # the folder holding .claude-plugin/marketplace.json
    origin: Shown = ""  # where it comes from, in words
    description: Shown = ""
    available: bool = True
    items: tuple[Item, ...] = ()
    errors: tuple[Shown, ...] = ()  # only when marketplace.json itself cannot be read
    warnings: tuple[Shown, ...] = ()


# --- usage -----------------------------------------------------------------------------

TokenCount = Annotated[int, Field(ge=0)]


class Tokens(Frozen):
    input: TokenCount = 0
    output: TokenCount = 0
    cache_read: TokenCount = 0
    cache_write: TokenCount = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_write

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(
            input=self.input + other.input,
            output=self.output + other.output,
            cache_read=self.cache_read + other.cache_read,
            cache_write=self.cache_write + other.cache_write,
        )


# --- plans -----------------------------------------------------------------------------

Pattern = Literal["single", "sequential", "parallel", "fan-out-fan-in", "dag"]


class Subtask(Frozen):
    id: str
    agent: str
    prompt: Shown
    after: tuple[str, ...] = ()
    merge: bool = False  # a fan-in step that combines its upstream results
    skills: tuple[str, ...] = ()  # the item's skills and commands this subtask should use


class Plan(Frozen):
    pattern: Pattern
    subtasks: tuple[Subtask, ...]
    source: Literal["workflow", "heuristic", "model"] = "heuristic"
    warnings: tuple[Shown, ...] = ()  # what the planner could not do well (e.g. no part fits)
    tokens: Tokens = Tokens()  # what making it took (a model planner's call)
    cost_usd: float = 0.0


# --- records ---------------------------------------------------------------------------

PREVIEW_CHARS = 2000  # an agent's output kept in its record (the file keeps all of it)


class AgentRecord(Frozen):
    """One subtask's agent, live (in snapshots) or final (in the archive)."""

    subtask: str
    agent: str
    prompt: Shown = ""
    skills: tuple[str, ...] = ()
    state: AgentState = AgentState.PENDING
    model: Shown | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_s: float | None = None  # wall time
    active_s: float | None = None  # paused time excluded (up to active_since)
    active_since: datetime | None = None  # running now, since then (live only)
    tokens: Tokens = Tokens()
    cost_usd: float = 0.0
    # whose prices: "pricing" (our table, config.toml overrides included), "claude-cli" (Claude
    # Code's own), "backend" (another runtime's); the note says when two figures differ
    cost_source: str | None = None
    cost_note: Shown | None = None
    error: Shown | None = None
    output_preview: Shown = ""
    output_path: str | None = None  # full output on disk
    progress: float | None = None  # 0..1 when the agent reports it
    step: Shown = ""  # what it is doing now
    output_tail: tuple[Shown, ...] = ()  # last lines, live only
    pgid: int | None = None  # command agents: process group, for cleanup after a crash
    pgid_started: float | None = None  # that process's start time (guards against pid reuse)
    conversation: str | None = None  # Claude agents: Claude Code's session id, to resume it


class SessionRecord(Frozen):
    """The session record of DESIGN §5; also the engine's immutable, versioned snapshot."""

    id: str
    item: Shown
    marketplace: Shown
    task: Shown
    state: SessionState = SessionState.INITIALIZING
    partial: bool = False
    backend: str = "demo"
    max_parallel: MaxParallel = 3
    cwd: str = "."
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_s: float | None = None  # wall time
    active_s: float | None = None  # paused time excluded (up to active_since)
    active_since: datetime | None = None  # running now, since then (live only)
    plan: Plan | None = None
    agents: tuple[AgentRecord, ...] = ()
    tokens: Tokens = Tokens()
    cost_usd: float = 0.0
    agent_count: int = 0
    failed_subtasks: tuple[str, ...] = ()
    summary: Shown = ""
    error: Shown | None = None  # why the session failed or was cancelled, when it did
    version: int = 0
    resumed_at: tuple[datetime, ...] = ()  # each time it was continued after an interruption
    budget_usd: BudgetUsd | None = None  # at this cost the session pauses (None: no cap)
    paused_reason: PausedReason | None = None
    engine: EngineName = "local"

    def agent(self, subtask: str) -> AgentRecord | None:
        return next((a for a in self.agents if a.subtask == subtask), None)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def simulated(self) -> bool:
        """Its model agents ran on the demo backend: a labelled simulation, costs included."""
        return self.backend == SIMULATION

    def to_json(self) -> dict[str, Any]:
        """The record of DESIGN §5 (`run --json`, `history show --json`), no live-only fields;
        costs rounded to 1e-10 USD (0.0035712, not float sums' 0.0035711999999999996)."""
        data = self.model_dump(mode="json", exclude=_LIVE_ONLY)
        for part in (data, *data["agents"]):
            part["cost_usd"] = round(part["cost_usd"], 10)
            if part["active_s"] is not None:
                part["active_s"] = round(part["active_s"], 3)
        return data


class SessionEvent(Frozen):
    """One line of a session's append-only event log."""

    at: datetime
    kind: Literal["session", "agent", "control"]
    subtask: str | None = None  # agent events and agent controls
    state: str | None = None  # the new state (session/agent) or the control ("pause", ...)
    reason: Shown | None = None  # why: the control's origin, an error, "app shutdown", ...


def active_seconds(record: AgentRecord | SessionRecord, now: datetime) -> float | None:
    """Seconds it has been active (not paused) by `now`; its wall time when the record
    predates active time."""
    if record.active_s is None:
        if record.duration_s is not None or record.started_at is None:
            return record.duration_s
        return max(0.0, ((record.ended_at or now) - record.started_at).total_seconds())
    since = (now - record.active_since).total_seconds() if record.active_since else 0.0
    return record.active_s + max(0.0, since)


# fields that only matter while a session runs (or to crash recovery), left out of the JSON record
_LIVE_ONLY: dict[str, Any] = {
    "version": True,
    "active_since": True,
    "agents": {"__all__": {"output_tail", "pgid", "pgid_started", "active_since"}},
}
