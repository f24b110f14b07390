"""Short, fixed-width texts for tokens, costs, moments and elapsed time."""

from __future__ import annotations

from datetime import datetime

from ..core.models import AgentRecord, SessionRecord


def tokens(count: int) -> str:
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.2f}M"


def cost(usd: float) -> str:
    return f"${usd:.4f}" if usd < 10 else f"${usd:,.2f}"


def elapsed(record: AgentRecord | SessionRecord, now: datetime) -> float | None:
    """Seconds since it started: final once it ended, else up to `now`."""
    if record.duration_s is not None:
        return record.duration_s
    if record.started_at is None:
        return None
    end = record.ended_at or now
    return max(0.0, (end - record.started_at).total_seconds())


def when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M")
