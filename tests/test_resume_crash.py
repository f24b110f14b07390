"""Resume after kill -9 (DESIGN §4, §7): `cowork-tui run`, then `resume`, killed at random points
until the session ends; what the archive had as SUCCEEDED never runs again, and a Claude agent
killed during its turn continues its own conversation."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.claude_support import offline_env
from tests.fake_anthropic import FakeAnthropic, Reply, Usage

from .marketplaces import cli, prepared_home

STEP = "echo $COWORK_AGENT >> log; sleep 0.3; cat; echo result-of-$COWORK_AGENT"
ITEMS: dict[str, dict[str, Any]] = {
    "chain": {
        "agents": {name: {"command": STEP} for name in ("a", "b", "c", "d")},
        "cowork": {
            "workflow": [
                {"id": "a", "agent": "a"},
                {"id": "b", "agent": "b", "after": ["a"]},
                {"id": "c", "agent": "c", "after": ["a"]},
                {"id": "d", "agent": "d", "after": ["b", "c"], "merge": True},
            ]
        },
    },
    "writer": {
        "agents": {"writer": {"description": "writes reports", "body": "MARKER-WRITER: report."}}
    },
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepared_home(tmp_path_factory, ITEMS)


def start(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cowork_tui", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ | (env or {}) | {"COWORK_TUI_HOME": str(home)},
    )  # fmt: skip


def newest(home: Path) -> dict[str, Any] | None:
    listed = cli(home, "history", "list", "--limit", "1", "--json")
    rows = json.loads(listed.stdout)
    return rows[0] if rows else None


def shown(home: Path, session_id: str) -> dict[str, Any]:
    done = cli(home, "history", "show", session_id, "--json")
    assert done.returncode == 0, done.stderr
    record: dict[str, Any] = json.loads(done.stdout)
    return record


def runs(log: Path) -> dict[str, int]:
    names = log.read_text().split() if log.exists() else []
    return {name: names.count(name) for name in set(names)}


def test_killed_at_random_points_it_resumes_to_completed_and_nothing_runs_twice(
    home: Path, tmp_path: Path
) -> None:
    rng = random.Random(20261201)
    resumes = 0
    for trial in range(8):  # 4 at least; more while the kills landed too early (a busy machine)
        if trial >= 4 and resumes >= 4:
            break
        cwd = tmp_path / f"trial{trial}"
        cwd.mkdir()
        log = cwd / "log"
        task = f"trial {trial}"
        child = start(home, "run", "chain", task, "--json", "--cwd", str(cwd))
        session_id: str | None = None
        resumed = 0
        kept: dict[str, int] = {}  # runs of the subtasks the archive had as SUCCEEDED
        for _ in range(6):
            time.sleep(rng.uniform(0.2, 1.6))
            child.kill()
            child.wait()
            last = newest(home)
            if last is None or last["task"] != task:  # killed before the session existed
                child = start(home, "run", "chain", task, "--json", "--cwd", str(cwd))
                continue
            session_id = last["id"]
            record = shown(home, session_id)
            done = runs(log)
            for agent in record["agents"]:
                if agent["state"] == "SUCCEEDED":
                    kept.setdefault(agent["subtask"], done.get(agent["subtask"], 0))
            if record["state"] == "COMPLETED":
                break
            child = start(home, "resume", session_id, "--json")
            resumed += 1
        else:
            assert session_id is not None
            resumed += 1
            out, err = start(home, "resume", session_id, "--json").communicate(timeout=60)
            assert json.loads(out)["state"] == "COMPLETED", err
        assert session_id is not None, f"trial {trial}: never started"
        record = shown(home, session_id)
        assert record["state"] == "COMPLETED" and not record["partial"], record["error"]
        assert (len(record["resumed_at"]) > 0) == (resumed > 0)  # a resume may die before it starts
        assert len(record["resumed_at"]) <= resumed
        resumes += resumed
        final = runs(log)
        assert all(final[name] == count for name, count in kept.items()), (kept, final)
        assert set(final) == {"a", "b", "c", "d"}
        merged = next(a for a in record["agents"] if a["subtask"] == "d")
        assert "result-of-b" in merged["output_preview"]  # upstream outputs fed downstream
    assert resumes >= 4  # the kills landed while sessions ran


def test_resume_refuses_a_session_that_is_not_interrupted(home: Path, tmp_path: Path) -> None:
    done = cli(home, "run", "chain", "once", "--json", "--cwd", str(tmp_path))
    session_id = json.loads(done.stdout)["id"]
    again = cli(home, "resume", session_id, "--json")
    assert again.returncode == 2 and "only an INTERRUPTED session resumes" in again.stderr
    assert cli(home, "resume", "no-such-session").returncode == 2


def test_a_claude_agent_killed_in_its_turn_continues_its_conversation(
    home: Path, tmp_path: Path
) -> None:
    hold = threading.Event()
    first = Reply(text="FIRST-WORDS and then more", usage=Usage(10, 5), hold=hold)
    with FakeAnthropic() as api:
        api.script("MARKER-WRITER", first, Reply(text="the report, finished", usage=Usage(20, 7)))
        (tmp_path / "claude-home").mkdir()
        env = offline_env(api, tmp_path / "claude-home")
        args = ("--backend", "claude", "--json", "--cwd", str(tmp_path))
        child = start(home, "run", "writer", "write the report", *args, env=env)
        assert first.held.wait(120), child.communicate()  # killed while the turn streams
        child.kill()
        child.wait()
        last = newest(home)
        assert last is not None and last["task"] == "write the report"
        (agent,) = shown(home, last["id"])["agents"]
        conversation = agent.get("conversation")
        assert conversation, "the agent's conversation id was not recorded"
        resumed = start(home, "resume", last["id"], "--json", env=env)
        out, err = resumed.communicate(timeout=120)
        turns = api.conversation("MARKER-WRITER")
    record = json.loads(out)
    assert resumed.returncode == 0 and record["state"] == "COMPLETED", err
    assert len(record["resumed_at"]) == 1 and record["id"] == last["id"]
    assert len(turns) == 2
    messages = turns[1].body["messages"]
    assert "write the report" in json.dumps(messages[0])  # the same conversation, from its start
    assert "continue" in json.dumps(messages[-1])
    session = "X-Claude-Code-Session-Id"
    assert turns[1].headers[session] == turns[0].headers[session] == conversation
    (agent,) = record["agents"]
    assert agent["conversation"] == conversation
    assert "the report, finished" in agent["output_preview"]
