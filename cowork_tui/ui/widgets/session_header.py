"""The monitored session's header: its lifecycle stage, totals with honest counters, and the
plan's shape (stages and fan-in) with each subtask's state."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from rich.text import Text

from ...core.models import AgentRecord, AgentState, SessionRecord, SessionState, active_seconds
from ...core.planning.dag import stages
from ...core.text import duration, printable
from .. import format as fmt

A, S = AgentState, SessionState
BUDGET_WARNING = 0.8  # of the budget spent: the spend shows in the warning style
BAR_CELLS = 5  # the spend-against-budget bar
STAGES = (S.INITIALIZING, S.PLANNING, S.RUNNING, S.COMPLETING)
SESSION_STYLE = {
    S.COMPLETED: "bold green",
    S.FAILED: "bold red",
    S.CANCELLED: "bold magenta",
    S.INTERRUPTED: "bold magenta",
    S.PAUSED: "bold yellow",
    S.PAUSING: "yellow",
    S.CANCELLING: "magenta",
}
STATE_STYLE = {
    A.PENDING: "dim",
    A.QUEUED: "dim",
    A.RUNNING: "bold cyan",
    A.PAUSED: "bold yellow",
    A.SUCCEEDED: "bold green",
    A.FAILED: "bold red",
    A.TIMED_OUT: "bold red",
    A.CANCELLED: "bold magenta",
    A.SKIPPED: "dim magenta",
    A.INTERRUPTED: "bold magenta",
}
SESSION_MARK = {
    S.INITIALIZING: "○", S.PLANNING: "○", S.RUNNING: "●", S.PAUSING: "‖", S.PAUSED: "‖",
    S.COMPLETING: "●", S.CANCELLING: "⊘", S.COMPLETED: "✓", S.FAILED: "✗", S.CANCELLED: "⊘",
    S.INTERRUPTED: "⊘",
}  # fmt: skip
# one mark per state, for the plan's shape: done ✓, running ●, paused ‖, failed ✗, waiting ○
STATE_MARK = {
    A.PENDING: "○", A.QUEUED: "○", A.RUNNING: "●", A.PAUSED: "‖", A.SUCCEEDED: "✓",
    A.FAILED: "✗", A.TIMED_OUT: "✗", A.CANCELLED: "⊘", A.SKIPPED: "-", A.INTERRUPTED: "⊘",
}  # fmt: skip


def stage_line(record: SessionRecord) -> Text:
    """INITIALIZING → PLANNING → RUNNING → COMPLETING → <final>, the current one lit; cut to
    the width it is given, never to a fixed `…`."""
    text = Text(no_wrap=True, overflow="ellipsis")
    current = record.state
    for n, stage in enumerate(STAGES):
        if n:
            text.append(" → ", "dim")
        text.append(stage.value, "bold reverse" if stage is current else "dim")
    if current not in STAGES:
        label = current.value + (" (partial)" if record.partial else "")
        text.append(" → ", "dim")
        text.append(f" {label} ", f"{SESSION_STYLE.get(current, 'bold')} reverse")
    return text


def counts(agents: tuple[AgentRecord, ...]) -> str:
    """`3 running · 7 paused · 0 done`, then what failed or never ran, when any did."""
    by = Counter(a.state for a in agents)
    waiting = by[A.PENDING] + by[A.QUEUED]
    parts = [f"{by[A.RUNNING]} running", f"{by[A.PAUSED]} paused", f"{by[A.SUCCEEDED]} done"]
    failed = by[A.FAILED] + by[A.TIMED_OUT]
    stopped = by[A.CANCELLED] + by[A.INTERRUPTED] + by[A.SKIPPED]
    parts += [f"{n} {what}" for n, what in ((waiting, "waiting"), (failed, "failed"),
                                             (stopped, "stopped")) if n]  # fmt: skip
    return " · ".join(parts)


def totals_line(record: SessionRecord, now: datetime) -> Text:
    """Item and id, the counters and totals, the task, and why it ended."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{record.item}@{record.marketplace}", "bold")
    if record.simulated and any(a.model for a in record.agents):
        text.append("  SIMULATED model agents (demo backend)", "bold yellow")
    text.append(f"  {record.id}", "dim")
    if record.engine == "temporal":
        text.append("  on Temporal", "cyan")  # it goes on when this app quits
    text.append(
        f"\n{counts(record.agents)} · max {record.max_parallel} · {record.tokens.total:,} tokens · "
    )
    text.append_text(spend(record))
    text.append(f" · {duration(active_seconds(record, now))}\n")
    text.append(f"task: {printable(' '.join(record.task.split()))}", "italic")
    if record.error:
        text.append(f"\n{printable(record.error)}", "red")
    return text


def spend(record: SessionRecord) -> Text:
    """Its cost, against its budget when it has one (`$0.83 ▰▰▰▰▱ $1.00 budget`): the
    warning style from 80 % of it, the error style at it, and what to do once it paused there."""
    simulated = " simulated" if record.simulated else ""
    budget = record.budget_usd
    if budget is None:
        return Text(fmt.cost(record.cost_usd) + simulated)
    share = record.cost_usd / budget
    style = "bold red" if share >= 1 else "bold yellow" if share >= BUDGET_WARNING else ""
    filled = min(BAR_CELLS, round(share * BAR_CELLS))
    text = Text(f"{fmt.cost(record.cost_usd)}{simulated} ", style)  # said next to the cost
    text.append("▰" * filled + "▱" * (BAR_CELLS - filled), style or "green")
    text.append(f" {fmt.cost(budget)} budget", style)
    if record.paused_reason == "budget" and not record.state.terminal:
        text.append(" — paused at its budget: b raises it", "bold red")
    return text


def shape_line(record: SessionRecord) -> Text:
    """The plan's stages left to right, parallel subtasks side by side: `✓ git ● todos →
    ○ report` reads which subtasks wait on which."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if record.plan is None:
        text.append("planning…", "dim")
        return text
    states = {a.subtask: a.state for a in record.agents}
    for n, stage in enumerate(stages(record.plan)):
        if n:
            text.append(" → ", "dim")
        for m, sub in enumerate(stage):
            state = states.get(sub.id, A.PENDING)
            text.append(" " if m else "")
            text.append(STATE_MARK[state], STATE_STYLE[state])
            text.append(f" {sub.id}", "bold" if state is A.RUNNING else "")
    return text
