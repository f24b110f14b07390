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

import operator
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..models import AgentSpec, Hook, McpServer, SkillSpec
from .agent_files import load_agent
from .frontmatter import PluginFileError
from .json_files import read_json
from .skill_files import SKILL_FILE, load_command, load_skill
from .sources import SourceError, resolve_inside

Entries = dict[str, os.DirEntry[str]]  # a folder's entries by name
_NAME = operator.attrgetter("name")


@dataclass
class Problems:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Fields:
    """The component fields of a plugin: plugin.json's and the marketplace entry's."""

    folder: Path  # the plugin folder, resolved
    root: Path  # the marketplace folder, resolved: where the plugin's symlinks may lead
    manifest: dict[str, Any]
    manifest_where: str  # `…/plugin.json: ` for messages
    entry: dict[str, Any]
    entry_where: str  # `marketplace.json: plugins[3].`
    at_root: bool  # the entry's source is the marketplace folder itself


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
    files = _markdown_files(fields, _component_paths(fields, top, "agents", problems), problems)
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
    for base, is_folder in _component_paths(fields, top, "commands", problems):
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
        for file in _resolved(fields.folder, [source], where, problems):
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
        for entry in _scan(current):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                real = _real(fields, current, entry, problems)
                if real is not None and real not in walked:
                    walked.add(real)
                    pending.append((real, (*under, entry.name)))
            elif entry.name.lower().endswith(".md") and entry.is_file():
                real = _real(fields, current, entry, problems)
                if real is not None:
                    found.append(((*under, entry.name), _as_found(current, entry, real)))
    return [(file, ":".join((*rel[:-1], rel[-1][:-3]))) for rel, file in sorted(found)]


def _skills(fields: Fields, top: Entries, problems: Problems) -> list[SkillSpec]:
    folder, entry = fields.folder, fields.entry
    default = _default_folder(fields, top, "skills", problems)
    if fields.at_root and "skills" in entry:  # a marketplace's shared skills/: only the listed
        listed = _listed(fields, "skills", problems, entry_only=True)
        keep_all = not listed or any(p in (folder, *default) for p in listed)
        dirs = (default if keep_all else []) + [p for p in listed if p != folder]
    else:
        dirs = [*default, *_listed(fields, "skills", problems)]
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
    entries = _scan(base)
    own = next((entry for entry in entries if entry.name == SKILL_FILE), None)
    if own is not None and own.is_file() and _real(fields, base, own, problems) is not None:
        return [(base, base)]
    found = []
    for entry in entries:
        if entry.is_dir():
            real = _real(fields, base, entry, problems)
            if real is not None and _holds_skill(fields, real, problems):
                found.append((_as_found(base, entry, real), real))
    return found


def _holds_skill(fields: Fields, folder: Path, problems: Problems) -> bool:
    """Whether `folder` has a SKILL.md file (a symlink to one inside the marketplace counts)."""
    file = os.path.join(folder, SKILL_FILE)
    try:
        mode = os.lstat(file).st_mode
    except OSError:
        return False
    if stat.S_ISLNK(mode):
        real = _inside_root(fields, Path(file), problems)
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


# --- listed paths ------------------------------------------------------------------------


def _component_paths(
    fields: Fields, top: Entries, key: str, problems: Problems
) -> list[tuple[Path, bool]]:
    """The plugin's `key/` folder (unless plugin.json lists `key`: that replaces it), plus what
    plugin.json and the entry list; each with whether it is a folder."""
    default = [] if key in fields.manifest else _default_folder(fields, top, key, problems)
    listed = _listed(fields, key, problems)
    return [(path, True) for path in default] + [(path, path.is_dir()) for path in listed]


