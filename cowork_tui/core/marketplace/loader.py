"""Load a marketplace folder (`.claude-plugin/marketplace.json`) into items, leniently.

One broken entry never hides the others: its problems go into that item's `errors` (and it
is not available). Only a marketplace.json that cannot be read at all is a marketplace error.
Every message names the file and the field path.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import InputError
from ..models import CoworkDefaults, Item, Marketplace
from ..names import RULE, is_safe
from ..planning.builtin import BUILT_IN_AGENTS
from ..planning.dag import dag_problems
from .cowork_defaults import check_cowork, merged_defaults
from .json_files import read_json
from .part_paths import Entries, Fields, Problems, folder_entries
from .parts import Parts, find_parts
from .sources import SourceError, resolve_source

MARKETPLACE_FILE = Path(".claude-plugin") / "marketplace.json"
PLUGIN_FILE = Path(".claude-plugin") / "plugin.json"
_PLUGIN_DIR = PLUGIN_FILE.parent.name
MarketplaceKind = Literal["bundled", "user", "claude"]

_TOP_KEYS = frozenset(
    {"$schema", "name", "owner", "metadata", "plugins", "description", "version", "renames"}
)
# Claude Code's plugin entry keys (the plugin manifest's, plus source/category/tags/strict)
_ENTRY_KEYS = frozenset(
    {
        "name", "source", "description", "version", "author", "homepage", "repository",
        "license", "keywords", "category", "tags", "strict", "commands", "agents", "skills",
        "hooks", "mcpServers", "lspServers", "outputStyles", "displayName", "dependencies",
        "userConfig", "channels", "settings", "cowork", "$schema", "sha", "ref",
    }
)  # fmt: skip


@dataclass(frozen=True)
class CachedPlugin:
    """A remote entry's plugin as installed: fetched into the cache."""

    folder: Path
    source: str  # in words, with the commit or version fetched


def load_marketplace(
    folder: Path,
    *,
    kind: MarketplaceKind = "user",
    name: str | None = None,
    origin: str = "",
    cached: Mapping[str, CachedPlugin] | None = None,
) -> Marketplace:
    """The marketplace in `folder`; `name` overrides the one in the file (Claude Code's key);
    `cached`: remote entries installed into the cache (by ref), loaded from there."""
    manifest = folder / MARKETPLACE_FILE
    origin = origin or str(folder)
    try:
        data = read_json(manifest)
        if not isinstance(data, dict):
            raise InputError(f"{manifest}: (root): must be an object")
        plugins = data.get("plugins")
        if not isinstance(plugins, list):
            raise InputError(f"{manifest}: plugins: must be a list of plugin entries")
    except InputError as exc:
        return Marketplace(
            name=name or folder.name,
            kind=kind,
            path=folder,
            origin=origin,
            available=False,
            errors=(str(exc),),
        )
    warnings: list[str] = []
    declared = data.get("name")
    if not isinstance(declared, str) or not declared.strip() or "@" in declared:
        warnings.append(
            f"{manifest}: name: must be a non-empty string without '@'; using {folder.name!r}"
        )
        declared = folder.name
    unknown = sorted(k for k in data if k not in _TOP_KEYS)
    if unknown:
        warnings.append(f"{manifest}: unknown keys ignored: {', '.join(unknown)}")
    if "renames" in data and _renames(data) is None:
        warnings.append(f"{manifest}: renames: must map old plugin names to new ones; ignored")
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        if metadata is not None:
            warnings.append(f"{manifest}: metadata: must be an object; ignored")
        metadata = {}
    plugin_root = metadata.get("pluginRoot")
    if plugin_root is not None and not isinstance(plugin_root, str):
        warnings.append(f"{manifest}: metadata.pluginRoot: must be a string; ignored")
        plugin_root = None
    description = data.get("description") or metadata.get("description") or ""
    ctx = _Context(manifest, folder.resolve(), name or declared.strip(), plugin_root, cached or {})
    with _no_collections():
        items = _entry_items(ctx, plugins)
    return Marketplace(
        name=ctx.marketplace,
        kind=kind,
        path=folder,
        origin=origin,
        description=description if isinstance(description, str) else "",
        items=tuple(items),
        warnings=tuple(warnings),
    )


