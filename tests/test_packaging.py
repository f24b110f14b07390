"""The wheel ships every bundled file: setuptools expands package-data globs with
`glob(recursive=True)`, which skips dot-folders such as `.claude-plugin`."""

from __future__ import annotations

import glob
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "cowork_tui"


def test_package_data_covers_the_bundled_marketplace() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["cowork_tui"]
    shipped = {
        Path(match)
        for pattern in patterns
        for match in glob.glob(pattern, root_dir=PACKAGE, recursive=True)
    }
    bundled = {p.relative_to(PACKAGE) for p in (PACKAGE / "bundled").rglob("*") if p.is_file()}
    assert bundled, "no bundled marketplace found"
    assert bundled <= shipped, sorted(map(str, bundled - shipped))
