"""`?`: every key of the app."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

KEYS = """\
# Keys

| where | key | does |
|---|---|---|
| everywhere | `1` `2` `3` | marketplace · sessions (monitor) · history |
| | `ctrl+p` | command palette (every action) |
| | `j` `k` `Home` `End` | down · up · first · last, in every list |
| | `?` | this help |
| | `q` | quit (asks while sessions run in process: archived INTERRUPTED; on Temporal they go on) |
| marketplace | `/` | filter items |
| | `enter` | details |
| | `l` | launch a session of the item |
| | `i` | install / uninstall (a remote item is fetched first) |
| | `a` | add a marketplace: a folder, a git URL or owner/repo |
| | `u` | update the highlighted item's marketplace (or all): git pull, re-read |
| launcher | `ctrl+s` | launch · `escape` back |
| | `ctrl+t` | see what an item can do on this machine, and install it |
| monitor | `p` `r` `c` | pause · resume · cancel the session (cancel asks) |
| | `b` | raise the session's budget (paused at its budget, it goes on at once) |
| | `P` `R` `C` | pause · resume · cancel the focused agent |
| | `m` | message the focused Claude agent: it reads it at its next turn |
| | `v` | agents as a grid of panels, or as a table |
| | `tab` · arrows, `h` `j` `k` `l` | to the agents · from agent to agent |
| | `enter` | the focused agent's full output |
| | `s` | in the table: sort by state, progress, tokens, cost, time |
| history | `/` | search |
| | `enter` | session details |
| | `e` | export Markdown and JSON |
| | `n` | re-run as a new session |
| | `R` | resume an INTERRUPTED session under its id (what succeeded is kept) |
| dialogs | `y` / `n` `escape` | confirm / decline |
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Close"),
        Binding("question_mark", "app.pop_screen", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(KEYS)