def _entry_items(ctx: _Context, plugins: list[Any]) -> list[Item]:
    """An item for each entry; a later entry of a name already taken is a broken duplicate."""
    items: list[Item] = []
    names: set[str] = set()
    for i, entry in enumerate(plugins):
        item = _entry_item(ctx, i, entry)
        if item.name in names:
            item = item.model_copy(
                update={
                    "available": False,
                    "errors": (
                        *item.errors,
                        f"{ctx.manifest}: plugins[{i}].name: duplicate plugin name {item.name!r}",
                    ),
                }
            )
        names.add(item.name)
        items.append(item)
    return items


@contextmanager
def _no_collections() -> Iterator[None]:
    """No garbage collection meanwhile: loading makes many objects and drops few, so a
    collection finds nothing to free, and each scans all that was loaded so far."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_plugin_folder(folder: Path, name: str, marketplace: str) -> Item:
    """A plugin folder on its own (e.g. a Claude Code install), without a marketplace entry."""
    ctx = _Context(folder / PLUGIN_FILE, folder.resolve(), marketplace, None, {})
    plugin = (ctx.root, folder_entries(ctx.root) or {})
    return _plugin_item(ctx, {"name": name}, str(folder), plugin, str(folder), Problems())


@dataclass(frozen=True)
class _Context:
    manifest: Path
    root: Path
    marketplace: str
    plugin_root: str | None
    cached: Mapping[str, CachedPlugin]


def _entry_item(ctx: _Context, i: int, entry: Any) -> Item:
    where = f"{ctx.manifest}: plugins[{i}]"
    placeholder = f"plugins[{i}]"
    if not isinstance(entry, dict):
        return _broken(ctx, placeholder, [f"{where}: must be an object"])
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip() or "@" in name:
        return _broken(
            ctx, placeholder, [f"{where}.name: required, a non-empty string without '@'"]
        )
    name = name.strip()
    if not is_safe(name):  # it names folders (the plugin Claude Code loads)
        return _broken(ctx, placeholder, [f"{where}.name: {name!r} {RULE}"])
    problems = Problems()
    for key in ("description", "version", "category"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            problems.errors.append(f"{where}.{key}: must be a string")
    unknown = sorted(entry.keys() - _ENTRY_KEYS)
    if unknown:
        problems.warnings.append(f"{where}: unknown keys ignored: {', '.join(unknown)}")
    if "source" not in entry:
        problems.errors.append(f"{where}.source: required")
        return _broken(ctx, name, problems.errors, entry, problems.warnings)
    try:
        source = resolve_source(entry["source"], ctx.root, ctx.plugin_root)
    except SourceError as exc:
        problems.errors.append(f"{where}.source: {exc}")
        return _broken(ctx, name, problems.errors, entry, problems.warnings)
    cached = ctx.cached.get(f"{name}@{ctx.marketplace}")
    if source.folder is None and cached is not None:
        return _cached_item(ctx, entry, where, cached, problems)
    if source.folder is None:
        return _broken(ctx, name, problems.errors, entry, problems.warnings, source.text)
    top = folder_entries(source.folder)
    if top is None:
        problems.errors.append(f"{where}.source: {source.text!r}: folder not found")
        return _broken(ctx, name, problems.errors, entry, problems.warnings)
    return _plugin_item(ctx, entry, where, (source.folder, top), source.text, problems)


def _cached_item(
    ctx: _Context, entry: dict[str, Any], where: str, cached: CachedPlugin, problems: Problems
) -> Item:
    """An installed remote entry, from its folder in the cache (the root its paths stay in)."""
    top = folder_entries(cached.folder)
    if top is None:
        problems.errors.append(
            f"{where}.source: {cached.source}: its installed copy {cached.folder} is missing; "
            f"install it again"
        )
        return _broken(ctx, entry["name"].strip(), problems.errors, entry, problems.warnings)
    root = cached.folder.resolve()
    in_cache = _Context(ctx.manifest, root, ctx.marketplace, None, {})
    return _plugin_item(in_cache, entry, where, (root, top), cached.source, problems)


def _plugin_item(
    ctx: _Context,
    entry: dict[str, Any],
    where: str,
    plugin: tuple[Path, Entries],
    source: str,
    problems: Problems,
) -> Item:
    """`where` prefixes the entry's own fields in messages (`file: plugins[3]`); `plugin` is
    the plugin folder (resolved) and its entries."""
    folder, top = plugin
    manifest = _plugin_manifest(folder, top, problems)
    plugin_file = os.path.join(folder, PLUGIN_FILE)  # for messages: text, not a Path to make
    if manifest.get("name") not in (None, entry["name"]):
        problems.warnings.append(
            f"{plugin_file}: name: {manifest.get('name')!r} differs from the marketplace "
            f"entry {entry['name']!r}; the entry's is used"
        )
    fields = Fields(
        folder=folder,
        root=ctx.root,
        manifest=manifest,
        manifest_where=f"{plugin_file}: ",
        entry=entry,
        entry_where=f"{where}.",
        at_root=folder == ctx.root,
    )
    parts = find_parts(fields, top, problems)
    cowork = _cowork(entry, manifest, where, plugin_file, parts, problems)

    def text(key: str) -> str | None:
        value = entry.get(key) if isinstance(entry.get(key), str) else manifest.get(key)
        return value if isinstance(value, str) else None

    return Item(
        name=entry["name"].strip(),
        marketplace=ctx.marketplace,
        description=text("description") or "",
        version=text("version"),
        category=text("category"),
        source=source,
        available=not problems.errors,
        path=folder,
        agents=parts.agents,
        skills=parts.skills,
        mcp_servers=parts.mcp_servers,
        hooks=parts.hooks,
        other_parts=parts.other,
        cowork=cowork,
        errors=tuple(problems.errors),
        warnings=tuple(problems.warnings),
    )


def _plugin_manifest(folder: Path, top: Entries, problems: Problems) -> dict[str, Any]:
    if _PLUGIN_DIR not in top:
        return {}
    file = folder / PLUGIN_FILE
    if not file.is_file():
        return {}
    try:
        data = read_json(file)
    except InputError as exc:
        problems.errors.append(str(exc))
        return {}
    if not isinstance(data, dict):
        problems.errors.append(f"{file}: (root): must be an object")
        return {}
    return data


def _cowork(
    entry: dict[str, Any],
    manifest: dict[str, Any],
    where: str,
    plugin_file: str,
    parts: Parts,
    problems: Problems,
) -> CoworkDefaults:
    entry_where = f"{where}.cowork"
    from_plugin = check_cowork(manifest.get("cowork"), f"{plugin_file}: cowork")
    from_entry = check_cowork(entry.get("cowork"), entry_where)
    for check in (from_plugin, from_entry):
        problems.errors.extend(check.errors)
        problems.warnings.extend(check.warnings)
    if from_plugin.errors or from_entry.errors:
        return CoworkDefaults()
    defaults = merged_defaults(from_plugin, from_entry)
    if defaults.workflow:
        origin = entry_where if "workflow" in from_entry.value else f"{plugin_file}: cowork"
        problems.errors.extend(
            dag_problems(
                defaults.workflow,
                {a.name for a in parts.agents} | BUILT_IN_AGENTS,
                f"{origin}.workflow",
                skills={s.name for s in parts.skills},
            )
        )
    return defaults


def _broken(
    ctx: _Context,
    name: str,
    errors: list[str],
    entry: dict[str, Any] | None = None,
    warnings: list[str] | None = None,
    source: str = "",
) -> Item:
    """An entry listed but not loadable: remote (no errors, `source` says where) or broken."""
    description = entry.get("description") if entry else None
    version = entry.get("version") if entry else None
    category = entry.get("category") if entry else None
    return Item(
        name=name,
        marketplace=ctx.marketplace,
        description=description if isinstance(description, str) else "",
        version=version if isinstance(version, str) else None,
        category=category if isinstance(category, str) else None,
        source=source or _source_text(entry),
        available=False,
        errors=tuple(errors),
        warnings=tuple(warnings or ()),
    )


def marketplace_extras(folder: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The raw entries of the marketplace in `folder` by name, and its `renames` (old plugin
    name → new), read again: what installs, dependencies and renames need, of a few items."""
    try:
        data = read_json(folder / MARKETPLACE_FILE)
    except InputError:
        return {}, {}
    if not isinstance(data, dict):
        return {}, {}
    plugins = data.get("plugins")
    entries: dict[str, dict[str, Any]] = {}
    for entry in plugins if isinstance(plugins, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            entries.setdefault(entry["name"].strip(), entry)  # a later duplicate is broken
    return entries, _renames(data) or {}


def _renames(data: dict[str, Any]) -> dict[str, str] | None:
    renames = data.get("renames")
    if not isinstance(renames, dict) or not all(
        isinstance(old, str) and isinstance(new, str) for old, new in renames.items()
    ):
        return None
    return {old.strip(): new.strip() for old, new in renames.items()}


def _source_text(entry: dict[str, Any] | None) -> str:
    value = entry.get("source") if entry else None
    return value if isinstance(value, str) else ""
