"""The YAML frontmatter of a plugin's Markdown files (agents, skills, commands), read as
leniently as Claude Code reads it.

Real plugins ship frontmatter that is not valid YAML (unquoted `user: "..."` lines inside
`<example>` blocks); those are read line by line on the known keys, with a warning.
"""

from __future__ import annotations

import functools
import os
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
# `key: plain text` (or `key:` alone): printable ASCII, no indicator first, no ':' or '#'
_PLAIN_LINE = re.compile(
    r"([A-Za-z][\w-]*):(?:[ ]+([A-Za-z0-9$()+./;<=\\^_~][ !\"$-9;-~]*?))?[ ]*", re.ASCII
)
_RESOLVER = yaml.resolver.Resolver()  # the one SafeLoader types plain scalars with
_STR_TAG = "tag:yaml.org,2002:str"
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
        text = _read_bytes(path).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PluginFileError(f"{path}: cannot read: {exc}") from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # newlines as text mode reads them
    meta, body, warnings = split_frontmatter(path, text, keys, required=required)
    return meta, body, warnings + unknown_keys(path, meta, keys)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes in four system calls (open, read, read, close), where `open()` and its
    text layer make seven and cost three times as much: a plugin's files are small and many."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


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
        meta = _plain_fields(front)
        if meta is None:
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
    unknown = sorted(str(k) for k in meta.keys() - keys)
    return [f"{path}: frontmatter: unknown keys ignored: {', '.join(unknown)}"] if unknown else []


def split_list(value: str) -> tuple[str, ...]:
    """`Read, Bash(git log, git diff), Grep` → three entries: commas inside parentheses stay."""
    if "(" not in value:  # most lists: every comma separates
        return tuple(p.strip() for p in value.split(",") if p.strip())
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


def _plain_fields(front: str) -> dict[str, Any] | None:
    """The fields of frontmatter made of `key: plain text` lines only, as most is, read without
    a YAML parser: exactly what SafeLoader makes of them (its resolver says each key and value
    is a string, not a number, date or boolean; `key:` alone is None); None for any other."""
    fields: dict[str, Any] = {}
    for line in front.split("\n"):
        match = _PLAIN_LINE.fullmatch(line)
        if match is None:
            if line.strip(" "):
                return None
            continue
        key, value = match.groups()
        if not _is_text_key(key) or (value is not None and not _is_text(value)):
            return None
        fields[key] = value
    return fields


@functools.lru_cache(maxsize=256)  # keys repeat: name, description, tools...
def _is_text_key(plain: str) -> bool:
    return _is_text(plain)


def _is_text(plain: str) -> bool:
    tag = _RESOLVER.resolve(yaml.ScalarNode, plain, (True, False))  # type: ignore[no-untyped-call]
    return bool(tag == _STR_TAG)


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
