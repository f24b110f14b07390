"""Where a plugin's parts are, found where Claude Code finds them (docs as of 2.1.240):

- agents: `agents/*.md`, unless plugin.json lists `agents` (the list replaces the folder);
- commands: `commands/**/*.md` (`sub/x.md` is `sub:x`), unless plugin.json lists `commands`;
- skills: `skills/<dir>/SKILL.md` always, plus the folders listed in `skills`; a root `SKILL.md`
  when there is neither; an entry whose source is the marketplace root and that lists `skills`
  gets only those (the marketplace's other skills are other entries');
- MCP servers (`.mcp.json`, `mcpServers`) and hooks (`hooks/hooks.json`, `hooks`): not run as
  parts, but shown in the trust prompt; LSP servers and output styles: only said.
Paths listed by the marketplace entry add to plugin.json's. Nothing outside the plugin folder
is read.
"""

from __future__ import annotations

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


@dataclass
class Problems:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Fields:
    """The component fields of a plugin: plugin.json's and the marketplace entry's."""

    folder: Path  # the plugin folder, resolved
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


def find_parts(fields: Fields, problems: Problems) -> Parts:
    skills = _skills(fields, problems)
    taken = {s.name for s in skills}
    commands = []
    for command in _commands(fields, problems):
        if command.name in taken:  # as in Claude Code: the skill wins
            problems.warnings.append(
                f"{command.path}: command {command.name!r} has a skill's name; the skill is used"
            )
            continue
        taken.add(command.name)
        commands.append(command)
    folder = fields.folder
    other = [
        label
        for label, key, default in (
            ("LSP servers", "lspServers", ".lsp.json"),
            ("output styles", "outputStyles", "output-styles"),
        )
        if (folder / default).exists() or key in fields.manifest or key in fields.entry
    ]
    return Parts(
        agents=_agents(fields, problems),
        skills=(*skills, *commands),
        mcp_servers=_mcp_servers(fields, problems),
        hooks=_hooks(fields, problems),
        other=tuple(other),
    )


# --- agents, skills, commands ------------------------------------------------------------


def _agents(fields: Fields, problems: Problems) -> tuple[AgentSpec, ...]:
    files = _component_paths(fields, "agents", "agents", problems, replaces=True)
    agents: dict[str, AgentSpec] = {}
    for file in _markdown_files(files, recursive=False):
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


def _commands(fields: Fields, problems: Problems) -> list[SkillSpec]:
    listed = fields.manifest.get("commands")
    if isinstance(listed, dict):  # {"name": {"source": "./x.md", ...}}: Claude Code's object form
        return _named_commands(fields, listed, problems)
    found: list[SkillSpec] = []
    for base in _component_paths(fields, "commands", "commands", problems, replaces=True):
        files = [(base, base.stem)] if base.is_file() else _command_files(base)
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


def _command_files(folder: Path) -> list[tuple[Path, str]]:
    """`*.md` under `folder` (any depth, no links, nothing hidden), named `sub:stem`."""
    found = []
    for file in sorted(folder.rglob("*")):
        rel = file.relative_to(folder)
        steps = [folder.joinpath(*rel.parts[: i + 1]) for i in range(len(rel.parts))]
        if (
            file.suffix.lower() == ".md"
            and file.is_file()
            and not any(p.startswith(".") for p in rel.parts)
            and not any(step.is_symlink() for step in steps)
        ):
            found.append((file, ":".join((*rel.parts[:-1], file.stem))))
    return found


def _skills(fields: Fields, problems: Problems) -> list[SkillSpec]:
    folder, entry = fields.folder, fields.entry
    default = folder / "skills"
    if fields.at_root and "skills" in entry:  # a marketplace's shared skills/: only the listed
        listed = _listed(fields, "skills", problems, entry_only=True)
        keep_all = not listed or any(p in (folder, default.resolve()) for p in listed)
        dirs = ([default] if keep_all else []) + [p for p in listed if p != folder]
    else:
        dirs = [default, *_listed(fields, "skills", problems)]
        named = "skills" in fields.manifest or "skills" in entry
        if not default.is_dir() and not named and (folder / SKILL_FILE).is_file():
            dirs = [folder]  # a plugin that is one skill
    found: dict[str, SkillSpec] = {}
    seen: set[Path] = set()
    for base in dirs:
        for skill_dir in _skill_dirs(base):
            if skill_dir.resolve() in seen:
                continue
            seen.add(skill_dir.resolve())
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


def _skill_dirs(base: Path) -> list[Path]:
    """A folder holding SKILL.md is one skill; else each child folder that holds one (one
    level down only, as Claude Code looks)."""
    if (base / SKILL_FILE).is_file():
        return [base]
    if not base.is_dir():
        return []
    return [child for child in sorted(base.iterdir()) if (child / SKILL_FILE).is_file()]


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
    fields: Fields, key: str, default: str, problems: Problems, *, replaces: bool
) -> list[Path]:
    """The default folder (unless plugin.json lists `key` and that replaces it), plus what
    plugin.json and the entry list."""
    base = [] if replaces and key in fields.manifest else [fields.folder / default]
    return [p for p in base if p.exists()] + _listed(fields, key, problems)


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


def _markdown_files(paths: list[Path], *, recursive: bool) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.rglob("*.md") if recursive else path.glob("*.md"))
        else:
            files.append(path)
    unique: dict[Path, Path] = {}
    for file in files:
        unique.setdefault(file.resolve(), file)
    return list(unique.values())


# --- MCP servers and hooks ---------------------------------------------------------------


def _mcp_servers(fields: Fields, problems: Problems) -> tuple[McpServer, ...]:
    servers: dict[str, McpServer] = {}
    for config in _configs(fields, "mcpServers", ".mcp.json", problems):
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


def _hooks(fields: Fields, problems: Problems) -> tuple[Hook, ...]:
    hooks = []
    for config in _configs(fields, "hooks", "hooks/hooks.json", problems):
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


def _configs(fields: Fields, key: str, default: str, problems: Problems) -> list[dict[str, Any]]:
    """The default file, then plugin.json's and the entry's `key` (inline, a path or paths);
    a file named twice is read once. Unreadable ones are warnings: they will not run."""
    files = [fields.folder / default] if (fields.folder / default).is_file() else []
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
