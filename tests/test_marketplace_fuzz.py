"""Property-based: malformed marketplace.json and agent frontmatter never crash the loader, and
every problem is reported as `file: field: message`."""

from __future__ import annotations

import copy
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cowork_tui.core.marketplace.agent_files import KNOWN_KEYS, load_agent
from cowork_tui.core.marketplace.catalog import Catalog
from cowork_tui.core.marketplace.frontmatter import PluginFileError, split_frontmatter
from cowork_tui.core.marketplace.loader import load_marketplace
from cowork_tui.core.models import Marketplace
from cowork_tui.core.paths import Paths

from .marketplace_files import agent_text, write_raw_marketplace

MESSAGE = re.compile(r"^/\S+\.(json|md): (?P<field>[^:\n]+): \S.*$", re.DOTALL)
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)

VALID: dict[str, Any] = {
    "name": "m",
    "metadata": {"pluginRoot": "./plugins"},
    "plugins": [
        {
            "name": "target",
            "source": "./plugins/target",
            "cowork": {
                "maxParallelAgents": 2,
                "requires": ["sh"],
                "workflow": [{"id": "x", "agent": "a"}, {"id": "y", "agent": "b", "after": ["x"]}],
            },
        },
        {"name": "bystander", "source": "./plugins/bystander"},
    ],
}
# where a mutation goes: a path of keys/indexes into VALID
SPOTS = [
    ("name",),
    ("metadata",),
    ("metadata", "pluginRoot"),
    ("plugins", 0),
    ("plugins", 0, "name"),
    ("plugins", 0, "source"),
    ("plugins", 0, "description"),
    ("plugins", 0, "version"),
    ("plugins", 0, "agents"),
    ("plugins", 0, "cowork"),
    ("plugins", 0, "cowork", "maxParallelAgents"),
    ("plugins", 0, "cowork", "completionRate"),
    ("plugins", 0, "cowork", "requires"),
    ("plugins", 0, "cowork", "workflow"),
    ("plugins", 0, "cowork", "workflow", 0),
    ("plugins", 0, "cowork", "workflow", 1, "after"),
    ("plugins", 0, "cowork", "workflow", 1, "agent"),
    ("plugins", 0, "cowork", "workflow", 0, "id"),
]
AGENTS = {"a.md": agent_text("a"), "b.md": agent_text("b")}


def load(manifest: Any) -> Marketplace:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_raw_marketplace(root, manifest, {"target": AGENTS, "bystander": AGENTS})
        return load_marketplace(root)


def assert_well_reported(market: Marketplace) -> None:
    for message in [*market.errors, *(e for i in market.items for e in i.errors)]:
        assert MESSAGE.match(message), message
    for item in market.items:
        assert item.available or item.errors or item.source.startswith("remote")


@FUZZ
@given(spot=st.sampled_from(SPOTS), value=json_values)
@example(spot=("plugins", 0, "source"), value="x\x00")
@example(spot=("plugins", 0, "agents"), value=["\x00"])
def test_a_mutated_manifest_never_crashes(spot: tuple[Any, ...], value: Any) -> None:
    manifest = copy.deepcopy(VALID)
    holder = manifest
    for key in spot[:-1]:
        holder = holder[key]
    holder[spot[-1]] = value
    market = load(manifest)
    assert_well_reported(market)
    if spot[0] == "plugins":  # the other entry is untouched, so it still loads
        bystander = next(i for i in market.items if i.name == "bystander")
        assert bystander.available


@FUZZ
@given(n=st.integers(min_value=-1000, max_value=1000))
def test_max_parallel_agents_bounds(n: int) -> None:
    manifest = copy.deepcopy(VALID)
    manifest["plugins"][0]["cowork"]["maxParallelAgents"] = n
    target = load(manifest).items[0]
    assert target.available == (1 <= n <= 10)
    if not target.available:
        assert target.errors[0].endswith(
            "marketplace.json: plugins[0].cowork.maxParallelAgents: must be between 1 and 10"
        )


@FUZZ
@given(text=st.text(max_size=200) | json_values.map(json.dumps))
def test_any_text_as_marketplace_json(text: str) -> None:
    market = load(text)
    assert_well_reported(market)


