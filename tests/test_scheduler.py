"""The pure scheduler and the lifecycle tables: decisions from states alone, no engine; and
the active time an agent's record keeps (paused time left out)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cowork_tui.core.engine import slot as slot_module
from cowork_tui.core.engine.lifecycle import (
    AGENT_TRANSITIONS,
    SESSION_CONTROLS,
    SESSION_TRANSITIONS,
    Control,
    Effect,
    LifecycleError,
    Stop,
    applies,
    check_agent_move,
    check_session_move,
)
from cowork_tui.core.engine.scheduler import AgentView, agent_end, decide, verdict
from cowork_tui.core.engine.slot import AgentSlot
from cowork_tui.core.models import AgentState, SessionState, Subtask, active_seconds
from cowork_tui.core.pricing import PriceTable

A, S = AgentState, SessionState


def view(
    sid: str,
    state: AgentState = A.PENDING,
    after: tuple[str, ...] = (),
    *,
    started: bool | None = None,
    held: bool = False,
    merge: bool = False,
) -> AgentView:
    if started is None:
        started = state in (A.RUNNING, A.SUCCEEDED, A.FAILED)
    return AgentView(sid, after, merge, state, started, held)


def test_starts_in_plan_order_up_to_the_cap_and_queues_the_rest() -> None:
    agents = [view("r", A.RUNNING), *(view(f"w{i}") for i in range(4))]
    decision = decide(agents, cap=3, paused=False, stop=None)
    assert decision.start == ("w0", "w1") and decision.queue == ("w2", "w3")
    assert decide(agents, cap=3, paused=False, stop=None) == decision  # same input, same answer


def test_a_paused_agent_keeps_its_slot() -> None:
    agents = [view("p", A.PAUSED, started=True), view("w")]
    decision = decide(agents, cap=1, paused=False, stop=None)
    assert (decision.start, decision.queue) == ((), ("w",))


def test_nothing_starts_while_paused_or_held() -> None:
    assert decide([view("a")], cap=3, paused=True, stop=None).empty
    held = decide([view("a", A.PAUSED, held=True), view("b")], cap=3, paused=False, stop=None)
    assert held.start == ("b",)


def test_a_dependent_waits_for_every_upstream_then_is_skipped_if_one_failed() -> None:
    waiting = [view("a", A.FAILED), view("b", A.RUNNING), view("m", after=("a", "b"))]
    assert decide(waiting, cap=3, paused=False, stop=None).empty
    done = [view("a", A.FAILED), view("b", A.SUCCEEDED), view("m", after=("a", "b"))]
    skip = decide(done, cap=3, paused=False, stop=None).skip
    assert skip == (("m", "upstream a did not succeed"),)
    held = [view("a", A.FAILED), view("m", A.PAUSED, ("a",), held=True)]
    assert decide(held, cap=3, paused=False, stop=None).skip[0][0] == "m"  # held or not


def test_stopping_abandons_what_never_started() -> None:
    agents = [view("r", A.RUNNING), view("q", A.QUEUED), view("w", after=("r",))]
    decision = decide(agents, cap=3, paused=False, stop=Stop.CANCEL)
    assert decision.abandon == ("q", "w") and not decision.start


@pytest.mark.parametrize(
    ("states", "merge", "stop", "expected"),
    [
        ((A.SUCCEEDED, A.FAILED), None, None, S.COMPLETED),
        ((A.FAILED, A.TIMED_OUT), None, None, S.FAILED),
        ((A.SUCCEEDED, A.FAILED), A.SKIPPED, None, S.FAILED),
        ((A.SUCCEEDED, A.SUCCEEDED), A.CANCELLED, None, S.COMPLETED),
        ((A.SUCCEEDED, A.CANCELLED), A.SKIPPED, None, S.COMPLETED),
        ((A.SUCCEEDED, A.CANCELLED), None, Stop.CANCEL, S.CANCELLED),
        ((A.SUCCEEDED, A.INTERRUPTED), None, Stop.INTERRUPT, S.INTERRUPTED),
    ],
    ids=[
        "partial",
        "all-failed",
        "merge-skipped",
        "merge-cancelled",
        "upstream-cancelled",
        "cancelled",
        "interrupted",
    ],
)
def test_verdict(
    states: tuple[AgentState, ...],
    merge: AgentState | None,
    stop: Stop | None,
    expected: SessionState,
) -> None:
    agents = [view(f"a{i}", state) for i, state in enumerate(states)]
    if merge is not None:
        agents.append(view("merge", merge, ("a0", "a1"), merge=True))
    assert verdict(agents, stop, "why").state is expected


def test_agent_end() -> None:
    assert agent_end(True, timed_out=True, cancelled=True, stop=Stop.CANCEL) is A.SUCCEEDED
    assert agent_end(False, timed_out=True, cancelled=False, stop=None) is A.TIMED_OUT
    assert agent_end(False, timed_out=False, cancelled=True, stop=Stop.INTERRUPT) is (A.INTERRUPTED)
    assert agent_end(False, timed_out=False, cancelled=True, stop=None) is A.CANCELLED
    assert agent_end(False, timed_out=False, cancelled=False, stop=None) is A.FAILED


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(1, 8),
    cap=st.integers(1, 4),
    seed=st.integers(0, 2**32),
)
def test_any_dag_runs_to_the_end_under_its_cap(size: int, cap: int, seed: int) -> None:
    """A session driven by the scheduler alone, agents ending at random: the cap always holds,
    every agent ends, and one is skipped exactly when an upstream did not succeed."""
    rng = random.Random(seed)
    after = {f"s{i}": tuple(f"s{j}" for j in range(i) if rng.random() < 0.3) for i in range(size)}
    state = dict.fromkeys(after, A.PENDING)
    started: set[str] = set()

    def views() -> list[AgentView]:
        return [AgentView(s, after[s], False, state[s], s in started, False) for s in after]

    for _ in range(4 * size + 4):
        decision = decide(views(), cap=cap, paused=False, stop=None)
        for sid, _why in decision.skip:
            state[sid] = A.SKIPPED
        for sid in decision.queue:
            state[sid] = A.QUEUED
        for sid in decision.start:
            state[sid] = A.RUNNING
            started.add(sid)
        running = [s for s in after if state[s] is A.RUNNING]
        assert len(running) <= cap
        if decision.empty and running:
            state[rng.choice(running)] = rng.choice([A.SUCCEEDED, A.SUCCEEDED, A.FAILED])
    assert all(s.terminal for s in state.values())
    for sid, ups in after.items():
        failed_upstream = any(state[u] is not A.SUCCEEDED for u in ups)
        assert (state[sid] is A.SKIPPED) == failed_upstream


def test_every_state_has_its_moves_and_ends_have_none() -> None:
    assert set(SESSION_TRANSITIONS) == set(SessionState) == set(SESSION_CONTROLS)
    assert set(AGENT_TRANSITIONS) == set(AgentState)
    assert all(not SESSION_TRANSITIONS[s] for s in SessionState if s.terminal)
    assert all(not AGENT_TRANSITIONS[s] for s in AgentState if s.terminal)


@pytest.mark.parametrize(
    ("check", "old", "new"),
    [
        (check_session_move, S.COMPLETED, S.RUNNING),
        (check_session_move, S.INITIALIZING, S.RUNNING),
        (check_session_move, S.CANCELLING, S.RUNNING),
        (check_agent_move, A.PENDING, A.RUNNING),
        (check_agent_move, A.SUCCEEDED, A.FAILED),
    ],
)
def test_a_move_outside_the_table_is_a_bug(check: object, old: object, new: object) -> None:
    with pytest.raises(LifecycleError, match="is not allowed"):
        check(old, new)  # type: ignore[operator]


def test_control_table_is_design_section_4() -> None:
    """| state | pause | resume | cancel |, and the keys the monitor offers from it."""
    rows = {
        S.PLANNING: (Effect.HOLD, Effect.RELEASE, Effect.CANCEL),
        S.RUNNING: (Effect.PAUSE, Effect.NOOP, Effect.CANCEL),
        S.PAUSED: (Effect.NOOP, Effect.RESUME, Effect.CANCEL),
        S.COMPLETED: (Effect.REFUSE, Effect.REFUSE, Effect.REFUSE),
    }
    for state, effects in rows.items():
        assert tuple(SESSION_CONTROLS[state][c] for c in Control) == effects
    offered = {s: [c.value for c in Control if applies(s, c)] for s in rows}
    assert offered == {
        S.PLANNING: ["pause", "cancel"],
        S.RUNNING: ["pause", "cancel"],
        S.PAUSED: ["resume", "cancel"],
        S.COMPLETED: [],
    }


def test_active_time_leaves_paused_time_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    monkeypatch.setattr(slot_module, "utcnow", lambda: now[0])

    def at(second: int) -> None:
        now[0] = datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC)

    slot = AgentSlot(
        Subtask(id="a", agent="a", prompt="p"), None, PriceTable(), tmp_path / "a.txt",
        lambda *_: None,
    )  # fmt: skip
    at(0)
    slot.start()
    at(10)
    slot.show_paused()
    at(40)
    assert active_seconds(slot.record(), now[0]) == 10  # paused for 30 s: not counted
    slot.show_unpaused()
    at(45)
    assert active_seconds(slot.record(), now[0]) == 15
    slot.finish(A.SUCCEEDED)
    record = slot.record()
    assert (record.duration_s, record.active_s) == (45, 15)
