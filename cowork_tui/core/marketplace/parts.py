"""Where a plugin's parts are, found where Claude Code finds them (docs as of 2.1.240):

- agents: `agents/*.md`, unless plugin.json lists `agents` (the list replaces the folder);
- commands: `commands/**/*.md` (`sub/x.md` is `sub:x`), unless plugin.json lists `commands`;
- skills: `skills/<dir>/SKILL.md` always, plus the folders listed in `skills`; a root `SKILL.md`
  when there is neither; an entry whose source is the marketplace root and that lists `skills`
  gets only those (the marketplace's other skills are other entries');
- MCP servers (`.mcp.json`, `mcpServers`) and hooks (`hooks/hooks.json`, `hooks`): not run as
  parts, but shown in the trust prompt; LSP servers and output styles: only said.
Paths listed by the marketplace entry add to plugin.json's. Nothing outside the plugin folder
is read through a listed path, nor outside the marketplace folder through a symlink found in the
plugin's folders (such a link is left out, with a warning).
Each folder is read once (`os.scandir`): a big marketplace costs a few system calls a plugin.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..models import AgentSpec, Hook, McpServer, SkillSpec
from .agent_files import load_agent
from .frontmatter import PluginFileError
from .json_files import read_json
from .part_paths import (
    Entries,
    Fields,
    Problems,
    as_found,
    component_paths,
    default_folder,
    inside_root,
    listed_paths,
    markdown_files,
    real_path,
    resolved_paths,
    scan,
)
from .skill_files import SKILL_FILE, load_command, load_skill


@dataclass
class Parts:
    agents: tuple[AgentSpec, ...] = ()
    skills: tuple[SkillSpec, ...] = ()
    mcp_servers: tuple[McpServer, ...] = ()
    hooks: tuple[Hook, ...] = ()
    other: tuple[str, ...] = ()


def find_parts(fields: Fields, top: Entries, problems: Problems) -> Parts:
    """The parts of the plugin in `fields.folder`, whose entries are `top`."""
    skills = _skills(fields, top, problems)
    taken = {s.name for s in skills}
    commands = []
    for command in _commands(fields, top, problems):
        if command.name in taken:  # as in Claude Code: the skill wins
            problems.warnings.append(
                f"{command.path}: command {command.name!r} has a skill's name; the skill is used"
            )
            continue
        taken.add(command.name)
        commands.append(command)
    other = [
        label
        for label, key, default in (
            ("LSP servers", "lspServers", ".lsp.json"),
            ("output styles", "outputStyles", "output-styles"),
        )
        if default in top or key in fields.manifest or key in fields.entry
    ]
    return Parts(
        agents=_agents(fields, top, problems),
        skills=(*skills, *commands),
        mcp_servers=_mcp_servers(fields, top, problems),
        hooks=_hooks(fields, top, problems),
        other=tuple(other),
    )


# --- agents, skills, commands ------------------------------------------------------------


def _agents(fields: Fields, top: Entries, problems: Problems) -> tuple[AgentSpec, ...]:
    files = markdown_files(fields, component_paths(fields, top, "agents", problems), problems)
    agents: dict[str, AgentSpec] = {}
    for file in files:
        try:
            spec, warnings = load_agent(file)
        except PluginFileError as exc:
            problems.errors.append(str(exc))
            continue
        problems.warnings.extend(warnings)
        if spec.name in agents:
            problems.errors.append(
                f"{file}: name: duplicate agent name {spec.name!r} (also {agents[spec.name].path})"
            )
            continue
        agents[spec.name] = spec
    return tuple(agents.values())


def _commands(fields: Fields, top: Entries, problems: Problems) -> list[SkillSpec]:
    listed = fields.manifest.get("commands")
    if isinstance(listed, dict):  # {"name": {"source": "./x.md", ...}}: Claude Code's object form
        return _named_commands(fields, listed, problems)
    found: list[SkillSpec] = []
    for base, is_folder in component_paths(fields, top, "commands", problems):
        files = _command_files(fields, base, problems) if is_folder else [(base, base.stem)]
        for file, name in files:
            spec = _loaded(load_command, problems, file, name)
            if spec is not None:
                found.append(spec)
    return found


def _named_commands(fields: Fields, listed: dict[str, Any], problems: Problems) -> list[SkillSpec]:
    found = []
    for name, meta in listed.items():
        where = f"{fields.manifest_where}commands.{name}"
        source = meta.get("source") if isinstance(meta, dict) else None
        if not isinstance(source, str):
            problems.warnings.append(f"{where}: only commands with a `source` file are read")
            continue
        for file in resolved_paths(fields.folder, [source], where, problems):
            spec = _loaded(load_command, problems, file, str(name))
            if spec is not None:
                found.append(spec)
    return found


def _command_files(fields: Fields, folder: Path, problems: Problems) -> list[tuple[Path, str]]:
    """`*.md` under `folder` (any depth, nothing hidden), named `sub:stem`; each folder walked
    once, however many links lead to it."""
    found: list[tuple[tuple[str, ...], Path]] = []  # (path under `folder`, file)
    pending: list[tuple[Path, tuple[str, ...]]] = [(folder, ())]
    walked = {folder}
    while pending:
        current, under = pending.pop()
        for entry in scan(current):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                real = real_path(fields, current, entry, problems)
                if real is not None and real not in walked:
                    walked.add(real)
                    pending.append((real, (*under, entry.name)))
            elif entry.name.lower().endswith(".md") and entry.is_file():
                real = real_path(fields, current, entry, problems)
                if real is not None:
                    found.append(((*under, entry.name), as_found(current, entry, real)))
    return [(file, ":".join((*rel[:-1], rel[-1][:-3]))) for rel, file in sorted(found)]


def _skills(fields: Fields, top: Entries, problems: Problems) -> list[SkillSpec]:
    folder, entry = fields.folder, fields.entry
    default = default_folder(fields, top, "skills", problems)
    if fields.at_root and "skills" in entry:  # a marketplace's shared skills/: only the listed
        listed = listed_paths(fields, "skills", problems, entry_only=True)
        keep_all = not listed or any(p in (folder, *default) for p in listed)
        dirs = (default if keep_all else []) + [p for p in listed if p != folder]
    else:
        dirs = [*default, *listed_paths(fields, "skills", problems)]
        named = "skills" in fields.manifest or "skills" in entry
        if not default and not named and SKILL_FILE in top:
            dirs = [folder]  # a plugin that is one skill
    found: dict[str, SkillSpec] = {}
    seen: set[str] = set()  # paths as text: cheaper to hash than Paths
    for base in dirs:
        for skill_dir, real in _skill_dirs(fields, base, problems):
            if str(real) in seen:
                continue
            seen.add(str(real))
            spec = _loaded(load_skill, problems, skill_dir)
            if spec is None:
                continue
            if spec.name in found:
                problems.warnings.append(
                    f"{spec.path}: name: duplicate skill {spec.name!r} (also "
                    f"{found[spec.name].path}); the first is used"
                )
                continue
            found[spec.name] = spec
    return list(found.values())


def _skill_dirs(fields: Fields, base: Path, problems: Problems) -> list[tuple[Path, Path]]:
    """A folder holding SKILL.md is one skill; else each child folder that holds one (one
    level down only, as Claude Code looks). Each with where it really is (`base` is real)."""
    entries = scan(base)
    own = next((entry for entry in entries if entry.name == SKILL_FILE), None)
    if own is not None and own.is_file() and real_path(fields, base, own, problems) is not None:
        return [(base, base)]
    found = []
    for entry in entries:
        if entry.is_dir():
            real = real_path(fields, base, entry, problems)
            if real is not None and _holds_skill(fields, real, problems):
                found.append((as_found(base, entry, real), real))
    return found


def _holds_skill(fields: Fields, folder: Path, problems: Problems) -> bool:
    """Whether `folder` has a SKILL.md file (a symlink to one inside the marketplace counts)."""
    file = os.path.join(folder, SKILL_FILE)
    try:
        mode = os.lstat(file).st_mode
    except OSError:
        return False
    if stat.S_ISLNK(mode):
        real = inside_root(fields, Path(file), problems)
        return real is not None and real.is_file()
    return stat.S_ISREG(mode)


def _loaded(load: Any, problems: Problems, *args: Any) -> Any:
    try:
        spec, warnings = load(*args)
    except PluginFileError as exc:
        problems.errors.append(str(exc))
        return None
    problems.warnings.extend(warnings)
    return spec


# --- MCP servers and hooks ---------------------------------------------------------------


def _mcp_servers(fields: Fields, top: Entries, problems: Problems) -> tuple[McpServer, ...]:
    servers: dict[str, McpServer] = {}
    for config in _configs(fields, top, "mcpServers", ".mcp.json", problems):
        inner = config.get("mcpServers", config)
        for name, spec in inner.items() if isinstance(inner, dict) else ():
            if isinstance(spec, dict) and name not in servers:
                servers[name] = _server(str(name), spec)
    return tuple(servers.values())


def _server(name: str, spec: dict[str, Any]) -> McpServer:
    command = spec.get("command")
    args = spec.get("args")
    words = [command, *(args if isinstance(args, list) else [])]
    line = " ".join(str(word) for word in words) if isinstance(command, str) else None
    url = spec.get("url") if isinstance(spec.get("url"), str) else None
    return McpServer(name=name, command=line, url=url, config=spec)


def _hooks(fields: Fields, top: Entries, problems: Problems) -> tuple[Hook, ...]:
    hooks = []
    for config in _configs(fields, top, "hooks", "hooks/hooks.json", problems):
        events = config.get("hooks", config)
        for event, entries in events.items() if isinstance(events, dict) else ():
            for entry in entries if isinstance(entries, list) else ():
                if isinstance(entry, dict):
                    hooks.append(_hook(str(event), entry))
    return tuple(hooks)


def _hook(event: str, entry: dict[str, Any]) -> Hook:
    actions = []
    for hook in entry.get("hooks") or ():
        if isinstance(hook, dict):
            kind = str(hook.get("type", "command"))
            what = hook.get("command") or hook.get("prompt") or hook.get("url") or ""
            actions.append(f"{kind}: {what}")
    matcher = entry.get("matcher")
    return Hook(
        event=event,
        matcher=matcher if isinstance(matcher, str) else None,
        actions=tuple(actions),
        config=entry,
    )


def _configs(
    fields: Fields, top: Entries, key: str, default: str, problems: Problems
) -> list[dict[str, Any]]:
    """The default file, then plugin.json's and the entry's `key` (inline, a path or paths);
    a file named twice is read once. Unreadable ones are warnings: they will not run."""
    files = _own_file(fields, top, default)
    configs: list[dict[str, Any]] = []
    for data, where in (
        (fields.manifest, fields.manifest_where),
        (fields.entry, fields.entry_where),
    ):
        value = data.get(key)
        if isinstance(value, dict):
            configs.append(value)
        elif isinstance(value, str | list):
            paths = [value] if isinstance(value, str) else value
            files += resolved_paths(fields.folder, paths, f"{where}{key}", problems)
    seen: set[Path] = set()
    for file in files:
        if file.resolve() in seen:
            continue
        seen.add(file.resolve())
        try:
            data = read_json(file)
        except InputError as exc:
            problems.warnings.append(f"{exc} (ignored: it will not run)")
            continue
        if isinstance(data, dict):
            configs.append(data)
    return configs


def _own_file(fields: Fields, top: Entries, name: str) -> list[Path]:
    """The plugin's `name` file (`.mcp.json`, `hooks/hooks.json`), when it has one."""
    if name.split("/")[0] not in top:
        return []
    file = fields.folder / name
    return [file] if file.is_file() else []
