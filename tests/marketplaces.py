"""Build throwaway marketplaces on disk for tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml


def write_marketplace(
    root: Path, plugins: dict[str, dict[str, Any]], name: str = "testmarket"
) -> Path:
    """`plugins`: name → {"agents": {agent: frontmatter (+ "body")}, "cowork": {...}}."""
    entries = []
    for plugin, spec in plugins.items():
        folder = root / "plugins" / plugin
        (folder / "agents").mkdir(parents=True, exist_ok=True)
        for agent, front in spec.get("agents", {}).items():
            meta = {"name": agent, "description": f"{agent} agent"} | {
                k: v for k, v in front.items() if k != "body"
            }
            text = f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n{front.get('body', '')}\n"
            (folder / "agents" / f"{agent}.md").write_text(text)
        entry: dict[str, Any] = {
            "name": plugin,
            "description": spec.get("description", f"{plugin} test item"),
            "source": f"./plugins/{plugin}",
        }
        if "cowork" in spec:
            entry["cowork"] = spec["cowork"]
        entries.append(entry)
    manifest = {"name": name, "owner": {"name": "tests"}, "plugins": entries}
    (root / ".claude-plugin").mkdir(parents=True, exist_ok=True)
    (root / ".claude-plugin" / "marketplace.json").write_text(json.dumps(manifest, indent=2))
    return root


def cli(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real `cowork-tui` command, with everything under `home`."""
    return subprocess.run(
        [sys.executable, "-m", "cowork_tui", *args],
        capture_output=True, text=True, cwd=cwd, timeout=120,
        env=os.environ | {"COWORK_TUI_HOME": str(home)},
    )  # fmt: skip


def prepared_home(
    tmp_path_factory: pytest.TempPathFactory, items: dict[str, dict[str, Any]]
) -> Path:
    """A COWORK_TUI_HOME with a short cancel grace and `items` added and installed."""
    home = tmp_path_factory.mktemp("home")
    (home / "config").mkdir()
    (home / "config" / "config.toml").write_text("grace_seconds = 0.5\n")
    market = write_marketplace(tmp_path_factory.mktemp("market"), items)
    assert cli(home, "marketplace", "add", str(market)).returncode == 0
    for item in items:
        assert cli(home, "install", "--yes", f"{item}@testmarket").returncode == 0
    return home
