"""The plugin a Claude agent has loaded: the item's skills and commands exactly as cowork-tui found
them (a marketplace's shared `skills/` folder, listed paths, nested commands), named by the item,
so `/item:name` and the Skill tool mean what the plan says. Its MCP servers and hooks are in it
only when the user agreed to them; its other files are linked, for `${CLAUDE_PLUGIN_ROOT}`. It
is private, as outputs are (0700 folders, whatever the umask)."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from ...models import Item
from ...names import inside
from ..output_files import private_folder

# what the staged folder defines itself; every other top-level entry of the plugin is linked
_OWN = frozenset(
    {".claude-plugin", "skills", "commands", "agents", "hooks", ".mcp.json", ".lsp.json"}
)


def stage_plugin(item: Item, into: Path, *, extras: bool) -> Path:
    """The plugin folder for `item` under `into` (built once; later agents of the session
    reuse it)."""
    root = inside(private_folder(into), item.name)
    if root.is_dir():
        return root
    assert item.path is not None, "only an item on disk runs"
    building = into / f".{item.name}.building"
    shutil.rmtree(building, ignore_errors=True)
    private_folder(building / ".claude-plugin")
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
    (building / ".claude-plugin" / "plugin.json").chmod(0o600)
    for child in item.path.iterdir():
        if child.name not in _OWN:
            (building / child.name).symlink_to(child.resolve())
    linked: set[str] = set()
    for skill in item.skills:
        assert skill.path is not None
        if skill.kind == "skill":  # its folder, followed by Claude Code as a skill
            folder = skill.path.parent.resolve()
            name = _free(folder.name, linked)
            private_folder(building / "skills")
            (building / "skills" / name).symlink_to(folder)
        else:  # a copy: Claude Code does not follow links to commands
            *subdirs, stem = skill.name.split(":")
            target = building.joinpath("commands", *subdirs, f"{stem}.md")
            private_folder(target.parent)
            shutil.copyfile(skill.path, target)
    building.rename(root)
    return root


def _free(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate
