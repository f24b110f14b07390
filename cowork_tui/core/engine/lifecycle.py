"""States and controls of DESIGN §4, as data: every transition a session or an agent may make,
and what each control does in each state. The engine refuses anything else (a bug); the UI
asks here which keys apply."""

from __future__ import annotations

from enum import StrEnum

from ..models import AGENT_TERMINAL, SESSION_TERMINAL, AgentState, PausedReason, SessionState

S, A = SessionState, AgentState


class Control(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"


class Stop(StrEnum):
    """Why a session is being stopped: the user cancelled it, or the app is going away."""

    CANCEL = "cancel"
    INTERRUPT = "interrupt"

    @property
    def session_state(self) -> SessionState:
        return S.CANCELLED if self is Stop.CANCEL else S.INTERRUPTED

    @property
    def agent_state(self) -> AgentState:
        return A.CANCELLED if self is Stop.CANCEL else A.INTERRUPTED


class Effect(StrEnum):
    """What a control does to a session in a given state."""

    HOLD = "hold"  # before dispatch: nothing starts once planning is done
    RELEASE = "release"  # lift a hold (a no-op when there is none)
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    NOOP = "noop"  # already so: controls are idempotent
    REFUSE = "refuse"  # a terminal session: a clear error, nothing changes


class LifecycleError(AssertionError):
    """A transition the tables below do not allow: a bug in the engine."""


_ENDS = frozenset({S.FAILED, S.CANCELLED, S.INTERRUPTED})  # an internal error ends any state

SESSION_TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    S.INITIALIZING: _ENDS | {S.PLANNING},
    S.PLANNING: _ENDS | {S.RUNNING, S.PAUSED},
    S.RUNNING: _ENDS | {S.PAUSING, S.CANCELLING, S.COMPLETING},
    S.PAUSING: _ENDS | {S.PAUSED, S.RUNNING, S.CANCELLING, S.COMPLETING},
    S.PAUSED: _ENDS | {S.RUNNING, S.CANCELLING, S.COMPLETING},
    S.CANCELLING: frozenset({S.CANCELLED, S.FAILED}),
    S.COMPLETING: frozenset({S.COMPLETED, S.FAILED}),
    **{state: frozenset() for state in SESSION_TERMINAL},
}

_AGENT_ENDS = AGENT_TERMINAL - {A.SKIPPED}
AGENT_TRANSITIONS: dict[AgentState, frozenset[AgentState]] = {
    # waiting: PAUSED when paused on its own before it started
    A.PENDING: frozenset({A.QUEUED, A.PAUSED, A.SKIPPED, A.CANCELLED, A.INTERRUPTED}),
    A.QUEUED: frozenset({A.RUNNING, A.PAUSED, A.CANCELLED, A.INTERRUPTED}),
    A.RUNNING: _AGENT_ENDS | {A.PAUSED},
    # back to where it was on resume, or to its end
    A.PAUSED: AGENT_TERMINAL | {A.PENDING, A.QUEUED, A.RUNNING},
    **{state: frozenset() for state in AGENT_TERMINAL},
}

_WAITING = {control: Effect.NOOP for control in Control} | {
    Control.PAUSE: Effect.HOLD,
    Control.RESUME: Effect.RELEASE,
    Control.CANCEL: Effect.CANCEL,
}
SESSION_CONTROLS: dict[SessionState, dict[Control, Effect]] = {
    S.INITIALIZING: _WAITING,
    S.PLANNING: _WAITING,
    S.RUNNING: {Control.PAUSE: Effect.PAUSE, Control.RESUME: Effect.NOOP,
                Control.CANCEL: Effect.CANCEL},
    S.PAUSING: {Control.PAUSE: Effect.NOOP, Control.RESUME: Effect.RESUME,
                Control.CANCEL: Effect.CANCEL},
    S.PAUSED: {Control.PAUSE: Effect.NOOP, Control.RESUME: Effect.RESUME,
               Control.CANCEL: Effect.CANCEL},
    S.CANCELLING: {control: Effect.NOOP for control in Control},
    S.COMPLETING: {control: Effect.NOOP for control in Control},  # a moment, no await in it
    **{state: {control: Effect.REFUSE for control in Control} for state in SESSION_TERMINAL},
}  # fmt: skip

