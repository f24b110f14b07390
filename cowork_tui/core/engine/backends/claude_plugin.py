"""The plugin a Claude agent has loaded: the item's skills and commands exactly as cowork-tui found
them (a marketplace's shared `skills/` folder, listed paths, nested commands), named by the item,
so `/item:name` and the Skill tool mean what the plan says. Its MCP servers and hooks are in it
only when the user agreed to them; its other files are linked, for `${CLAUDE_PLUGIN_ROOT}`."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from ...models import Item

# what the staged folder defines itself; every other top-level entry of the plugin is linked
_OWN = frozenset(
    {".claude-plugin", "skills", "commands", "agents", "hooks", ".mcp.json", ".lsp.json"}
)


def stage_plugin(item: Item, into: Path, *, extras: bool) -> Path:
    """The plugin folder for `item` under `into` (built once; later agents of the session
    reuse it)."""
    root = into / item.name
    if root.is_dir():
        return root
    assert item.path is not None, "only an item on disk runs"
    building = into / f".{item.name}.building"
    shutil.rmtree(building, ignore_errors=True)
    (building / ".claude-plugin").mkdir(parents=True, mode=0o700)
    manifest: dict[str, Any] = {"name": item.name, "description": item.description}
    if item.version:
        manifest["version"] = item.version
    if extras:
        manifest["mcpServers"] = {server.name: server.config for server in item.mcp_servers}
        events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for hook in item.hooks:
            events[hook.event].append(hook.config)
        manifest["hooks"] = dict(events)
    (building / ".claude-plugin" / "plugin.json").write_text(json.dumps(manifest, indent=2))
    for child in item.path.iterdir():
        if child.name not in _OWN:
            (building / child.name).symlink_to(child.resolve())
    linked: set[str] = set()
    for skill in item.skills:
        assert skill.path is not None
        if skill.kind == "skill":  # its folder, followed by Claude Code as a skill
            folder = skill.path.parent.resolve()
            name = _free(folder.name, linked)
            (building / "skills").mkdir(exist_ok=True)
            (building / "skills" / name).symlink_to(folder)
        else:  # a copy: Claude Code does not follow links to commands
            *subdirs, stem = skill.name.split(":")
            target = building.joinpath("commands", *subdirs, f"{stem}.md")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(skill.path, target)
    building.rename(root)
    return root


def _free(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate
