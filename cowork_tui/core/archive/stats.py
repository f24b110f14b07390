"""An item's statistics: its local history once there is enough, else what its marketplace
publishes."""

from __future__ import annotations

from ..models import Frozen, Item

MIN_STATS_SESSIONS = 3  # local item statistics replace the published ones from this many


class ItemStats(Frozen):
    """An item's statistics from this machine's history (shown instead of the published ones).

    Sessions counted: those that ran to an end of their own — COMPLETED (partial included),
    FAILED or CANCELLED; INTERRUPTED ones say nothing about the item, and simulated ones (the
    demo backend) say nothing real.
    """

    ref: str  # plugin@marketplace
    sessions: int
    avg_session_minutes: float | None  # over COMPLETED sessions
    completion_rate: float | None  # COMPLETED / sessions
    source: str = "local history"

    @classmethod
    def for_item(cls, item: Item, local: dict[str, ItemStats]) -> ItemStats | None:
        """The figures to show for `item`: its local history once there is enough, else the
        values its marketplace publishes (source "published"), else None."""
        if item.ref in local:
            return local[item.ref]
        published = item.cowork
        if published.completion_rate is None and published.avg_session_minutes is None:
            return None
        return cls(
            ref=item.ref,
            sessions=0,
            avg_session_minutes=published.avg_session_minutes,
            completion_rate=published.completion_rate,
            source="published",
        )
