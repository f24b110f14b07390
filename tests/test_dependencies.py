"""A plugin's `dependencies`: read from Claude Code's forms, versions as npm semver ranges."""

from __future__ import annotations

import pytest

from cowork_tui.core.marketplace.dependencies import Dependency, parse_dependencies, satisfies


@pytest.mark.parametrize(
    ("version", "spec", "holds"),
    [
        ("1.9.0", "^1.2.3", True),
        ("2.0.0", "^1.2.3", False),
        ("0.3.0", "^0.2.3", False),
        ("1.2.9", "~1.2", True),
        ("1.3.0", "~1.2", False),
        ("3.1.0", ">=1 <2 || 3.x", True),
        ("2.5.0", ">=1 <2 || 3.x", False),
        ("v1.2.5", "1.2", True),
        ("0.0.1", "*", True),
        (None, "^1", False),
        ("not-a-version", "^1", False),
    ],
)
def test_versions_match_npm_ranges(version: str | None, spec: str, holds: bool) -> None:
    assert satisfies(version, spec) is holds


def test_dependencies_are_read_in_every_form_and_bad_ones_named() -> None:
    found, problems = parse_dependencies(
        ["base", "tools@other", {"name": "lib", "version": "^2"}, 7, {"name": "x", "version": "?"}],
        "plugin.json: dependencies",
    )
    assert found == [
        Dependency("base"),
        Dependency("tools", "other"),
        Dependency("lib", None, "^2"),
    ]
    assert problems == [
        "plugin.json: dependencies[3]: must be a plugin name or {name, marketplace?, version?}",
        "plugin.json: dependencies[4].version: '?' is not a semver range",
    ]
    assert parse_dependencies("base", "e")[1] == ["e: must be a list of plugin names or objects"]
