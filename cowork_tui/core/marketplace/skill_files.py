"""A plugin's skills (`skills/<dir>/SKILL.md`) and commands (`commands/*.md`), read as Claude Code
reads them (docs as of Claude Code 2.1.240): frontmatter optional, the description else the
body's first paragraph, the name the frontmatter's (skills only) else the folder or file name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..models import SkillSpec
from .frontmatter import PluginFileError, read_markdown

SKILL_FILE = "SKILL.md"
SKILL_KEYS = frozenset(
    {
        "name", "description", "when_to_use", "argument-hint", "arguments",
        "disable-model-invocation", "user-invocable", "allowed-tools", "disallowed-tools",
        "model", "effort", "context", "agent", "background", "hooks", "paths", "shell",
        "metadata", "license", "compatibility", "version",
    }
)  # fmt: skip
# a command's `name` is ignored (it is named by its file); the legacy slash-command keys
COMMAND_KEYS = SKILL_KEYS | {"hide-from-slash-command-tool"}
_SLUG = re.compile(r"^[A-Za-z0-9][\w.-]*$")
# what Claude Code runs in a shell as it expands a skill or command: !`cmd`, and ```! blocks
_SHELL = re.compile(r"!`([^`\n]+)`|^```!\s*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def load_skill(folder: Path) -> tuple[SkillSpec, list[str]]:
    """The skill whose SKILL.md is in `folder`, and warnings about it."""
    file = folder / SKILL_FILE
    meta, body, warnings = read_markdown(file, SKILL_KEYS, required=False)
    name = meta.get("name")
    if name is None:
        name = folder.name
    elif not isinstance(name, str) or not name.strip():
        raise PluginFileError(f"{file}: name: must be a non-empty string")
    name = name.strip()
    if not _SLUG.match(name):  # Claude Code takes it as written; a `/` or space breaks `/name`
        warnings.append(f"{file}: name: {name!r} is not a plain name (letters, digits, - _ .)")
    return _spec(file, name, "skill", meta, body), warnings


def load_command(file: Path, name: str) -> tuple[SkillSpec, list[str]]:
    """The command in `file`, named `name` (its path under `commands/`, `sub:stem`)."""
    meta, body, warnings = read_markdown(file, COMMAND_KEYS, required=False)
    return _spec(file, name, "command", meta, body), warnings


def _spec(file: Path, name: str, kind: str, meta: dict[str, Any], body: str) -> SkillSpec:
    description = meta.get("description")
    if description is not None and not isinstance(description, str):
        raise PluginFileError(f"{file}: description: must be a string")
    hint = meta.get("argument-hint")
    if isinstance(hint, list):  # `argument-hint: [file]` is a YAML list
        hint = f"[{', '.join(str(h) for h in hint)}]"
    return SkillSpec(
        name=name,
        kind="skill" if kind == "skill" else "command",
        description=(description or _first_paragraph(body)).strip(),
        user_invocable=_flag(file, meta, "user-invocable", default=True),
        model_invocable=not _flag(file, meta, "disable-model-invocation", default=False),
        argument_hint=str(hint) if hint is not None else None,
        shell=tuple((inline or block).strip() for inline, block in _SHELL.findall(body)),
        path=file,
    )


def _flag(file: Path, meta: dict[str, Any], key: str, *, default: bool) -> bool:
    """Claude Code's booleans: true/false, yes/no, on/off, 1/0, in any case."""
    value = meta.get(key)
    if value is None:
        return default
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise PluginFileError(f"{file}: {key}: must be true or false")


def _first_paragraph(body: str) -> str:
    paragraph = body.strip().split("\n\n", 1)[0]
    return " ".join(line.strip().lstrip("#").strip() for line in paragraph.splitlines())
