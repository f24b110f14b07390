"""Remote plugins installed, planned and run, and git marketplaces added, updated and removed,
through the real command line; local git repositories made here stand in for GitHub."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.marketplaces import cli
from tests.test_remote_sources import commit, git, new_repo

MARKET = "remotes"


@pytest.fixture(autouse=True)
def hermetic_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """No config of the machine or the user (the CLI's git too); an author for the commits."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def agent_files(says: str, prefix: str = "", version: str = "1.0.0") -> dict[str, str]:
    """A plugin with one command agent that prints `says`."""
    return {
        f"{prefix}.claude-plugin/plugin.json": json.dumps({"name": "p", "version": version}),
        f"{prefix}agents/speaker.md": (
            f"---\nname: speaker\ndescription: says things\ncommand: echo {says}\n---\nspeaks\n"
        ),
    }


def marketplace(folder: Path, entries: list[dict[str, Any]], **top: Any) -> Path:
    manifest = {"name": MARKET, "owner": {"name": "tests"}, "plugins": entries} | top
    (folder / ".claude-plugin").mkdir(parents=True, exist_ok=True)
    (folder / ".claude-plugin" / "marketplace.json").write_text(json.dumps(manifest))
    return folder


def installed(home: Path) -> dict[str, Any]:
    file = home / "data" / "installed.json"
    items: dict[str, Any] = json.loads(file.read_text())["items"] if file.exists() else {}
    return items


def test_a_url_source_pinned_by_sha_installs_and_runs_the_pinned_commit(
    tmp_path: Path, home: Path
) -> None:
    repo = new_repo(tmp_path / "speaker")
    pinned = commit(repo, agent_files("pinned-ran"))
    commit(repo, agent_files("newer-ran", version="2.0.0"))  # the default branch moved on
    source = {"source": "url", "url": f"file://{repo}", "sha": pinned}
    market = marketplace(tmp_path / "market", [{"name": "speaker", "source": source}])
    assert cli(home, "marketplace", "add", str(market)).returncode == 0
    listed = cli(home, "marketplace", "list").stdout
    assert "speaker@remotes" in listed and "remote" in listed

    done = cli(home, "install", "--yes", f"speaker@{MARKET}")
    assert done.returncode == 0, done.stderr
    record = installed(home)[f"speaker@{MARKET}"]
    assert record["commit"] == pinned and record["version"] == "1.0.0"
    cache = home / "data" / "plugins" / "cache"
    assert Path(record["folder"]) == cache / MARKET / "speaker" / pinned

    shown = cli(home, "marketplace", "show", f"speaker@{MARKET}").stdout
    assert f"commit {pinned[:12]}" in shown and "installed" in shown
    plan = cli(home, "plan", f"speaker@{MARKET}", "say it", "--json")
    assert plan.returncode == 0, plan.stderr
    assert {s["agent"] for s in json.loads(plan.stdout)["subtasks"]} == {"speaker"}
    run = cli(home, "run", f"speaker@{MARKET}", "say it", "--backend", "demo", "--json")
    assert run.returncode == 0, run.stderr
    previews = " ".join(a["output_preview"] for a in json.loads(run.stdout)["agents"])
    assert "pinned-ran" in previews and "newer-ran" not in previews

    assert cli(home, "uninstall", f"speaker@{MARKET}").returncode == 0
    assert f"speaker@{MARKET}" not in installed(home)
    assert "remote" in cli(home, "marketplace", "list").stdout


def test_the_trust_prompt_of_a_remote_item_shows_its_source_and_commit(
    tmp_path: Path, home: Path
) -> None:
    repo = new_repo(tmp_path / "speaker")
    head = commit(repo, agent_files("hello"))
    source = {"source": "url", "url": str(repo)}  # a local repository's path
    market = marketplace(tmp_path / "market", [{"name": "speaker", "source": source}])
    assert cli(home, "marketplace", "add", str(market)).returncode == 0
    refused = cli(home, "install", f"speaker@{MARKET}")  # no terminal: not trusted unasked
    assert refused.returncode == 2
    assert f"fetched from: url {repo} · commit {head[:12]}" in refused.stderr
    assert "echo hello" in refused.stderr and installed(home) == {}


def test_a_git_subdir_source_from_a_monorepo(tmp_path: Path, home: Path) -> None:
    mono = new_repo(tmp_path / "mono")
    commit(mono, agent_files("from-the-subdir", prefix="plugins/speaker/") | {"README": "x"})
    source = {"source": "git-subdir", "url": f"file://{mono}", "path": "plugins/speaker"}
    market = marketplace(tmp_path / "market", [{"name": "speaker", "source": source}])
    assert cli(home, "marketplace", "add", str(market)).returncode == 0
    done = cli(home, "install", "--yes", f"speaker@{MARKET}")
    assert done.returncode == 0, done.stderr
    folder = Path(installed(home)[f"speaker@{MARKET}"]["folder"])
    assert (folder / "agents" / "speaker.md").is_file() and not (folder / "README").exists()
    run = cli(home, "run", f"speaker@{MARKET}", "say it", "--backend", "demo", "--json")
    assert "from-the-subdir" in run.stdout, run.stderr


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ({"source": "url", "url": "file://{repo}", "sha": "0" * 40}, "0000000000"),
        ({"source": "url", "url": "file://{missing}"}, "file://"),
        ({"source": "github", "repo": "not a repo"}, "is not a GitHub owner/repo"),
    ],
    ids=["unknown sha", "missing repository", "bad github repo"],
)
def test_a_failed_fetch_is_one_line_and_installs_nothing(
    tmp_path: Path, home: Path, source: dict[str, str], says: str
) -> None:
    repo = new_repo(tmp_path / "speaker")
    commit(repo, agent_files("hello"))
    filled = {k: v.format(repo=repo, missing=tmp_path / "gone") for k, v in source.items()}
    market = marketplace(tmp_path / "market", [{"name": "speaker", "source": filled}])
    assert cli(home, "marketplace", "add", str(market)).returncode == 0
    failed = cli(home, "install", "--yes", f"speaker@{MARKET}")
    assert failed.returncode == 2
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and f"speaker@{MARKET}" in lines[0] and says in lines[0], lines
    assert installed(home) == {}
    cache = home / "data" / "plugins" / "cache"
    assert not any(p.is_dir() for p in cache.rglob("*")) if cache.exists() else True