# an agent's own controls, by whether it is held on its own (a session's pause holds it too,
# but its own hold outlasts the session's resume); a finished agent refuses them all
AGENT_CONTROLS: dict[bool, dict[Control, Effect]] = {
    False: {
        Control.PAUSE: Effect.PAUSE,
        Control.RESUME: Effect.NOOP,
        Control.CANCEL: Effect.CANCEL,
    },
    True: {
        Control.PAUSE: Effect.NOOP,
        Control.RESUME: Effect.RESUME,
        Control.CANCEL: Effect.CANCEL,
    },
}


def check_session_move(old: SessionState, new: SessionState) -> None:
    if new not in SESSION_TRANSITIONS[old]:
        raise LifecycleError(f"session state {old.value} → {new.value} is not allowed")


def check_agent_move(old: AgentState, new: AgentState) -> None:
    if new not in AGENT_TRANSITIONS[old]:
        raise LifecycleError(f"agent state {old.value} → {new.value} is not allowed")


def applies(state: SessionState, control: Control) -> bool:
    """Whether `control` changes something a user sees for a session in `state` (a key to
    offer); holds before dispatch count, a lift of a hold does not."""
    return SESSION_CONTROLS[state][control] not in (Effect.NOOP, Effect.REFUSE, Effect.RELEASE)


def agent_effect(state: AgentState, held: bool, control: Control) -> Effect:
    return Effect.REFUSE if state.terminal else AGENT_CONTROLS[held][control]


def agent_controls_apply(session: SessionState, agent: AgentState) -> bool:
    """Whether one agent's controls (pause, resume, cancel) can act on it now."""
    return not session.terminal and not agent.terminal


def usd(amount: float) -> str:
    """An amount of dollars in words: cents, finer below a cent."""
    return f"${amount:.2f}" if amount >= 0.01 or amount == 0 else f"${amount:.4f}"


BUDGET: PausedReason = "budget"  # why a session paused at its budget


def budget_reached(budget: float) -> str:
    """Why a session stopped at its budget (its events, and `run`'s cancel)."""
    return f"{BUDGET}: {usd(budget)} reached"


def budget_refusal(
    session_id: str, state: SessionState, budget: float | None, spent: float
) -> str | None:
    """Why a session's budget cannot become `budget` now (None: it can)."""
    if state.terminal:
        return f"session {session_id} is {state.value}: its budget is final"
    if budget is not None and not budget > spent:
        spent_words = f"the {usd(spent)} session {session_id} has spent"
        return f"budget: {usd(budget)} is not more than {spent_words}"
    return None


def steer_refusal(
    session_id: str, state: SessionState, subtask: str, agent: AgentState | None, text: str
) -> str | None:
    """Why the user's `text` cannot go to an agent now (None: it can, if it has a
    conversation; `agent` is None when the session has no such subtask)."""
    refused = "only a running agent can be steered"
    if agent is None:
        return f"session {session_id} has no subtask {subtask!r}"
    if not text.strip():
        return "nothing to send: the message is empty"
    if state is not S.RUNNING:
        return f"session {session_id} is {state.value}: {refused}"
    if agent is not A.RUNNING:
        return f"agent {subtask} is {agent.value}: {refused}"
    return None


def session_refusal(
    session_id: str, state: SessionState, control: Control, spent: float, budget: float | None
) -> str | None:
    """Why `control` cannot apply to a session in `state` now (None: it can): it has ended,
    or it would go on spending past its budget."""
    effect = SESSION_CONTROLS[state][control]
    if effect is Effect.REFUSE:
        return f"session {session_id} is {state.value}: cannot {control} it"
    if effect in (Effect.RELEASE, Effect.RESUME) and budget is not None and spent >= budget:
        return (
            f"session {session_id} has spent {usd(spent)} of its {usd(budget)} "
            "budget: raise the budget first"
        )
    return None


def agent_refusal(
    session_id: str,
    state: SessionState,
    subtask: str,
    agent: AgentState | None,
    control: Control,
) -> str | None:
    """Why `control` cannot apply to one agent now (None: it can); `agent` is None when the
    session has no such subtask."""
    if state.terminal:
        return f"session {session_id} is {state.value}: cannot {control} it"
    if agent is None:
        return f"session {session_id} has no subtask {subtask!r}"
    if agent.terminal:  # whether held or not (agent_effect)
        return f"agent {subtask} is {agent.value}: cannot {control} it"
    return None