def _listed(
    fields: Fields, key: str, problems: Problems, *, entry_only: bool = False
) -> list[Path]:
    found = []
    sources = [(fields.entry, fields.entry_where)]
    if not entry_only:
        sources.insert(0, (fields.manifest, fields.manifest_where))
    for data, where in sources:
        value = data.get(key)
        if value is None:
            continue
        paths = [value] if isinstance(value, str) else value
        if not isinstance(paths, list):
            problems.errors.append(f"{where}{key}: must be a path or a list of paths")
            continue
        found += _resolved(fields.folder, paths, f"{where}{key}", problems, indexed=value is paths)
    return found


def _resolved(
    folder: Path, paths: list[Any], where: str, problems: Problems, indexed: bool = False
) -> list[Path]:
    found = []
    for j, path in enumerate(paths):
        spot = f"{where}[{j}]" if indexed else where
        if not isinstance(path, str) or not path.strip():
            problems.errors.append(f"{spot}: must be a relative path string")
            continue
        try:
            target = resolve_inside(folder, folder / path)
        except SourceError as exc:
            problems.errors.append(f"{spot}: {exc}")
            continue
        if target is None:
            problems.errors.append(f"{spot}: {path!r} escapes the plugin folder")
        elif not target.exists():
            problems.errors.append(f"{spot}: {path!r} not found")
        else:
            found.append(target)
    return found


def _markdown_files(
    fields: Fields, paths: list[tuple[Path, bool]], problems: Problems
) -> list[Path]:
    """The files of `paths` (real ones), the `*.md` of the folders among them; each file once."""
    unique: dict[str, Path] = {}  # where it really is → as found
    for path, is_folder in paths:
        if not is_folder:
            unique.setdefault(str(path), path)
            continue
        for entry in _scan(path):
            if entry.name.endswith(".md") and entry.is_file():
                real = _real(fields, path, entry, problems)
                if real is not None:
                    unique.setdefault(str(real), _as_found(path, entry, real))
    return list(unique.values())


# --- the plugin's folders, read once, and where their symlinks lead ----------------------


def folder_entries(folder: Path) -> Entries | None:
    """The entries of `folder` by name (one read says which parts a plugin has); None when
    there is no such folder, none when it cannot be read."""
    try:
        with os.scandir(folder) as entries:
            return {entry.name: entry for entry in entries}
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return {}


def _scan(folder: Path) -> list[os.DirEntry[str]]:
    """The entries of `folder`, sorted by name (none when it is no folder or unreadable)."""
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=_NAME)
    except OSError:
        return []


def _default_folder(fields: Fields, top: Entries, name: str, problems: Problems) -> list[Path]:
    """The plugin's own `name/` folder (where it really is), when it has one."""
    entry = top.get(name)
    if entry is None or not entry.is_dir():
        return []
    real = _real(fields, fields.folder, entry, problems)
    return [real] if real is not None else []


def _real(fields: Fields, folder: Path, entry: os.DirEntry[str], problems: Problems) -> Path | None:
    """Where `entry` of `folder` (a real folder inside the marketplace) really is: itself, or
    where its symlink leads while that stays inside the marketplace (else None, warned)."""
    path = folder / entry.name  # a third the time of Path(entry.path)
    return _inside_root(fields, path, problems) if entry.is_symlink() else path


def _as_found(folder: Path, entry: os.DirEntry[str], real: Path) -> Path:
    """The path of `entry` of `folder`, which really is `real`."""
    return folder / entry.name if entry.is_symlink() else real


def _inside_root(fields: Fields, link: Path, problems: Problems) -> Path | None:
    """The target of the symlink `link`, or None when it leads out of the marketplace folder
    or cannot be resolved (a loop): the check listed paths get; a warning names the link."""
    try:
        target = resolve_inside(fields.root, link)
    except SourceError as exc:
        problems.warnings.append(f"{link}: {exc}; not loaded")
        return None
    if target is None:
        problems.warnings.append(
            f"{link}: a symlink leading out of the marketplace folder "
            f"(to {os.readlink(link)!r}); not loaded"
        )
    return target


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
            files += _resolved(fields.folder, paths, f"{where}{key}", problems)
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
