"""One agent file (`agents/*.md`): YAML frontmatter + a Markdown body, as Claude Code reads it.

Real plugins ship descriptions that are not valid YAML (unquoted `user: "..."` lines inside
`<example>` blocks); those are read line by line on the known keys, with a warning, so every
agent a real marketplace ships loads.
"""

from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from ..models import AgentSpec

# frontmatter keys Claude Code knows for subagents, plus the cowork ones (command, timeout)
KNOWN_KEYS = frozenset(
    {
        "name", "description", "tools", "disallowedTools", "model", "color", "maxTurns",
        "permissionMode", "skills", "hooks", "mcpServers", "memory", "effort", "background",
        "isolation", "initialPrompt", "command", "timeout",
    }
)  # fmt: skip
_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*$")
_KEY_LINE = re.compile(r"^([A-Za-z][\w-]*):(?:[ \t]+(.*))?$")
_HANDLER = YAMLHandler()
# what PyYAML raises on bad input (ValueError: impossible dates like 2001-02-30)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it
_YAML_ERRORS = (yaml.YAMLError, ValueError, RecursionError)


class AgentFileError(Exception):
    """An agent file that cannot be used; the message names the file and the field."""


def load_agent(path: Path) -> tuple[AgentSpec, list[str]]:
    """The agent of `path` and warnings about it (AgentFileError when it is unusable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AgentFileError(f"{path}: cannot read: {exc}") from exc
    meta, body, warnings = _split(path, text)
    return _spec(path, meta, body), warnings + _unknown_keys(path, meta)


def _split(path: Path, text: str) -> tuple[dict[str, Any], str, list[str]]:
    text = text.lstrip("\ufeff")
    if not _HANDLER.detect(text):
        raise AgentFileError(
            f"{path}: frontmatter: missing (the file must start with a '---' line)"
        )
    try:
        front, body = _HANDLER.split(text)
    except ValueError:
        raise AgentFileError(f"{path}: frontmatter: not closed by a '---' line") from None
    try:
        meta = yaml.load(front, Loader=_SAFE_LOADER)
    except _YAML_ERRORS as exc:
        problem = str(exc).splitlines()[0]
        meta = _read_leniently(front)
        if meta is None:
            raise AgentFileError(f"{path}: frontmatter: not valid YAML: {problem}") from None
        return meta, body, [f"{path}: frontmatter: not valid YAML ({problem}); read line by line"]
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise AgentFileError(f"{path}: frontmatter: must be a mapping of fields")
    return meta, body, []


def _read_leniently(front: str) -> dict[str, Any] | None:
    """`key: value` lines on the known keys; any other line continues the previous value."""
    fields: dict[str, list[str]] = {}
    current: str | None = None
    for line in front.splitlines():
        match = _KEY_LINE.match(line)
        if match and match.group(1) in KNOWN_KEYS and match.group(1) not in fields:
            current = match.group(1)
            fields[current] = [match.group(2) or ""]
        elif current is not None:
            fields[current].append(line)
        elif line.strip():
            return None
    if not fields:
        return None
    return {key: _lenient_value(lines) for key, lines in fields.items()}


def _lenient_value(lines: list[str]) -> Any:
    first, rest = lines[0].strip(), textwrap.dedent("\n".join(lines[1:])).strip()
    raw = f"{first}\n{rest}".strip()
    try:
        value = yaml.safe_load(raw)
    except _YAML_ERRORS:
        return raw
    if isinstance(value, list) or (not rest and isinstance(value, str | int | float | bool)):
        return value
    return raw


def _spec(path: Path, meta: dict[str, Any], body: str) -> AgentSpec:
    def fail(field: str, message: str) -> AgentFileError:
        return AgentFileError(f"{path}: {field}: {message}")

    name = meta.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail("name", "required, a non-empty string")
    if not _NAME.match(name.strip()):
        raise fail("name", "must be letters, digits, '-', '_' or '.'")
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


def _tools(value: Any, fail: Any) -> tuple[str, ...]:
    """`Read, Grep` or `[Read, Grep]` (or one YAML list item per line)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return tuple(t.strip() for t in value if t.strip())
    raise fail("tools", "must be a comma-separated string or a list of strings")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _unknown_keys(path: Path, meta: dict[str, Any]) -> list[str]:
    unknown = sorted(str(k) for k in meta if k not in KNOWN_KEYS)
    return [f"{path}: frontmatter: unknown keys ignored: {', '.join(unknown)}"] if unknown else []
