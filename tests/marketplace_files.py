"""Write raw marketplaces (any JSON, any agent text) for the marketplace tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_raw_marketplace(
    root: Path, manifest: Any, agents: dict[str, dict[str, str]] | None = None
) -> Path:
    """`manifest`: the marketplace.json content (a str is written as is); `agents`: plugin
    folder (under root/plugins) → {file name: text}. Returns the marketplace.json path."""
    (root / ".claude-plugin").mkdir(parents=True, exist_ok=True)
    for plugin, files in (agents or {}).items():
        (root / "plugins" / plugin / "agents").mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (root / "plugins" / plugin / "agents" / name).write_text(text)
    file = root / ".claude-plugin" / "marketplace.json"
    file.write_text(manifest if isinstance(manifest, str) else json.dumps(manifest, indent=2))
    return file


def agent_text(name: str, **fields: str) -> str:
    lines = [f"name: {name}", f"description: the {name} agent"]
    lines += [f"{key}: {value}" for key, value in fields.items()]
    return "---\n" + "\n".join(lines) + "\n---\nYou are the " + name + " agent.\n"


def entry(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "source": f"./plugins/{name}", **extra}
