"""Running a started agent to its end, whichever engine hosts it: its timeout counts only the
time it is not paused, and how its run ended becomes a state and an error in words; the
built-in merge, which runs in process; and the end of what a session left behind."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable, Sequence

import anyio

from ..errors import describe_error
from ..models import AgentState
from ..planning.builtin import joined
from ..procs import all_gone, process_table, reap, session_processes, signal_processes
from .backends.base import AgentOutcome
from .slot import AgentSlot

A = AgentState


class Wake:
    """Wakes every waiter whenever something changes; waiters re-check their need."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = anyio.Event()

    async def until(self, ready: Callable[[], bool]) -> None:
        while not ready():
            await self._event.wait()


async def watched(
    slot: AgentSlot,
    wake: Wake,
    pausing: Callable[[], bool],
    timed_out: Callable[[float], Awaitable[None]],
) -> AgentOutcome:
    """Run the started agent to its end, enforcing its spec's timeout (paused time excluded:
    `pausing` says whether it should be paused, `wake` fires when that may have changed). At
    the timeout the slot is marked and `timed_out(timeout)` stops the agent."""
    assert slot.run is not None and slot.spec is not None
    timeout = slot.spec.timeout
    try:
        async with anyio.create_task_group() as tg:
            if timeout is not None:
                tg.start_soon(_timeout, slot, timeout, wake, pausing, timed_out)
            outcome = await slot.run.wait()
            tg.cancel_scope.cancel()
    except Exception as exc:  # e.g. its output could not be written: the disk is full
        outcome = AgentOutcome(ok=False, error=describe_error(exc))
        with anyio.CancelScope(shield=True):
            await slot.run.stop()
    return outcome


async def _timeout(
    slot: AgentSlot,
    timeout: float,
    wake: Wake,
    pausing: Callable[[], bool],
    timed_out: Callable[[float], Awaitable[None]],
) -> None:
    remaining = timeout
    while True:
        await wake.until(lambda: not pausing())
        began = anyio.current_time()
        with anyio.move_on_after(remaining) as clock:
            await wake.until(pausing)
        if clock.cancelled_caught:
            break
        remaining -= anyio.current_time() - began
    slot.mark_timed_out()
    await timed_out(timeout)


def merge(slot: AgentSlot, upstream: Sequence[tuple[str, str]]) -> None:
    """The built-in merge, in process: each (subtask, result) under its own heading."""
    merged = joined(upstream)
    slot.output(merged)
    slot.finish(A.SUCCEEDED, result=merged)


def agent_error(state: AgentState, outcome: AgentOutcome, timeout: float | None) -> str | None:
    """Why an agent ended as it did, in words (None when it succeeded)."""
    if state is A.SUCCEEDED:
        return None
    if state is A.TIMED_OUT:
        return f"timed out after {timeout:g} s"
    if state is A.INTERRUPTED:
        return "app shutdown"
    if state is A.CANCELLED:
        return "cancelled"
    return outcome.error or "failed"


async def end_escaped(session_id: str, grace_seconds: float) -> None:
    """Nothing outlives a session, not even what left its agents' process groups (found by
    COWORK_SESSION_ID): SIGTERM, the grace period, then SIGKILL; those this process adopted
    (a subreaper) are reaped."""
    pids = await anyio.to_thread.run_sync(session_processes, session_id)
    if not pids:
        return
    table = process_table()
    found = [table[pid] for pid in pids if pid in table]  # with their start times
    signal_processes(pids, signal.SIGTERM)
    with anyio.move_on_after(grace_seconds):
        while not all_gone(pids):
            await anyio.sleep(0.02)
    left = await anyio.to_thread.run_sync(session_processes, session_id)  # not a reused pid
    signal_processes(left, signal.SIGKILL)
    with anyio.move_on_after(grace_seconds):
        while not all_gone(left):
            await anyio.sleep(0.02)
    reap(found)
