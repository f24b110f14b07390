"""Build throwaway marketplaces on disk for tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