def test_a_marketplace_added_by_file_url_then_updated(tmp_path: Path, home: Path) -> None:
    repo = new_repo(tmp_path / "market-repo")
    commit(repo, agent_files("first", prefix="plugins/one/"))
    entry = {"name": "one", "source": "./plugins/one"}
    marketplace(repo, [entry])
    commit(repo, {})
    added = cli(home, "marketplace", "add", f"file://{repo}")
    assert added.returncode == 0, added.stderr
    assert f"added marketplace {MARKET}: 1 items" in added.stdout
    assert (home / "data" / "marketplaces" / MARKET / ".git").is_dir()

    commit(repo, agent_files("second", prefix="plugins/two/"))
    marketplace(repo, [entry, {"name": "two", "source": "./plugins/two"}], renames={"x": 1})
    commit(repo, {})
    updated = cli(home, "marketplace", "update", MARKET)
    assert updated.returncode == 0, updated.stderr
    assert f"updated marketplace {MARKET}" in updated.stdout and "2 items" in updated.stdout
    assert "renames: must map old plugin names to new ones" in updated.stderr
    assert "two@remotes" in cli(home, "marketplace", "list").stdout
    check = cli(home, "marketplace", "check", MARKET).stdout
    assert "marketplace.json: renames" in check

    assert cli(home, "install", f"two@{MARKET}", "--yes").returncode == 0
    removed = cli(home, "marketplace", "remove", MARKET)
    assert removed.returncode == 0 and f"two@{MARKET}" in removed.stdout
    assert not (home / "data" / "marketplaces" / MARKET).exists() and installed(home) == {}


