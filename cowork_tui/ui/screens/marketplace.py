"""Marketplace (mode 1): every item of every marketplace, details, install, launch."""

from __future__ import annotations

from collections.abc import Callable

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Static

from ...core.archive.stats import ItemStats
from ...core.archive.store import Archive
from ...core.errors import InputError
from ...core.marketplace.catalog import Catalog
from ...core.marketplace.sources import REMOTE
from ...core.marketplace.trust import describe_trust
from ...core.models import Item, Marketplace
from ...core.text import one_line
from ..messages import LauncherRequested
from ..refusals import explain_refusal
from ..widgets.item_details import item_details
from ..widgets.item_rows import COLUMNS, row_cells, row_texts
from ..widgets.list_table import ListTable
from .add_marketplace import AddMarketplaceScreen
from .confirm import ConfirmScreen

CHECK_SECONDS = 5  # how often the marketplace files are looked at for changes


def _counts(market: Marketplace) -> str:
    warned = sum(1 for i in market.items if i.warnings)
    return f"{len(market.items)} items" + (f", {warned} with warnings" if warned else "") + (
        f"; {len(market.warnings)} marketplace warning(s)" if market.warnings else "")  # fmt: skip


def broken(market: Marketplace) -> Item:
    """A marketplace that cannot be read, as a row of its own: what is wrong shows in it."""
    return Item(
        name=f"({market.name})",
        marketplace=market.name,
        description=f"The marketplace at {market.origin} cannot be read.",
        available=False,
        errors=market.errors,
    )


def is_remote(item: Item) -> bool:
    """A remote entry not installed: installing it fetches it."""
    return not item.available and not item.errors and item.source.startswith(REMOTE)


class MarketplaceScreen(Screen[None]):
    SUB_TITLE = "Marketplace"
    AUTO_FOCUS = "#items"
    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("enter", "item_details", "Details", show=False),
        Binding("l", "launch", "Launch"),
        Binding("i", "install", "(Un)install"),
        Binding("a", "add_marketplace", "Add"),
        Binding("u", "update_marketplaces", "Update", show=False),  # in help: the footer fits 80
    ]
    item: reactive[Item | None] = reactive(None)

    def __init__(
        self,
        catalog: Catalog,
        archive: Archive,
        remember: Callable[[list[tuple[str, list[list[str]]]]], None] = lambda rows: None,
    ) -> None:
        """`remember` keeps the rows shown, for the next start's first screen."""
        super().__init__()
        self.catalog = catalog
        self.archive = archive  # for the items' local statistics
        self.remember = remember
        self.items: dict[str, Item] = {}
        self.stats: dict[str, ItemStats] = {}
        self._checks: Timer | None = None

    def compose(self) -> ComposeResult:
        self._read_catalog()  # the first item known before the footer shows its keys
        self.set_reactive(MarketplaceScreen.item, next(iter(self.items.values()), None))
        yield Header()
        yield Input(placeholder="filter: name, marketplace, description", id="filter")
        with Horizontal():
            with Vertical(id="items-pane"):
                yield ListTable(id="items", zebra_stripes=True)
            with VerticalScroll(id="details", can_focus=True):
                yield Static(id="details-text")
        yield Static(id="progress", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#filter").display = False
        self.query_one("#progress").display = False
        table = self.query_one("#items", DataTable)
        table.add_columns(*COLUMNS)
        self._fill("")
        self._read_stats()
        self._remember_rows()

    def reload(self) -> None:
        """Read the catalog and local stats again, keeping the cursor on the same item."""
        self._read_catalog()
        self._fill(self.query_one("#filter", Input).value)
        self._read_stats()
        self._remember_rows()

    @work(thread=True, exclusive=True, group="rows")
    def _remember_rows(self) -> None:
        self.remember([(ref, row_cells(item)) for ref, item in self.items.items()])

    def _read_catalog(self) -> None:
        markets = self.catalog.marketplaces()
        self._stamp = self.catalog.stamp()
        self.items = {item.ref: item for market in markets for item in market.items}
        self.items |= {(b := broken(m)).ref: b for m in markets if m.errors}

    _stamp: tuple[float, ...] = ()
    _busy = False  # a fetch is under way in a thread: the catalog is changing

    def on_screen_resume(self) -> None:
        self._check_disk()
        if self._checks is None:
            self._checks = self.set_interval(CHECK_SECONDS, self._check_disk)
        self._checks.resume()

    def on_screen_suspend(self) -> None:
        if self._checks is not None:
            self._checks.pause()  # hidden: nothing to look at

    def _check_disk(self) -> None:
        """Marketplaces added or items installed meanwhile (e.g. with the CLI) show up."""
        if not self._busy and self.catalog.stamp() != self._stamp:
            self.catalog.reload()
            self.reload()

    @work(thread=True, exclusive=True, group="stats")
    def _read_stats(self) -> None:
        """The archive's statistics, read off the UI's thread."""
        stats = self.archive.item_stats()
        self.app.call_from_thread(self._got_stats, stats)

    def _got_stats(self, stats: dict[str, ItemStats]) -> None:
        self.stats = stats
        self._show(self.item)

    def _fill(self, query: str) -> None:
        table = self.query_one("#items", DataTable)
        keep = self.item.ref if self.item else None
        table.clear()
        words = query.lower().split()
        for ref, item in self.items.items():
            haystack = f"{item.name} {item.marketplace} {item.description}".lower()
            if all(word in haystack for word in words):
                table.add_row(*row_texts(row_cells(item)), key=ref)
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))
        self._show(self._highlighted())

    def _highlighted(self) -> Item | None:
        table = self.query_one("#items", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.items.get(key or "")

    def _show(self, item: Item | None) -> None:
        self.item = item
        details = self.query_one("#details-text", Static)
        if item is None:
            details.update("No item matches.")
        else:
            details.update(item_details(item, ItemStats.for_item(item, self.stats)))

    def _applies(self, item: Item | None) -> tuple[bool, bool]:
        """Whether `l` launch and `i` install/uninstall apply to this item."""
        if item is not None and is_remote(item):
            return False, True
        if item is None or not item.available:
            return False, False
        return item.runnable, not self.catalog.is_bundled(item)

    def watch_item(self, old: Item | None, new: Item | None) -> None:
        if self._applies(old) != self._applies(new):  # the footer's keys change: show them
            self.refresh_bindings()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(self.items.get(event.row_key.value or ""))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_item_details()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#items").focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "item_details":
            return self.item is not None
        if action in ("launch", "install"):
            launch, install = self._applies(self.item)
            return (launch if action == "launch" else install) and not self._busy
        if action in ("add_marketplace", "update_marketplaces"):
            return not self._busy
        if action == "clear_filter":
            return bool(self.query_one("#filter").display)
        return True

    def on_key(self, event: events.Key) -> None:
        explain_refusal(self, event, self._why_not)

    def _why_not(self, action: str) -> str | None:
        item = self.item
        if item is None:
            return "No item matches the filter"
        if self._busy:
            return "A fetch is under way: wait for it to end"
        if action == "launch":
            return f"{item.ref} cannot run: {item.not_runnable}"
        if action == "install":
            if self.catalog.is_bundled(item):
                return f"{item.ref} is bundled: it comes installed, for good"
            return f"{item.ref} cannot be installed: {item.not_runnable}"
        return None

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.query_one("#items").focus()

    def action_item_details(self) -> None:
        self.query_one("#details").focus()

    def action_launch(self) -> None:
        if self.item is not None:
            self.post_message(LauncherRequested(self.item))

    def action_install(self) -> None:
        item = self.item
        if item is None:
            return
        catalog = self.catalog
        if item.installed and not item.trusted and catalog.needs_confirmation(item):
            self._confirm_install(item, "What it can do changed since you installed it.")
        elif item.installed:
            self.app.push_screen(
                ConfirmScreen(f"Uninstall {item.ref}?"),
                lambda yes: self._run(catalog.uninstall, item.ref, "uninstalled") if yes else None,
            )
        elif is_remote(item):
            self._fetch(item)
        elif catalog.needs_confirmation(item):
            self._confirm_install(item, "It can act on this machine:")
        else:
            self._run(lambda ref: catalog.install(ref, yes=True), item.ref, "installed")

    def _confirm_install(self, item: Item, why: str) -> None:
        needs = [d.ref(item.marketplace) for d, _ in self.catalog.unmet_dependencies(item)]
        also = f"\n\nAlso installs what it depends on: {', '.join(needs)}" if needs else ""
        trust = describe_trust(item)
        body = f"{why}\n\n{trust}{also}" if trust else f"{item.source}{also}"
        self.app.push_screen(
            ConfirmScreen(f"Install {item.ref}?", body),
            lambda yes: self._install([item.ref, *needs]) if yes else None,
        )

    # --- remote items and marketplaces: fetched in a thread, progress shown meanwhile ---

    def _fetch(self, item: Item) -> None:
        self._in_thread(lambda say: self.catalog.fetch(item.ref, progress=say)[1],
                        f"fetching {item.ref}", self._fetched_item)  # fmt: skip

    def _fetched_item(self, item: object) -> None:
        assert isinstance(item, Item)
        self._confirm_install(item, "Fetched; it can act on this machine:")

    def _install(self, refs: list[str]) -> None:
        def install(say: Callable[[str], None]) -> object:
            return [self.catalog.install(ref, yes=True, progress=say).ref for ref in refs]

        self._in_thread(install, f"installing {refs[0]}", lambda done: self._done(
            f"installed {', '.join(done) if isinstance(done, list) else refs[0]}"))  # fmt: skip

    def action_add_marketplace(self) -> None:
        self.app.push_screen(AddMarketplaceScreen(), self._add)

    def _add(self, source: str | None) -> None:
        if not source:
            return

        def add(say: Callable[[str], None]) -> object:
            market, note = self.catalog.add_marketplace(source, progress=say)
            return f"marketplace {market.name}: {note}" if note else (
                f"added marketplace {market.name}: {_counts(market)}")  # fmt: skip

        self._in_thread(add, f"adding {source}", self._done)

    def action_update_marketplaces(self) -> None:
        """The highlighted item's marketplace when it is one the user added; else all."""
        item = self.item
        added = {m.name for m in self.catalog.marketplaces() if m.kind == "user"}
        name = item.marketplace if item is not None and item.marketplace in added else None

        def update(say: Callable[[str], None]) -> object:
            done = self.catalog.update_marketplaces(name, progress=say)
            lines = [f"{m.name} ({what}): {_counts(m)}" for m, what in done]
            return "updated " + ("; ".join(lines) or "nothing: no marketplace added")

        self._in_thread(update, f"updating {name or 'every marketplace'}", self._done)

    def _done(self, message: object) -> None:
        self.notify(str(message), markup=False)
        for warning in self.catalog.warnings:
            self.notify(warning, severity="warning", markup=False)
        self.catalog.reload()
        self.reload()

    def _in_thread(
        self,
        job: Callable[[Callable[[str], None]], object],
        what: str,
        then: Callable[[object], None],
    ) -> None:
        """`job` in a thread, hearing progress lines; `then` with its result on the UI's."""
        self._busy = True
        self._progress(what)
        self.refresh_bindings()
        self._job(job, what, then)

    @work(thread=True, exclusive=True, group="fetch")
    def _job(
        self,
        job: Callable[[Callable[[str], None]], object],
        what: str,
        then: Callable[[object], None],
    ) -> None:
        def say(line: str) -> None:
            self.app.call_from_thread(self._progress, f"{what}: {one_line(line, 200)}")

        try:
            result = job(say)
        except (InputError, OSError) as exc:
            self.app.call_from_thread(self._job_ended, None, str(exc))
        else:
            self.app.call_from_thread(self._job_ended, lambda: then(result), None)

    def _job_ended(self, then: Callable[[], None] | None, error: str | None) -> None:
        self._busy = False
        self.query_one("#progress").display = False
        self.refresh_bindings()
        if error is not None:
            self.notify(error, severity="error", markup=False)
        elif then is not None:
            then()

    def _progress(self, line: str) -> None:
        bar = self.query_one("#progress", Static)
        bar.display = True
        bar.update(line)

    def _run(self, change: Callable[[str], Item], ref: str, done: str) -> None:
        try:
            change(ref)
        except (InputError, OSError) as exc:  # OSError: the home is read-only, the disk full
            self.notify(str(exc), title=ref, severity="error", markup=False)
            return
        self.notify(f"{ref} {done}", markup=False)
        self.reload()
