"""Every problem a marketplace can have is a clear message naming the file and the field,
and one broken entry never hides the valid ones."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from cowork_tui.core.marketplace.agent_files import load_agent
from cowork_tui.core.marketplace.frontmatter import PluginFileError
from cowork_tui.core.marketplace.loader import load_marketplace
from cowork_tui.core.models import Item

from .marketplace_files import agent_text, entry, write_raw_marketplace

AGENTS = {"a.md": agent_text("a"), "b.md": agent_text("b")}


def load_one(root: Path, plugin: dict[str, Any], agents: dict[str, str] = AGENTS) -> Item:
    write_raw_marketplace(root, {"name": "m", "plugins": [plugin]}, {plugin["name"]: agents})
    market = load_marketplace(root)
    assert market.errors == ()
    return market.items[0]


def only_error(item: Item) -> str:
    assert not item.available
    assert len(item.errors) == 1, item.errors
    return item.errors[0]


def test_broken_json_names_the_file_line_and_column(tmp_path: Path) -> None:
    file = write_raw_marketplace(tmp_path, '{\n  "name": "m",\n  "plugins": [,]\n}')
    market = load_marketplace(tmp_path)
    assert not market.available and market.items == ()
    assert market.errors == (f"{file}: not valid JSON: Expecting value (line 3, column 15)",)


def test_missing_marketplace_json(tmp_path: Path) -> None:
    market = load_marketplace(tmp_path)
    assert market.errors == (f"{tmp_path / '.claude-plugin' / 'marketplace.json'}: not found",)


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ([], "(root): must be an object"),
        ({"name": "m"}, "plugins: must be a list of plugin entries"),
        ({"name": "m", "plugins": {}}, "plugins: must be a list of plugin entries"),
    ],
)
def test_unusable_manifest_shapes(tmp_path: Path, manifest: Any, message: str) -> None:
    file = write_raw_marketplace(tmp_path, manifest)
    assert load_marketplace(tmp_path).errors == (f"{file}: {message}",)


@pytest.mark.parametrize(("value", "bound"), [(11, "1 and 10"), (0, "1 and 10"), (-3, "1 and 10")])
def test_max_parallel_agents_out_of_range(tmp_path: Path, value: int, bound: str) -> None:
    item = load_one(tmp_path, entry("p", cowork={"maxParallelAgents": value}))
    assert only_error(item) == (
        f"{tmp_path / '.claude-plugin' / 'marketplace.json'}: plugins[0].cowork."
        f"maxParallelAgents: must be between {bound}"
    )


@pytest.mark.parametrize(
    ("cowork", "field", "message"),
    [
        ({"completionRate": 1.5}, "completionRate", "must be between 0 and 1"),
        ({"maxParallelAgents": "3"}, "maxParallelAgents", "input should be a valid integer"),
        ({"requires": "git"}, "requires", "input should be a valid array"),
        ({"workflow": [{"agent": "a"}]}, "workflow[0].id", "field required"),
        (
            {"workflow": [{"id": "x", "agent": "a", "after": "y"}]},
            "workflow[0].after",
            "input should be a valid array",
        ),
    ],
)
def test_wrong_types_in_cowork(tmp_path: Path, cowork: Any, field: str, message: str) -> None:
    error = only_error(load_one(tmp_path, entry("p", cowork=cowork)))
    assert error.endswith(f"marketplace.json: plugins[0].cowork.{field}: {message}")


def test_cowork_must_be_an_object(tmp_path: Path) -> None:
    error = only_error(load_one(tmp_path, entry("p", cowork=[1])))
    assert error.endswith("marketplace.json: plugins[0].cowork: must be an object")


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (
            {"name": "p", "source": "./plugins/p", "description": 5},
            "plugins[0].description: must be a string",
        ),
        ({"name": "p"}, "plugins[0].source: required"),
        (
            {"name": "p", "source": 7},
            "plugins[0].source: must be a relative path string or a source object",
        ),
        (
            {"name": "p", "source": "./plugins/missing"},
            "plugins[0].source: './plugins/missing': folder not found",
        ),
        (
            {"name": "p", "source": "../outside"},
            "plugins[0].source: '../outside' escapes the marketplace folder",
        ),
        (
            {"name": "p", "source": "./plugins/../../outside"},
            "plugins[0].source: './plugins/../../outside' escapes the marketplace folder",
        ),
        (
            {"name": "p", "source": "/etc"},
            "plugins[0].source: '/etc' must be relative to the marketplace folder",
        ),
    ],
)
def test_entry_errors(tmp_path: Path, plugin: dict[str, Any], message: str) -> None:
    root = tmp_path / "market"
    (tmp_path / "outside").mkdir()
    error = only_error(load_one(root, plugin))
    assert error == f"{root / '.claude-plugin' / 'marketplace.json'}: {message}"


def test_a_symlink_out_of_the_marketplace_is_rejected(tmp_path: Path) -> None:
    root = tmp_path / "market"
    (tmp_path / "elsewhere" / "agents").mkdir(parents=True)
    write_raw_marketplace(root, {"name": "m", "plugins": [entry("p")]})
    (root / "plugins").mkdir()
    os.symlink(tmp_path / "elsewhere", root / "plugins" / "p")
    assert only_error(load_marketplace(root).items[0]).endswith(
        "plugins[0].source: './plugins/p' escapes the marketplace folder"
    )


def test_entries_that_are_not_objects_or_have_no_name(tmp_path: Path) -> None:
    file = write_raw_marketplace(tmp_path, {"name": "m", "plugins": ["x", {"source": "./p"}]})
    first, second = load_marketplace(tmp_path).items
    assert (first.name, only_error(first)) == (
        "plugins[0]",
        f"{file}: plugins[0]: must be an object",
    )
    assert only_error(second) == (
        f"{file}: plugins[1].name: required, a non-empty string without '@'"
    )


def test_one_broken_entry_never_hides_the_valid_ones(tmp_path: Path) -> None:
    manifest = {
        "name": "m",
        "plugins": [
            entry("good"),
            entry("bad", cowork={"maxParallelAgents": 99}),
            42,
            entry("remote") | {"source": {"source": "github", "repo": "o/r"}},
            entry("good") | {"description": "duplicate name"},
            entry("also-good"),
        ],
    }
    write_raw_marketplace(tmp_path, manifest, {"good": AGENTS, "bad": AGENTS, "also-good": AGENTS})
    market = load_marketplace(tmp_path)
    assert market.errors == ()
    by_position = [(i.name, i.available, bool(i.errors)) for i in market.items]
    assert by_position == [
        ("good", True, False),
        ("bad", False, True),
        ("plugins[2]", False, True),
        ("remote", False, False),
        ("good", False, True),
        ("also-good", True, False),
    ]
    assert market.items[4].errors[-1].endswith("plugins[4].name: duplicate plugin name 'good'")
    assert market.items[3].source == "remote — not available offline: github o/r"


@pytest.mark.parametrize(
    ("source", "origin"),
    [
        ({"source": "github", "repo": "owner/repo", "ref": "v2"}, "github owner/repo @ v2"),
        (
            {"source": "url", "url": "https://x.test/r.git", "sha": "abc"},
            "url https://x.test/r.git",
        ),
        (
            {"source": "git-subdir", "url": "https://x.test/r.git", "path": "plugins/p"},
            "git-subdir https://x.test/r.git (plugins/p)",
        ),
        (
            {"source": "npm", "package": "@acme/plugin", "version": "1.2.0"},
            "npm @acme/plugin @ 1.2.0",
        ),
        ({"source": "archive", "url": "https://x.test/p.tgz"}, "archive https://x.test/p.tgz"),
        ("https://x.test/r.git", "https://x.test/r.git"),
        ("owner/repo", "owner/repo"),
    ],
)
def test_remote_sources_are_listed_unavailable(tmp_path: Path, source: Any, origin: str) -> None:
    write_raw_marketplace(tmp_path, {"name": "m", "plugins": [{"name": "p", "source": source}]})
    item = load_marketplace(tmp_path).items[0]
    assert (item.available, item.errors) == (False, ())
    assert item.source == f"remote — not available offline: {origin}"


def test_plugin_root_and_bare_sources(tmp_path: Path) -> None:
    manifest = {
        "name": "m",
        "metadata": {"pluginRoot": "./plugins"},
        "plugins": [{"name": "p", "source": "p"}, {"name": "q", "source": "../q"}],
    }
    write_raw_marketplace(tmp_path, manifest, {"p": AGENTS})
    p, q = load_marketplace(tmp_path).items
    assert p.available and p.path == (tmp_path / "plugins" / "p").resolve()
    assert [a.name for a in p.agents] == ["a", "b"]
    assert only_error(q).endswith("plugins[1].source: '../q' escapes the marketplace folder")


def workflow(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"workflow": list(steps)}


@pytest.mark.parametrize(
    ("cowork", "messages"),
    [
        (
            workflow({"id": "x", "agent": "a"}, {"id": "y", "agent": "nobody"}),
            [
                "workflow[1].agent: unknown agent 'nobody' "
                "(the item's agents: a, b, general-purpose, merge)"
            ],
        ),
        (
            workflow({"id": "x", "agent": "a"}, {"id": "x", "agent": "b"}),
            ["workflow[1].id: duplicate step id 'x'"],
        ),
        (
            workflow({"id": "x", "agent": "a", "after": ["ghost"]}),
            ["workflow[0].after: unknown step 'ghost'"],
        ),
        (
            workflow({"id": "x", "agent": "a", "after": ["x"]}),
            ["workflow[0].after: step 'x' cannot run after itself"],
        ),
        (
            workflow(
                {"id": "x", "agent": "a", "after": ["z"]},
                {"id": "y", "agent": "a", "after": ["x"]},
                {"id": "z", "agent": "b", "after": ["y"]},
            ),
            ["workflow: cycle between steps x → z → y → x"],
        ),
    ],
)
def test_workflow_errors(tmp_path: Path, cowork: dict[str, Any], messages: list[str]) -> None:
    item = load_one(tmp_path, entry("p", cowork=cowork))
    prefix = f"{tmp_path / '.claude-plugin' / 'marketplace.json'}: plugins[0].cowork."
    assert list(item.errors) == [prefix + m for m in messages]
    assert not item.available


def test_a_valid_workflow_loads(tmp_path: Path) -> None:
    cowork = {
        "maxParallelAgents": 2,
        "completionRate": 0.5,
        "requires": ["git"],
        **workflow(
            {"id": "x", "agent": "a", "prompt": "do {task}"},
            {"id": "y", "agent": "b", "after": ["x"]},
        ),
    }
    item = load_one(tmp_path, entry("p", cowork=cowork))
    assert item.available and item.errors == ()
    assert item.cowork.max_parallel_agents == 2 and item.cowork.requires == ("git",)
    assert [s.id for s in item.cowork.workflow or ()] == ["x", "y"]


def test_plugin_json_is_lenient_and_the_entry_wins(tmp_path: Path) -> None:
    write_raw_marketplace(
        tmp_path,
        {"name": "m", "plugins": [entry("p", cowork={"maxParallelAgents": 2}, futureField=True)]},
        {"p": AGENTS},
    )
    plugin_json = tmp_path / "plugins" / "p" / ".claude-plugin" / "plugin.json"
    plugin_json.parent.mkdir()
    plugin_json.write_text(
        '{"name": "p", "description": "from plugin.json", "version": "2.0",'
        ' "unknownThing": {"x": 1}, "cowork": {"maxParallelAgents": 5,'
        ' "estimatedDuration": "3m", "colour": "red"}}'
    )
    item = load_marketplace(tmp_path).items[0]
    assert item.available, item.errors
    assert (item.description, item.version) == ("from plugin.json", "2.0")
    assert item.cowork.max_parallel_agents == 2 and item.cowork.estimated_duration == "3m"
    assert any("plugins[0]: unknown keys ignored: futureField" in w for w in item.warnings)
    assert any(
        w.endswith("plugin.json: cowork: unknown keys ignored: colour") for w in item.warnings
    )


def test_errors_in_plugin_json_name_plugin_json(tmp_path: Path) -> None:
    write_raw_marketplace(
        tmp_path, {"name": "m", "plugins": [entry("p"), entry("q")]}, {"p": AGENTS, "q": AGENTS}
    )
    for name, text in (
        ("p", '{"name": "p",\n "version": }'),
        ("q", '{"cowork": {"maxParallelAgents": 12}}'),
    ):
        file = tmp_path / "plugins" / name / ".claude-plugin" / "plugin.json"
        file.parent.mkdir()
        file.write_text(text)
    p, q = load_marketplace(tmp_path).items
    p_file = tmp_path / "plugins" / "p" / ".claude-plugin" / "plugin.json"
    q_file = tmp_path / "plugins" / "q" / ".claude-plugin" / "plugin.json"
    assert only_error(p) == f"{p_file}: not valid JSON: Expecting value (line 2, column 13)"
    assert only_error(q) == f"{q_file}: cowork.maxParallelAgents: must be between 1 and 10"


def test_agents_field_lists_extra_agent_files(tmp_path: Path) -> None:
    write_raw_marketplace(
        tmp_path,
        {
            "name": "m",
            "plugins": [
                entry("p", agents=["./extra/c.md", "./more"]),
                entry("q", agents="../../escape.md"),
            ],
        },
        {"p": {"a.md": agent_text("a")}, "q": AGENTS},
    )
    (tmp_path / "plugins" / "p" / "extra").mkdir()
    (tmp_path / "plugins" / "p" / "extra" / "c.md").write_text(agent_text("c"))
    (tmp_path / "plugins" / "p" / "more").mkdir()
    (tmp_path / "plugins" / "p" / "more" / "d.md").write_text(agent_text("d", command="echo d"))
    p, q = load_marketplace(tmp_path).items
    assert [(a.name, a.kind) for a in p.agents] == [
        ("a", "model"),
        ("c", "model"),
        ("d", "command"),
    ]
    assert only_error(q).endswith("plugins[1].agents: '../../escape.md' escapes the plugin folder")


# --- agent files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no frontmatter here", "frontmatter: missing (the file must start with a '---' line)"),
        ("---\nname: x\n", "frontmatter: not closed by a '---' line"),
        ("---\n- a\n- b\n---\n", "frontmatter: must be a mapping of fields"),
        ("---\n[unclosed\n---\n", "frontmatter: not valid YAML: while parsing a flow sequence"),
        ("---\ndescription: d\n---\n", "name: required, a non-empty string"),
        ("---\nname: x\ndescription: [1, 2]\n---\n", "description: must be a string"),
        (
            "---\nname: x\ntools: 5\n---\n",
            "tools: must be a comma-separated string or a list of strings",
        ),
        ("---\nname: x\nmaxTurns: ten\n---\n", "maxTurns: must be a whole number of at least 1"),
        ("---\nname: x\nmaxTurns: 0\n---\n", "maxTurns: must be a whole number of at least 1"),
        ("---\nname: x\nmodel: 4\n---\n", "model: must be a string"),
        ("---\nname: '[x'\n---\n", "name: must be letters, digits, '-', '_' or '.'"),
        ("---\nname: x\ncommand: [ls]\n---\n", "command: must be a string"),
        ("---\nname: x\ncommand:\n---\n", "command: must not be empty"),
        ("---\nname: x\ncommand: ''\n---\n", "command: must not be empty"),
        (
            "---\nname: x\ncommand: echo\ntimeout: -1\n---\n",
            "timeout: must be a number of seconds above 0",
        ),
        (
            "---\nname: x\ncommand: echo\ntimeout: .nan\n---\n",
            "timeout: must be a number of seconds above 0",
        ),
    ],
)
def test_broken_agent_files_name_the_file_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    file = tmp_path / "agent.md"
    file.write_text(text)
    with pytest.raises(PluginFileError) as caught:
        load_agent(file)
    assert str(caught.value).startswith(f"{file}: {message}")


def test_a_broken_agent_makes_its_item_unavailable_and_names_the_file(tmp_path: Path) -> None:
    item = load_one(
        tmp_path, entry("p"), {"a.md": agent_text("a"), "b.md": "---\n{oops\nname: b\n---\n"}
    )
    assert only_error(item).startswith(
        f"{tmp_path / 'plugins' / 'p' / 'agents' / 'b.md'}: frontmatter: not valid YAML"
    )


def test_duplicate_agent_names(tmp_path: Path) -> None:
    item = load_one(tmp_path, entry("p"), {"a.md": agent_text("a"), "b.md": agent_text("a")})
    assert only_error(item).startswith(
        f"{tmp_path / 'plugins' / 'p' / 'agents' / 'b.md'}: name: duplicate agent name 'a'"
    )


def test_command_agents_and_claude_code_fields(tmp_path: Path) -> None:
    file = tmp_path / "agent.md"
    file.write_text(
        "---\nname: scan\ndescription: |\n  Scans.\n  <example>user: scan it</example>\n"
        "tools: [Read, Grep]\nmodel: inherit\nmaxTurns: 4\ncolor: red\n"
        "command: |\n  echo one\n  echo two\ntimeout: 2.5\nfancy: 1\n---\n\nThe prompt.\n"
    )
    spec, warnings = load_agent(file)
    assert spec.kind == "command" and spec.command == "echo one\necho two"
    assert spec.timeout == 2.5 and spec.max_turns == 4 and spec.model == "inherit"
    assert spec.tools == ("Read", "Grep") and spec.color == "red"
    assert spec.description == "Scans.\n<example>user: scan it</example>"
    assert spec.system_prompt == "The prompt."
    assert warnings == [f"{file}: frontmatter: unknown keys ignored: fancy"]