def check_agent(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "agent.md"
        file.write_text(text)
        try:
            spec, warnings = load_agent(file)
        except PluginFileError as exc:
            match = MESSAGE.match(str(exc))
            assert match, str(exc)
            assert match["field"].split(".")[0] in {"frontmatter", *KNOWN_KEYS}, str(exc)
        else:
            assert spec.name and spec.path == file
            assert all(MESSAGE.match(w) for w in warnings)


@FUZZ
@given(front=st.text(max_size=200), body=st.text(max_size=40))
def test_any_frontmatter_text(front: str, body: str) -> None:
    check_agent(f"---\n{front}\n---\n{body}")


LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # as plugin files are read (libyaml)
# pieces of frontmatter lines that YAML reads in its own ways: indicators, quotes, comments,
# colons, tabs, numbers, dates, booleans, nulls, merge keys, non-ASCII
YAML_BITS = st.sampled_from(
    [" ", "  ", "\t", "a", "Read", "é", "-", ":", ": ", "#", " #", "'", '"', "[", "]", "{", "}",
     ",", "!", "&", "*", "|", ">", "%", "@", "`", "?", "(", ")", "=", "<<", "~", ".", "yes",
     "No", "On", "null", "true", "1", "0x1F", "1_0", "1.5", ".inf", "1:30", "2001-01-01"]
)  # fmt: skip
FRONT_LINES = st.lists(
    st.tuples(st.lists(YAML_BITS, max_size=3), st.lists(YAML_BITS, max_size=6)).map(
        lambda kv: f"{''.join(kv[0]) or 'k'}:{''.join(kv[1])}"
    )
    | st.sampled_from(["", "  ", "# note", "- item", "  nested: x"]),
    max_size=5,
).map("\n".join)


@FUZZ
@given(front=FRONT_LINES)
@example(front="name: x\ntools: Read, Grep\ndescription:")
@example(front="a: yes\nb: 1:30 \nc: x # y")
def test_frontmatter_fields_are_what_yaml_reads(front: str) -> None:
    path = Path("/m/agents/a.md")
    try:
        expected = yaml.load(front, Loader=LOADER)
    except (yaml.YAMLError, ValueError):  # read leniently then, with a warning, or refused
        try:
            _, _, warnings = split_frontmatter(
                path, f"---\n{front}\n---\n", KNOWN_KEYS, required=True
            )
        except PluginFileError as exc:
            assert "frontmatter: not valid YAML" in str(exc)
        else:
            assert any("frontmatter: not valid YAML" in w for w in warnings)
        return
    if expected is not None and not isinstance(expected, dict):
        return  # a list or a scalar: refused, as tested above
    meta, _, _ = split_frontmatter(path, f"---\n{front}\n---\n", KNOWN_KEYS, required=True)
    assert meta == (expected or {})


def test_plain_frontmatter_is_read_without_a_yaml_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    real_load = yaml.load

    def counting_load(stream: str, Loader: Any) -> Any:
        parsed.append(stream)
        return real_load(stream, Loader=Loader)

    monkeypatch.setattr(yaml, "load", counting_load)
    plain = tmp_path / "plain.md"
    plain.write_text("---\nname: plain\ndescription: Reads the code.\ntools: Read, Grep\n---\nGo.")
    listed = tmp_path / "listed.md"
    listed.write_text("---\nname: listed\ntools:\n  - Read\n  - Grep\n---\nGo.")
    assert load_agent(plain)[0].tools == load_agent(listed)[0].tools == ("Read", "Grep")
    assert [text.strip() for text in parsed] == ["name: listed\ntools:\n  - Read\n  - Grep"]


@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(sorted(KNOWN_KEYS)) | st.text(min_size=1, max_size=6),
        json_values,
        max_size=6,
    ),
    name=st.sampled_from(["agent", "", "a b", None]),
)
def test_any_frontmatter_fields(fields: dict[str, Any], name: str | None) -> None:
    if name is not None:
        fields = {"name": name, **fields}
    check_agent(f"---\n{yaml.safe_dump(fields, allow_unicode=True)}---\nprompt\n")


@FUZZ
@given(
    known=json_values,
    installed=json_values,
    settings_file=json_values,
    raw=st.sampled_from(["", "{", "[]", "null", '{"a": NaN}']),
)
def test_any_claude_code_files(known: Any, installed: Any, settings_file: Any, raw: str) -> None:
    """Whatever Claude Code's files hold, discovery never fails (read only, lenient)."""
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        home = Path(tmp)
        patch.setenv("HOME", str(home))
        plugins = home / ".claude" / "plugins"
        plugins.mkdir(parents=True)
        (plugins / "known_marketplaces.json").write_text(json.dumps(known))
        (plugins / "installed_plugins.json").write_text(json.dumps(installed))
        (home / ".claude" / "settings.json").write_text(raw or json.dumps(settings_file))
        catalog = Catalog(Paths(config_dir=home / "cfg", data_dir=home / "data"))
        assert catalog.marketplaces()[0].kind == "bundled"
