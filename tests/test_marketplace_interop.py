"""Both real Claude Code marketplaces in ../shared/interop load whole: every plugin, every agent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cowork_tui.core.marketplace.agent_files import load_agent
from cowork_tui.core.marketplace.loader import load_marketplace

INTEROP = Path(__file__).resolve().parents[2] / "shared" / "interop"
MARKETS = ["claude-code", "knowledge-work-plugins"]

pytestmark = pytest.mark.skipif(
    not INTEROP.is_dir(),
    reason=f"interop fixtures not found at {INTEROP} (shared/ beside the repo)",
)


@pytest.mark.parametrize("folder", MARKETS)
def test_every_plugin_is_listed_without_errors(folder: str) -> None:
    root = INTEROP / folder
    manifest = json.loads((root / ".claude-plugin" / "marketplace.json").read_text())
    market = load_marketplace(root)
    assert market.errors == () and market.available
    assert market.name == manifest["name"]
    assert [i.name for i in market.items] == [p["name"] for p in manifest["plugins"]]
    assert all(item.errors == () for item in market.items), [i.errors for i in market.items]


@pytest.mark.parametrize("folder", MARKETS)
def test_relative_sources_load_and_remote_ones_say_where_they_live(folder: str) -> None:
    root = INTEROP / folder
    manifest = json.loads((root / ".claude-plugin" / "marketplace.json").read_text())
    market = load_marketplace(root)
    for entry, item in zip(manifest["plugins"], market.items, strict=True):
        if isinstance(entry["source"], str):
            assert item.available and item.path is not None and item.path.is_dir()
        else:
            assert not item.available
            assert item.source.startswith("remote — not available offline: ")
            assert entry["source"]["source"] in item.source
            assert entry["source"]["url"] in item.source


@pytest.mark.parametrize("folder", MARKETS)
def test_every_agent_file_is_parsed(folder: str) -> None:
    root = INTEROP / folder
    market = load_marketplace(root)
    loaded = {a.path.resolve() for item in market.items for a in item.agents if a.path}
    files = {f.resolve() for f in root.rglob("agents/*.md")}
    assert files and files == loaded
    for file in files:
        spec, _ = load_agent(file)
        assert spec.name == file.stem
        assert spec.description and spec.system_prompt
        assert spec.kind == "model"


def test_claude_code_agent_quirks_are_read_as_claude_code_means_them() -> None:
    plugins = INTEROP / "claude-code" / "plugins"
    explorer, _ = load_agent(plugins / "feature-dev" / "agents" / "code-explorer.md")
    assert explorer.tools[:3] == ("Glob", "Grep", "LS") and explorer.model == "sonnet"
    analyzer, warnings = load_agent(plugins / "hookify" / "agents" / "conversation-analyzer.md")
    assert analyzer.tools == ("Read", "Grep") and analyzer.model == "inherit"
    assert analyzer.color == "yellow" and "<example>" in analyzer.description
    assert warnings and "read line by line" in warnings[0]
    # a multi-line description with unindented <example> lines (not valid YAML)
    validator, _ = load_agent(plugins / "plugin-dev" / "agents" / "plugin-validator.md")
    assert validator.description.startswith("Use this agent when the user asks")
    assert "Context: User finished creating a new plugin" in validator.description
    assert validator.tools == ("Read", "Grep", "Glob", "Bash") and validator.model == "inherit"


def test_folded_descriptions_lists_and_max_turns() -> None:
    agents = INTEROP / "knowledge-work-plugins" / "partner-built" / "brand-voice" / "agents"
    qa, warnings = load_agent(agents / "quality-assurance.md")
    assert warnings == []
    assert qa.max_turns == 10 and qa.model == "haiku" and qa.tools == ("Read", "Glob", "Grep")
    assert qa.description.startswith("Validates content") and "<example>" in qa.description
