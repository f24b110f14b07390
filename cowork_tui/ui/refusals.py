"""A key that cannot act now says why, instead of doing nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, TextArea


def explain_refusal(
    screen: Screen[Any], event: events.Key, why_not: Callable[[str], str | None]
) -> None:
    """When `event` is a key of `screen` whose action does not apply now, notify `why_not`."""
    if isinstance(screen.focused, Input | TextArea):
        return  # typing, not a command
    for binding in screen.BINDINGS:
        if isinstance(binding, Binding) and event.key in binding.key.split(","):
            action = binding.action.split("(", 1)[0]
            if screen.check_action(action, ()) is False and (why := why_not(action)):
                screen.notify(why, severity="warning", markup=False)
                event.stop()
            return
