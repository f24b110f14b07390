"""The YAML frontmatter of a plugin's Markdown files (agents, skills, commands), read as
leniently as Claude Code reads it.

Real plugins ship frontmatter that is not valid YAML (unquoted `user: "..."` lines inside
`<example>` blocks); those are read line by line on the known keys, with a warning.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

_KEY_LINE = re.compile(r"^([A-Za-z][\w-]*):(?:[ \t]+(.*))?$")
_HANDLER = YAMLHandler()
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it
# what PyYAML raises on bad input (ValueError: impossible dates like 2001-02-30)
_YAML_ERRORS = (yaml.YAMLError, ValueError, RecursionError)


class PluginFileError(Exception):
    """An agent, skill or command file that cannot be used; the message names the file and
    the field."""


def read_markdown(
    path: Path, keys: Collection[str], *, required: bool
) -> tuple[dict[str, Any], str, list[str]]:
    """(fields, Markdown body, warnings, unknown keys included) of a plugin's Markdown file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PluginFileError(f"{path}: cannot read: {exc}") from exc
    meta, body, warnings = split_frontmatter(path, text, keys, required=required)
    return meta, body, warnings + unknown_keys(path, meta, keys)


def split_frontmatter(
    path: Path, text: str, keys: Collection[str], *, required: bool
) -> tuple[dict[str, Any], str, list[str]]:
    """(fields, Markdown body, warnings). Without frontmatter: an error when `required`,
    else no fields and the whole text as the body."""
    text = text.lstrip("\ufeff")
    if not _HANDLER.detect(text):
        if required:
            raise PluginFileError(
                f"{path}: frontmatter: missing (the file must start with a '---' line)"
            )
        return {}, text, []
    try:
        front, body = _HANDLER.split(text)
    except ValueError:
        raise PluginFileError(f"{path}: frontmatter: not closed by a '---' line") from None
    try:
        meta = yaml.load(front, Loader=_SAFE_LOADER)
    except _YAML_ERRORS as exc:
        problem = str(exc).splitlines()[0]
        meta = _read_leniently(front, keys)
        if meta is None:
            raise PluginFileError(f"{path}: frontmatter: not valid YAML: {problem}") from None
        return meta, body, [f"{path}: frontmatter: not valid YAML ({problem}); read line by line"]
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise PluginFileError(f"{path}: frontmatter: must be a mapping of fields")
    return meta, body, []


def unknown_keys(path: Path, meta: dict[str, Any], keys: Collection[str]) -> list[str]:
    unknown = sorted(str(k) for k in meta if k not in keys)
    return [f"{path}: frontmatter: unknown keys ignored: {', '.join(unknown)}"] if unknown else []


def split_list(value: str) -> tuple[str, ...]:
    """`Read, Bash(git log, git diff), Grep` → three entries: commas inside parentheses stay."""
    parts, depth, current = [], 0, ""
    for char in value:
        depth += (char == "(") - (char == ")")
        if char == "," and depth <= 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return tuple(p.strip() for p in parts if p.strip())


def _read_leniently(front: str, keys: Collection[str]) -> dict[str, Any] | None:
    """`key: value` lines on the known keys; any other line continues the previous value."""
    fields: dict[str, list[str]] = {}
    current: str | None = None
    for line in front.splitlines():
        match = _KEY_LINE.match(line)
        if match and match.group(1) in keys and match.group(1) not in fields:
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
