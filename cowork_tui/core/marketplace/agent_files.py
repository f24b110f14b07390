"""One agent file (`agents/*.md`): YAML frontmatter + a Markdown body, as Claude Code reads it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..models import AgentSpec
from ..names import RULE, is_safe
from .frontmatter import PluginFileError, read_markdown, split_list

# frontmatter keys Claude Code knows for subagents, plus the cowork ones (command, timeout)
KNOWN_KEYS = frozenset(
    {
        "name", "description", "tools", "disallowedTools", "model", "color", "maxTurns",
        "permissionMode", "skills", "hooks", "mcpServers", "memory", "effort", "background",
        "isolation", "initialPrompt", "command", "timeout",
    }
)  # fmt: skip


def load_agent(path: Path) -> tuple[AgentSpec, list[str]]:
    """The agent of `path` and warnings about it (PluginFileError when it is unusable)."""
    meta, body, warnings = read_markdown(path, KNOWN_KEYS, required=True)
    return _spec(path, meta, body), warnings


def _spec(path: Path, meta: dict[str, Any], body: str) -> AgentSpec:
    def fail(field: str, message: str) -> PluginFileError:
        return PluginFileError(f"{path}: {field}: {message}")

    name = meta.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail("name", "required, a non-empty string")
    if not is_safe(name.strip()):
        raise fail("name", RULE)
    description = meta.get("description", "")
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise fail("description", "must be a string")
    model = _optional_str(meta, "model", fail)
    color = _optional_str(meta, "color", fail)
    command = _optional_str(meta, "command", fail)
    if "command" in meta and not (command or "").strip():  # `command:` alone is no model agent
        raise fail("command", "must not be empty")
    max_turns = meta.get("maxTurns")
    if max_turns is not None and (not _is_int(max_turns) or max_turns < 1):
        raise fail("maxTurns", "must be a whole number of at least 1")
    timeout = meta.get("timeout")
    if timeout is not None and not (_is_number(timeout) and 0 < timeout < math.inf):
        raise fail("timeout", "must be a number of seconds above 0")
    return AgentSpec(
        name=name.strip(),
        description=description.strip(),
        kind="command" if command else "model",
        model=model,
        tools=_tools(meta.get("tools"), fail),
        max_turns=max_turns,
        color=color,
        system_prompt=body.strip(),
        command=command,
        timeout=float(timeout) if timeout is not None else None,
        path=path,
    )


def _optional_str(meta: dict[str, Any], key: str, fail: Any) -> str | None:
    value = meta.get(key)
    if value is not None and not isinstance(value, str):
        raise fail(key, "must be a string")
    return value.strip() if value else None


def _tools(value: Any, fail: Any) -> tuple[str, ...] | None:
    """`Read, Grep` or `[Read, Grep]` (or one YAML list item per line); None (Claude Code's
    default tools) without a `tools:` line or with `"*"`."""
    if value is None:
        return None
    if isinstance(value, str):
        tools = split_list(value)
    elif isinstance(value, list) and all(isinstance(t, str) for t in value):
        tools = tuple(t.strip() for t in value if t.strip())
    else:
        raise fail("tools", "must be a comma-separated string or a list of strings")
    return None if "*" in tools else tools


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
