"""The marketplace rows kept for the TUI's next first screen: valid until what they came from
changes, and never a reason to fail."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cowork_tui.core.marketplace.rows_cache import load_rows, save_rows

ROWS = [("a@m", [["a", ""], ["m", ""], ["available", ""]])]


def test_rows_are_kept_until_a_file_they_came_from_changes(tmp_path: Path) -> None:
    cache, listing, folder = tmp_path / "rows.json", tmp_path / "marketplaces.json", tmp_path / "m"
    (folder / "plugins" / "a").mkdir(parents=True)
    agent = folder / "plugins" / "a" / "agent.md"
    agent.write_text("one")
    listing.write_text("[]")
    save_rows(cache, ROWS, [listing], [folder])
    assert load_rows(cache, [listing]) == [(k, v) for k, v in ROWS]
    agent.write_text("two, longer")  # a plugin's file changed
    assert load_rows(cache, [listing]) is None
    save_rows(cache, ROWS, [listing], [folder])
    (folder / "plugins" / "b").mkdir()
    (folder / "plugins" / "b" / "new.md").write_text("x")  # a plugin was added
    assert load_rows(cache, [listing]) is None
    save_rows(cache, ROWS, [listing], [folder])
    listing.write_text('["another marketplace"]')  # a marketplace was added
    assert load_rows(cache, [listing]) is None
    cache.write_text("{ broken")
    assert load_rows(cache, [listing]) is None  # a broken cache is no cache


def test_the_cache_loads_without_pydantic_or_yaml() -> None:
    code = (
        "import sys, cowork_tui.core.marketplace.rows_cache, cowork_tui.core.paths\n"
        "print(','.join(m for m in ('pydantic', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
