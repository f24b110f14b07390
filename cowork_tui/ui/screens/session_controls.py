"""The sessions screen's controls: the verb of each key, and why one does not apply now."""

from __future__ import annotations

from ...core.engine.lifecycle import Control
from ...core.models import AgentState, SessionRecord, SessionState

SESSION_ACTIONS = {
    "pause_session": Control.PAUSE,
    "resume_session": Control.RESUME,
    "cancel_session": Control.CANCEL,
}
AGENT_ACTIONS = {
    "pause_agent": Control.PAUSE,
    "resume_agent": Control.RESUME,
    "cancel_agent": Control.CANCEL,
}


def why_not(action: str, record: SessionRecord | None, subtask: str | None) -> str | None:
    """Why `action` does not apply to the shown session or its focused agent now."""
    if record is None:
        return "No session yet: launch one from the marketplace (1, then l)"
    if action in SESSION_ACTIONS:
        verb = SESSION_ACTIONS[action].value
        return f"Session {record.id[-6:]} is {record.state.value}: nothing to {verb}"
    if action == "set_budget":
        return f"Session {record.id[-6:]} is {record.state.value}: its budget is final"
    if action == "steer_agent":
        return why_not_steer(record, subtask)
    if action in AGENT_ACTIONS or action == "open_output":
        agent = record.agent(subtask) if subtask else None
        if agent is None:
            return "Focus an agent first (tab, or v for the table)"
        verb = AGENT_ACTIONS[action].value if action in AGENT_ACTIONS else "open"
        return f"Agent {agent.subtask} is {agent.state.value}: nothing to {verb}"
    return None


def why_not_steer(record: SessionRecord | None, subtask: str | None) -> str | None:
    """Why the focused agent cannot take a message now (None: it can)."""
    agent = record.agent(subtask) if record and subtask else None
    if record is None or agent is None:
        return "Focus an agent first (tab, or v for the table)"
    only = "only a running Claude agent can be steered"
    if agent.pgid is not None:
        return f"Agent {agent.subtask} is a command agent: {only}"
    if record.simulated:
        return f"Agent {agent.subtask} is simulated (demo backend): {only}"
    if record.state is not SessionState.RUNNING:
        return f"Session {record.id[-6:]} is {record.state.value}: {only}"
    if agent.state is not AgentState.RUNNING:
        return f"Agent {agent.subtask} is {agent.state.value}: {only}"
    return None
