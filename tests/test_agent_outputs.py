"""Agents' outputs: a write that fails (a full disk) fails that agent only; outputs are private
to the user; agents get no path to the archive or to other sessions' outputs (DESIGN §7)."""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from cowork_tui.core.engine.backends.claude_options import ClaudeSetup, cli_env
from cowork_tui.core.engine.backends.claude_plugin import stage_plugin
from cowork_tui.core.engine.backends.command import CommandBackend
from cowork_tui.core.engine.backends.demo import DemoBackend
from cowork_tui.core.engine.local import LocalEngine
from cowork_tui.core.engine.slot import AgentSlot
from cowork_tui.core.models import AgentSpec, AgentState, Item, SessionState, SkillSpec
from cowork_tui.core.pricing import PriceTable
from cowork_tui.core.procs import group_members, process_start_time
from tests.engine_support import (
    GRACE,
    GatedBackend,
    agent_state,
    command,
    item_of,
    plan_of,
    request,
    solo,
    step,
    until,
)

pytestmark = pytest.mark.anyio

A, S = AgentState, SessionState


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def engine(outputs: Path, gated: GatedBackend | None = None) -> LocalEngine:
    backends = {
        "command": CommandBackend(),
        "demo": DemoBackend(),
        "gated": gated or GatedBackend(),
    }
    return LocalEngine(backends, grace_seconds=GRACE, outputs_dir=outputs)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o022, 0o277], ids=["umask-000", "umask-022", "umask-277"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


# --- a full disk ----------------------------------------------------------------------------


async def test_a_full_disk_fails_that_agent_and_its_siblings_go_on(tmp_path: Path) -> None:
    outputs, gated = tmp_path / "outputs", GatedBackend()
    item = item_of(command("full", "echo first; exec sleep 30"), AgentSpec(name="sibling"))
    req = request(item, plan_of(step("full"), step("sibling")), backend="gated")
    async with engine(outputs, gated) as running:
        sid = running.launch(req)
        running.pause(sid)  # held before anything starts: its output goes to a full device
        (outputs / sid).mkdir(parents=True, exist_ok=True)
        (outputs / sid / "full.txt").symlink_to("/dev/full")
        running.resume(sid)
        failed = await until(running, sid, lambda r: agent_state(r, "full") is A.FAILED)
        assert agent_state(failed, "sibling") is A.RUNNING  # it goes on
        full = failed.agent("full")
        assert full is not None and full.pgid is not None
        assert full.error == (
            f"disk full: {outputs / sid / 'full.txt'}: the agent's output could not be "
            "written (No space left on device)"
        )
        assert not group_members(full.pgid) and process_start_time(full.pgid) is None  # ended
        gated.release.set()
        record = await running.wait(sid)
    assert record.state is S.COMPLETED and record.partial
    assert {a.subtask: a.state for a in record.agents} == {"full": A.FAILED, "sibling": A.SUCCEEDED}


class _FailingClose(io.StringIO):
    """An output file whose last bytes cannot be written (EIO when it is closed)."""

    def __init__(self, real: io.TextIOBase) -> None:
        super().__init__()
        self._real = real

    def close(self) -> None:
        self._real.close()
        super().close()
        raise OSError(errno.EIO, "Input/output error")


def test_an_output_that_cannot_be_closed_fails_the_agent(tmp_path: Path) -> None:
    out = tmp_path / "s" / "a.txt"
    slot = AgentSlot(step("a"), command("a", "true"), PriceTable(), out, lambda _, __: None)
    slot.start()
    slot.output("all of it")
    assert isinstance(slot._file, io.TextIOBase)
    slot._file = _FailingClose(slot._file)
    slot.finish(A.SUCCEEDED, result="all of it")
    assert slot.state is A.FAILED and slot.done.is_set()
    assert slot.record().error == (
        f"disk I/O error: {out}: the agent's output could not be written (Input/output error)"
    )


def test_the_merge_fails_when_its_output_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "m.txt").symlink_to("/dev/full")
    slot = AgentSlot(
        step("m", merge=True), None, PriceTable(), tmp_path / "s" / "m.txt", lambda _, __: None
    )
    slot.start()
    slot.output("merged")  # the in-process merge: nothing to end, it fails as it finishes
    slot.finish(A.SUCCEEDED, result="merged")
    assert slot.state is A.FAILED
    assert (slot.record().error or "").startswith(f"disk full: {tmp_path / 's' / 'm.txt'}: ")


# --- outputs are private --------------------------------------------------------------------


async def test_outputs_are_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    outputs = tmp_path / "data" / "outputs"
    async with engine(outputs) as running:
        record = await running.wait(running.launch(solo("echo secret")))
    assert record.agent("a").state is A.SUCCEEDED  # type: ignore[union-attr]
    session = outputs / record.id
    assert {p.name: mode(p) for p in (tmp_path / "data", outputs, session)} == {
        "data": 0o700, "outputs": 0o700, record.id: 0o700,
    }  # fmt: skip
    assert {p.name: mode(p) for p in session.iterdir()} == {"a.txt": 0o600, "a.result": 0o600}


async def test_an_older_outputs_folder_is_made_private(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    (outputs / "older-session").mkdir(parents=True)
    outputs.chmod(0o755)
    async with engine(outputs):
        assert mode(outputs) == 0o700


def test_the_staged_plugin_is_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    plugin = tmp_path / "it"
    (plugin / "skills" / "greet").mkdir(parents=True)
    (plugin / "skills" / "greet" / "SKILL.md").write_text("---\nname: greet\n---\nhello\n")
    (plugin / "commands").mkdir()
    (plugin / "commands" / "shout.md").write_text("shout\n")
    item = Item(
        name="it",
        marketplace="tests",
        path=plugin,
        skills=(
            SkillSpec(name="greet", path=plugin / "skills" / "greet" / "SKILL.md"),
            SkillSpec(name="shout", kind="command", path=plugin / "commands" / "shout.md"),
        ),
    )
    staged = stage_plugin(item, tmp_path / "outputs" / "s1" / "_plugin", extras=False)
    folders = [tmp_path / "outputs" / "s1", staged.parent, staged, staged / ".claude-plugin"]
    assert [mode(p) for p in folders] == [0o700] * 4
    assert mode(staged / ".claude-plugin" / "plugin.json") == 0o600
    assert (staged / "commands" / "shout.md").read_text() == "shout\n"


# --- what agents are told -------------------------------------------------------------------


async def test_a_command_agent_gets_no_path_to_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("COWORK_TUI_HOME", str(home))
    monkeypatch.setenv("COWORK_TUI_DEBUG", "1")
    async with engine(home / "data" / "outputs") as running:
        record = await running.wait(running.launch(solo("env")))
    agent = record.agent("a")
    assert agent is not None and agent.state is A.SUCCEEDED and agent.output_path
    environ = Path(agent.output_path).read_text().splitlines()
    assert f"COWORK_SESSION_ID={record.id}" in environ  # what it is told
    assert not [line for line in environ if str(home) in line or "COWORK_TUI" in line]


def test_a_claude_agent_gets_no_path_to_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COWORK_TUI_HOME", str(tmp_path / "home"))
    env = os.environ | cli_env(ClaudeSetup(), "s1")  # what the SDK starts the CLI with
    assert env["COWORK_TUI_HOME"] == "" and env["COWORK_SESSION_ID"] == "s1"
    assert not [value for value in env.values() if str(tmp_path / "home") in value]
