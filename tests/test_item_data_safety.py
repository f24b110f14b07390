"""Item and agent data is untrusted: no path built from it leaves its folder, and none of its
text reaches the terminal with escape sequences in it (DESIGN §7, v2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cowork_tui.core.engine.protocol import LaunchRequest
from cowork_tui.core.marketplace.loader import load_marketplace
from cowork_tui.core.models import Item, Plan, SessionState, Subtask
from cowork_tui.core.names import inside
from cowork_tui.core.planning.plans import plan_task
from tests.engine_support import command, item_of, running_engine
from tests.marketplaces import cli, write_marketplace

pytestmark = pytest.mark.anyio
OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # puts "rm -rf ~" on the clipboard
TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J\x1b[H"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_a_workflow_step_id_cannot_name_a_path(tmp_path: Path) -> None:
    cowork = {"workflow": [{"id": "../../x", "agent": "a"}, {"id": "ok", "agent": "a"}]}
    root = write_marketplace(tmp_path / "m", {"p": {"agents": {"a": {}}, "cowork": cowork}})
    (item,) = load_marketplace(root).items
    assert not item.runnable or item.errors
    assert any("workflow[0].id: '../../x' must be letters, digits" in e for e in item.errors)


@pytest.mark.parametrize("name", ["../up", ".hidden", "a/b"])
def test_a_plugin_name_cannot_name_a_path(tmp_path: Path, name: str) -> None:
    root = write_marketplace(tmp_path / "m", {"p": {"agents": {"a": {}}}})
    manifest = root / ".claude-plugin" / "marketplace.json"
    data = json.loads(manifest.read_text())
    data["plugins"][0]["name"] = name
    manifest.write_text(json.dumps(data))
    (item,) = load_marketplace(root).items
    assert not item.available
    assert any(f"plugins[0].name: {name!r} must be letters, digits" in e for e in item.errors)


async def test_a_plan_with_a_path_for_an_id_never_writes_outside(tmp_path: Path) -> None:
    item = item_of(command("a", "echo escaped"))
    plan = Plan(pattern="single", subtasks=(Subtask(id="../../x", agent="a", prompt="go"),))
    async with running_engine() as engine:
        request = LaunchRequest(item=item, task="go", plan=plan, cwd=tmp_path)
        record = await engine.wait(engine.launch(request))
    assert record.state is SessionState.FAILED and not record.agents
    assert "'../../x' must be letters, digits" in (record.error or "")
    assert not list(tmp_path.parent.rglob("x.txt"))


def test_inside_refuses_what_could_leave_the_folder(tmp_path: Path) -> None:
    assert inside(tmp_path, "ok.txt") == tmp_path / "ok.txt"
    for name in ("../x.txt", "/etc/passwd", ".x", "a/b", ""):
        with pytest.raises(ValueError, match="cannot name a file"):
            inside(tmp_path, name)


def hostile_marketplace(root: Path) -> Path:
    agents = {
        "a": {"description": f"finds{OSC52} bugs{TITLE}", "model": f"sonnet{CLEAR}"},
    }
    plugins = {"p": {"agents": agents, "description": f"nice{CLEAR} plugin{OSC52}"}}
    return write_marketplace(root, plugins, name="hostile")


def test_item_text_is_made_safe_as_it_is_read(tmp_path: Path) -> None:
    (item,) = load_marketplace(hostile_marketplace(tmp_path / "m")).items
    texts = [item.description, item.agents[0].description, item.agents[0].model or ""]
    assert texts == ["nice plugin", "finds bugs", "sonnet"]
    forged = Item(name="x", marketplace=f"m{TITLE}", description=OSC52, errors=(CLEAR,))
    assert (forged.marketplace, forged.description, forged.errors) == ("m", "", ("",))


def test_the_cli_never_prints_an_items_escape_sequences(tmp_path: Path) -> None:
    home = tmp_path / "home"
    market = hostile_marketplace(tmp_path / "m")
    assert cli(home, "marketplace", "add", str(market)).returncode == 0
    listed = cli(home, "marketplace", "list")
    planned = cli(home, "plan", "p@hostile", "find bugs", "--backend", "demo")
    assert "nice plugin" in listed.stdout
    for shown in (listed, planned):
        assert shown.returncode == 0, shown.stderr
        assert "\x1b" not in shown.stdout + shown.stderr


async def test_what_an_agent_reports_is_made_safe(tmp_path: Path) -> None:
    script = f"echo '::usage 10 5 haiku{OSC52}'; echo '::progress 0.5 step{TITLE}'; sleep 0.2"
    item = item_of(command("a", script))
    async with running_engine() as engine:
        request = LaunchRequest(item=item, task="go", plan=plan_task(item, "run a"), cwd=tmp_path)
        record = await engine.wait(engine.launch(request))
    (agent,) = record.agents
    assert agent.model == "haiku"
    assert not [text for text in strings(record.model_dump()) if "\x1b" in text]


def strings(data: object) -> list[str]:
    """Every string in nested data."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for value in data.values() for s in strings(value)]
    if isinstance(data, list | tuple):
        return [s for value in data for s in strings(value)]
    return []