def test_adding_a_missing_repository_is_one_line(tmp_path: Path, home: Path) -> None:
    failed = cli(home, "marketplace", "add", f"file://{tmp_path / 'nowhere'}")
    assert failed.returncode == 2 and len(failed.stderr.strip().splitlines()) == 1
    assert "nowhere" in failed.stderr
    assert not (home / "config" / "marketplaces.json").exists()


def test_a_marketplace_claude_code_has_is_not_cloned_twice(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(home))  # Claude Code's files are under it
    repo = new_repo(tmp_path / "market-repo")
    marketplace(repo, [])
    commit(repo, {})
    copy = home / ".claude" / "plugins" / "marketplaces" / MARKET
    marketplace(copy, [])
    known = {MARKET: {"source": {"source": "git", "url": f"file://{repo}"},
                      "installLocation": str(copy)}}  # fmt: skip
    (home / ".claude" / "plugins" / "known_marketplaces.json").write_text(json.dumps(known))
    added = cli(home, "marketplace", "add", f"file://{repo}.git/")
    assert added.returncode == 0, added.stderr
    assert "Claude Code has it already" in added.stdout
    assert not (home / "data" / "marketplaces").exists()


def test_renames_move_an_install_and_dependencies_are_offered(tmp_path: Path, home: Path) -> None:
    market = tmp_path / "market"
    for name in ("old", "lib"):
        for file, text in agent_files(name).items():
            (market / "plugins" / name / file).parent.mkdir(parents=True, exist_ok=True)
            (market / "plugins" / name / file).write_text(text)
    entries = [{"name": "old", "source": "./plugins/old"}]
    marketplace(market, entries)
    assert cli(home, "marketplace", "add", str(market)).returncode == 0
    assert cli(home, "install", "--yes", f"old@{MARKET}").returncode == 0
    needs = [{"name": "lib", "version": "^1.0"}]
    renamed: list[dict[str, Any]] = [
        {"name": "new", "source": "./plugins/old", "dependencies": needs},
        {"name": "lib", "source": "./plugins/lib"},
    ]
    marketplace(market, renamed, renames={"old": "new"})
    listed = json.loads(cli(home, "marketplace", "list", "--json").stdout)
    new = next(i for i in listed if i["ref"] == f"new@{MARKET}")
    assert new["installed"]
    assert new["missing_requirements"] == [
        f"item lib@{MARKET} is not installed (cowork-tui install lib@{MARKET})"
    ]
    again = cli(home, "install", "--yes", f"new@{MARKET}")
    assert f"installed lib@{MARKET} (a dependency of new@{MARKET})" in again.stdout
    assert set(installed(home)) == {f"new@{MARKET}", f"lib@{MARKET}"}


def test_git_for_the_tests_is_there() -> None:
    assert git(Path.cwd(), "--version").startswith("git version")


def test_an_install_record_pointing_out_of_the_cache_is_never_loaded(
    tmp_path: Path, home: Path
) -> None:
    repo = new_repo(tmp_path / "speaker")
    commit(repo, agent_files("from-the-cache"))
    market = marketplace(
        tmp_path / "market", [{"name": "speaker", "source": {"source": "url", "url": str(repo)}}]
    )
    assert cli(home, "marketplace", "add", str(market)).returncode == 0
    assert cli(home, "install", "--yes", f"speaker@{MARKET}").returncode == 0
    elsewhere = tmp_path / "elsewhere"
    for name, text in agent_files("from-elsewhere").items():
        (elsewhere / name).parent.mkdir(parents=True, exist_ok=True)
        (elsewhere / name).write_text(text)
    state = home / "data" / "installed.json"
    data = json.loads(state.read_text())
    data["items"][f"speaker@{MARKET}"]["folder"] = str(elsewhere)  # edited by another program
    state.write_text(json.dumps(data))
    run = cli(home, "run", f"speaker@{MARKET}", "say it", "--backend", "demo", "--json")
    assert "from-elsewhere" not in run.stdout + run.stderr
