"""The command palette (ctrl+p): every action of the app, those of the current screen first."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (label, action, help); actions without a namespace run on the current screen
ACTIONS = [
    ("Marketplace", "app.switch_mode('marketplace')", "browse and install items (1)"),
    ("Sessions", "app.switch_mode('sessions')", "the live monitor (2)"),
    ("History", "app.switch_mode('history')", "archived sessions (3)"),
    ("Help", "app.help", "every key (?)"),
    ("Quit", "app.quit", "asks first while sessions run (q)"),
    ("Filter items", "filter", "marketplace (/)"),
    ("Item details", "item_details", "marketplace: the highlighted item (enter)"),
    ("Launch a session", "launch", "marketplace: the highlighted item (l)"),
    ("Install or uninstall", "install", "marketplace: the highlighted item (i)"),
    ("Add a marketplace", "add_marketplace", "marketplace: folder, git URL, owner/repo (a)"),
    ("Update marketplaces", "update_marketplaces", "marketplace: git pull, re-read (u)"),
    ("Pause session", "pause_session", "monitor (p)"),
    ("Resume session", "resume_session", "monitor (r)"),
    ("Cancel session", "cancel_session", "monitor, asks first (c)"),
    ("Set budget", "set_budget", "monitor: raise the session's budget, and it goes on (b)"),
    ("Pause agent", "pause_agent", "monitor: the focused agent (P)"),
    ("Resume agent", "resume_agent", "monitor: the focused agent (R)"),
    ("Cancel agent", "cancel_agent", "monitor: the focused agent (C)"),
    ("Message agent", "steer_agent", "monitor: to the focused Claude agent (m)"),
    ("Open agent output", "open_output", "monitor: the focused agent (enter)"),
    ("Search history", "search", "history (/)"),
    ("Session details", "details", "history (enter)"),
    ("Export session", "export", "history: Markdown and JSON (e)"),
    ("Re-run session", "rerun", "history: as a new session (n)"),
    ("Resume interrupted session", "resume", "history: continue it under its id (R)"),
]


class CoworkCommands(Provider):
    def _applicable(self) -> list[tuple[str, str, str]]:
        screen = self.screen  # the screen under the palette
        found = []
        for label, action, help_text in ACTIONS:
            if action.startswith("app."):
                found.append((label, action, help_text))
            else:
                name = action.split("(")[0]
                has = hasattr(screen, f"action_{name}")
                if has and screen.check_action(name, ()) is not False:
                    found.append((label, action, help_text))
        return found

    async def _run(self, action: str) -> None:
        await self.app.run_action(action, default_namespace=self.screen)

    async def discover(self) -> Hits:
        for label, action, help_text in self._applicable():
            yield DiscoveryHit(label, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, action, help_text in self._applicable():
            score = matcher.match(label)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(label), partial(self._run, action), help=help_text
                )
