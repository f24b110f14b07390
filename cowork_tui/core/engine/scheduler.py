"""The scheduling decisions of a session, as pure functions of its agents' states: what may start
now under the cap, what waits while paused, what is skipped because an upstream failed, how an
agent's run ended, and the session's verdict. No clock, no I/O: the same input always gives the
same decision, so any engine (in process, or a durable workflow) can run on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..models import AGENT_TERMINAL, AgentState, SessionState
from .lifecycle import Stop

A, S = AgentState, SessionState


@dataclass(frozen=True)
class AgentView:
    """What the scheduler knows of one subtask's agent."""

    id: str
    after: tuple[str, ...]
    merge: bool
    state: AgentState
    started: bool
    held: bool  # paused on its own


@dataclass(frozen=True)
class Decision:
    queue: tuple[str, ...] = ()  # ready, waiting for a free slot: PENDING → QUEUED
    start: tuple[str, ...] = ()  # start now (queued first if it was not yet), in plan order
    skip: tuple[tuple[str, str], ...] = ()  # (subtask, why): an upstream did not succeed
    abandon: tuple[str, ...] = ()  # never started, and the session is stopping

    @property
    def empty(self) -> bool:
        return not (self.queue or self.start or self.skip or self.abandon)


@dataclass(frozen=True)
class Verdict:
    state: SessionState
    error: str | None = None


def decide(agents: Sequence[AgentView], *, cap: int, paused: bool, stop: Stop | None) -> Decision:
    """The next moves for a session's agents (in plan order); empty when nothing can move."""
    state = {a.id: a.state for a in agents}
    waiting = [a for a in agents if not a.started and a.state not in AGENT_TERMINAL]
    if not waiting:
        return Decision()
    if stop is not None:
        return Decision(abandon=tuple(a.id for a in waiting))
    running = sum(1 for a in agents if a.started and a.state not in AGENT_TERMINAL)
    queue: list[str] = []
    start: list[str] = []
    skip: list[tuple[str, str]] = []
    for agent in waiting:
        if agent.after:
            upstream = [state[d] for d in agent.after]
            if any(s not in AGENT_TERMINAL for s in upstream):
                continue
            failed = [d for d, s in zip(agent.after, upstream, strict=True) if s is not A.SUCCEEDED]
        else:
            failed = []
        if failed:
            skip.append((agent.id, f"upstream {', '.join(failed)} did not succeed"))
        elif paused or agent.held:
            continue
        elif running < cap:
            start.append(agent.id)
            running += 1
        elif agent.state is A.PENDING:
            queue.append(agent.id)
    return Decision(tuple(queue), tuple(start), tuple(skip))


def agent_end(ok: bool, *, timed_out: bool, cancelled: bool, stop: Stop | None) -> AgentState:
    """How a started agent's run ended, from what the backend said and what was asked of it."""
    if ok:
        return A.SUCCEEDED
    if timed_out:
        return A.TIMED_OUT
    if stop is Stop.INTERRUPT:
        return A.INTERRUPTED
    if cancelled or stop is Stop.CANCEL:
        return A.CANCELLED
    return A.FAILED


def verdict(agents: Sequence[AgentView], stop: Stop | None, stop_reason: str | None) -> Verdict:
    """The session's end once every agent has one: stopped, failed (nothing succeeded, or the
    merge did not), else completed (partial when some failed)."""
    if stop is not None:
        return Verdict(stop.session_state, stop_reason)
    if not any(a.state is A.SUCCEEDED for a in agents):
        return Verdict(S.FAILED, "every subtask failed")
    by_id = {a.id: a for a in agents}
    unmerged = [
        f"{a.id} {a.state.value}"
        for a in agents
        if a.merge and a.state is not A.SUCCEEDED and not _cancelled(a, by_id)
    ]
    if unmerged:  # e.g. "merge SKIPPED": an upstream agent failed
        return Verdict(S.FAILED, f"the merge did not succeed ({', '.join(unmerged)})")
    return Verdict(S.COMPLETED)


def _cancelled(agent: AgentView, by_id: dict[str, AgentView]) -> bool:
    """Not run because the user cancelled it (or what it needed): the finished work stands."""
    if agent.state is A.CANCELLED:
        return True
    missing = [by_id[d] for d in agent.after if by_id[d].state is not A.SUCCEEDED]
    return agent.state is A.SKIPPED and bool(missing) and all(_cancelled(m, by_id) for m in missing)


def finished(agents: Sequence[AgentView]) -> bool:
    return all(a.state.terminal for a in agents)
