"""A plugin's `dependencies` (Claude Code's field, in plugin.json or the marketplace entry): other
plugins, each `"name"`, `"name@marketplace"` or `{"name", "marketplace"?, "version"?}`, the
version an npm semver range (`^1.2`, `~1.2.3`, `>=1 <2 || 3.x`), matched by `semantic_version`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from semantic_version import NpmSpec, Version


@dataclass(frozen=True)
class Dependency:
    name: str
    marketplace: str | None = None  # None: the dependent's own marketplace
    version: str | None = None  # a semver range

    def ref(self, default_marketplace: str) -> str:
        return f"{self.name}@{self.marketplace or default_marketplace}"

    def __str__(self) -> str:
        where = f"@{self.marketplace}" if self.marketplace else ""
        return f"{self.name}{where}" + (f" {self.version}" if self.version else "")


def parse_dependencies(value: Any, where: str) -> tuple[list[Dependency], list[str]]:
    """The dependencies in `value`, and a problem (naming `where`) for each one unreadable."""
    if value is None:
        return [], []
    if not isinstance(value, list):
        return [], [f"{where}: must be a list of plugin names or objects"]
    found, problems = [], []
    for i, entry in enumerate(value):
        dependency = _dependency(entry)
        if dependency is None:
            problems.append(
                f"{where}[{i}]: must be a plugin name or {{name, marketplace?, version?}}"
            )
        elif dependency.version and not valid_range(dependency.version):
            problems.append(f"{where}[{i}].version: {dependency.version!r} is not a semver range")
        else:
            found.append(dependency)
    return found, problems


def _dependency(entry: Any) -> Dependency | None:
    if isinstance(entry, str) and entry.strip():
        plugin, _, at = entry.strip().partition("@")
        return Dependency(plugin, at or None) if plugin else None
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        return None
    name, market, version = entry["name"].strip(), entry.get("marketplace"), entry.get("version")
    if not name or not isinstance(market, str | None) or not isinstance(version, str | None):
        return None
    return Dependency(name, market or None, (version or "").strip() or None)


def valid_range(spec: str) -> bool:
    try:
        NpmSpec(spec)
    except ValueError:
        return False
    return True


def satisfies(version: str | None, spec: str) -> bool:
    """Whether `version` (None: unknown, never satisfies a range) is in the npm range `spec`."""
    if spec.strip() in ("", "*", "x", "latest"):
        return True
    try:
        return bool(NpmSpec(spec).match(Version.coerce((version or "").strip().lstrip("v"))))
    except ValueError:
        return False
