"""A plugin's parts found where Claude Code finds them: agents, skills, commands, MCP servers,
hooks; what can run, what cannot and why; and what the trust prompt shows of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cowork_tui.core.errors import InputError
from cowork_tui.core.marketplace.agent_files import load_agent
from cowork_tui.core.marketplace.catalog import Catalog
from cowork_tui.core.marketplace.loader import load_marketplace
from cowork_tui.core.marketplace.trust import describe_trust
from cowork_tui.core.models import Item
from cowork_tui.core.paths import Paths


def write(root: Path, files: dict[str, str | dict[str, Any]]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content))


def market(root: Path, *entries: dict[str, Any], files: dict[str, Any] | None = None) -> list[Item]:
    write(root, {".claude-plugin/marketplace.json": {"name": "m", "plugins": list(entries)}})
    write(root, files or {})
    return list(load_marketplace(root).items)


def skill(name: str, extra: str = "") -> str:
    return f"---\nname: {name}\ndescription: the {name} skill\n{extra}---\nDo {name}.\n"


def test_default_folders_nested_commands_and_frontmatter_rules(tmp_path: Path) -> None:
    (item,) = market(
        tmp_path,
        {"name": "p", "source": "./p"},
        files={
            "p/skills/alpha/SKILL.md": skill("alpha", "user-invocable: no\n"),
            "p/skills/beta/SKILL.md": "No frontmatter: the first paragraph\ndescribes it.\n\nMore.",
            "p/skills/beta/deeper/gamma/SKILL.md": skill("gamma"),  # one level only
            "p/commands/review.md": "---\nname: ignored\nargument-hint: [file]\n---\nReview $1\n",
            "p/commands/git/push.md": "Push it.\n",
            "p/skills/review/SKILL.md": skill("review"),  # a skill and a command: the skill
        },
    )
    names = {s.name: s for s in item.skills}
    assert set(names) == {"alpha", "beta", "review", "git:push"}
    assert not names["alpha"].user_invocable and names["alpha"].model_invocable
    assert names["beta"].description == "No frontmatter: the first paragraph describes it."
    assert names["review"].kind == "skill" and names["git:push"].kind == "command"
    assert any("command 'review' has a skill's name" in w for w in item.warnings)
    assert item.runnable and item.uses_models


def test_plugin_json_lists_replace_agents_and_commands_and_add_skills(tmp_path: Path) -> None:
    agent = "---\nname: {0}\ndescription: d\n---\nBody.\n"
    (item,) = market(
        tmp_path,
        {"name": "p", "source": "./p", "commands": ["./more/extra.md"]},
        files={
            "p/.claude-plugin/plugin.json": {
                "name": "p",
                "agents": "./custom/",
                "commands": ["./cmds/"],
                "skills": ["./extra-skills/"],
            },
            "p/agents/default.md": agent.format("default"),
            "p/custom/special.md": agent.format("special"),
            "p/commands/default.md": "Not read: plugin.json lists its commands.",
            "p/cmds/listed.md": "Listed.",
            "p/more/extra.md": "Added by the entry.",
            "p/skills/base/SKILL.md": skill("base"),
            "p/extra-skills/more/SKILL.md": skill("more"),
        },
    )
    assert [a.name for a in item.agents] == ["special"]
    assert {s.name for s in item.skills} == {"base", "more", "listed", "extra"}


def test_a_root_skill_and_entries_sharing_a_marketplaces_skills(tmp_path: Path) -> None:
    items = market(
        tmp_path,
        {"name": "one", "source": "./one"},
        {"name": "docs", "source": "./", "strict": False, "skills": ["./skills/pdf"]},
        {"name": "all", "source": "./", "strict": False, "skills": ["./skills"]},
        files={
            "one/SKILL.md": skill("solo"),
            "skills/pdf/SKILL.md": skill("pdf"),
            "skills/xlsx/SKILL.md": skill("xlsx"),
        },
    )
    one, docs, everything = items
    assert [s.name for s in one.skills] == ["solo"]
    assert [s.name for s in docs.skills] == ["pdf"]  # not the marketplace's other skills
    assert {s.name for s in everything.skills} == {"pdf", "xlsx"}


def test_what_cannot_run_says_why_before_launch(tmp_path: Path) -> None:
    hooks = {"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [
        {"type": "command", "command": "echo checked"}]}]}}  # fmt: skip
    items = market(
        tmp_path,
        {"name": "hooked", "source": "./h"},
        {"name": "mcp", "source": "./mcp"},
        {"name": "lsp", "source": "./lsp", "lspServers": {"x": {"command": "x-lsp"}}},
        {"name": "empty", "source": "./e"},
        files={
            "h/hooks/hooks.json": hooks,
            "mcp/.mcp.json": {"db": {"command": "db-server", "args": ["--port", "1"]}},
            "lsp/.keep": "",
            "e/README.md": "nothing",
        },
    )
    reasons = {i.name: i.not_runnable for i in items}
    assert reasons == {
        "hooked": "hooks only: nothing to run",
        "mcp": "MCP servers only: nothing to run",
        "lsp": "LSP servers only: nothing to run",
        "empty": "no agents, skills or commands: nothing to run",
    }
    hooked, mcp, *_ = items
    assert hooked.hooks[0].actions == ("command: echo checked",)
    assert mcp.mcp_servers[0].command == "db-server --port 1"


def test_tools_lists_split_at_top_level_commas_only(tmp_path: Path) -> None:
    def tools(line: str) -> tuple[str, ...] | None:
        file = tmp_path / "a.md"
        file.write_text(f"---\nname: a\n{line}---\nBody\n")
        return load_agent(file)[0].tools

    assert tools("tools: Read, Agent(explorer, planner), Bash(git log:*)\n") == (
        "Read",
        "Agent(explorer, planner)",
        "Bash(git log:*)",
    )
    assert tools("") is None  # no `tools:` line: Claude Code's default tools
    assert tools('tools: "*"\n') is None
    assert tools("tools: []\n") == ()  # none at all, as written


def test_the_trust_prompt_lists_everything_that_can_act_and_install_asks_for_it(
    tmp_path: Path,
) -> None:
    paths = Paths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    market(
        tmp_path / "m",
        {"name": "p", "source": "./p"},
        files={
            "p/agents/reader.md": "---\nname: reader\ndescription: d\n---\nRead.\n",
            "p/agents/lint.md": "---\nname: lint\ncommand: ruff check .\n---\n",
            "p/commands/status.md": "State: !`git status`\n",
            "p/.mcp.json": {"mcpServers": {"web": {"url": "https://mcp.example/sse"}}},
            "p/hooks/hooks.json": {
                "hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": "echo hi"}]}]}
            },
        },
    )
    catalog = Catalog(paths, claude=False)
    catalog.add_marketplace(tmp_path / "m")
    item = catalog.find("p@m")
    text = describe_trust(item)
    for shown in (
        "lint:",
        "ruff check .",
        "/p:status:",
        "git status",
        "reader: Claude Code's default tools",
        "web: https://mcp.example/sse",
        "SessionStart: command: echo hi",
    ):
        assert shown in text, shown
    assert not item.extras_trusted
    with pytest.raises(InputError, match="can act on this machine"):
        catalog.install("p@m", yes=False)
    with pytest.raises(InputError, match="not installed"):  # its commands run without a model
        catalog.check_trust(item)
    installed = catalog.install("p@m", yes=True)
    assert installed.trusted and installed.extras_trusted
    catalog.check_trust(installed)


# --- symlinks in a plugin's folders ------------------------------------------------------

AGENT = "---\nname: {0}\ndescription: d\n---\nBody.\n"


def link(path: Path, target: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


def test_symlinks_leading_out_of_the_marketplace_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(
        outside,
        {
            "evil.md": AGENT.format("evil"),
            "agents/evil2.md": AGENT.format("evil2"),
            "skill/SKILL.md": skill("stolen"),
            "SKILL.md": skill("stolen-file"),
            "cmd.md": "Run it.",
            "cmds/deep.md": "Deeper.",
        },
    )
    root = tmp_path / "m"
    links = [
        link(root / "p/agents/evil.md", outside / "evil.md"),
        link(root / "q/agents", outside / "agents"),
        link(root / "p/skills/stolen", outside / "skill"),
        link(root / "p/skills/half/SKILL.md", outside / "SKILL.md"),
        link(root / "p/commands/cmd.md", outside / "cmd.md"),
        link(root / "p/commands/sub", outside / "cmds"),
    ]
    p, q = market(
        root,
        {"name": "p", "source": "./p"},
        {"name": "q", "source": "./q"},
        files={"p/agents/good.md": AGENT.format("good"), "p/skills/fine/SKILL.md": skill("fine")},
    )
    assert [a.name for a in p.agents] == ["good"] and q.agents == ()
    assert [s.name for s in p.skills] == ["fine"]
    assert p.available and q.available and not p.errors
    for found in links:
        refused = [w for w in p.warnings + q.warnings if w.startswith(f"{found}: ")]
        assert refused == [
            f"{found}: a symlink leading out of the marketplace folder "
            f"(to {str(found.readlink())!r}); not loaded"
        ]


def test_symlinks_that_stay_inside_the_marketplace_still_load(tmp_path: Path) -> None:
    root = tmp_path / "m"
    write(
        root,
        {
            "shared/helper.md": AGENT.format("helper"),
            "shared/skill/SKILL.md": skill("shared-skill"),
            "shared/cmd.md": "Shared command.",
            "shared/cmds/deep.md": "Deeper.",
            "p/agents/own.md": AGENT.format("own"),
        },
    )
    link(root / "p/agents/helper.md", Path("../../shared/helper.md"))
    link(root / "p/skills/linked", root / "shared/skill")
    link(root / "p/commands/cmd.md", Path("../../shared/cmd.md"))
    link(root / "p/commands/sub", root / "shared/cmds")
    link(root / "shared/cmds/again", Path("."))  # a loop: walked once
    (p,) = market(root, {"name": "p", "source": "./p"})
    assert [a.name for a in p.agents] == ["helper", "own"]
    assert {s.name: s.kind for s in p.skills} == {
        "shared-skill": "skill",
        "cmd": "command",
        "sub:deep": "command",
    }
    assert not p.warnings and not p.errors
