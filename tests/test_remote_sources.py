"""Remote plugin sources and git marketplaces fetched into the cache, offline: local git
repositories made here stand in for GitHub, a registry on loopback for npm's."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cowork_tui.core.errors import InputError
from cowork_tui.core.marketplace.fetch import (
    clone_marketplace,
    fetch_plugin,
    marketplace_git_url,
    parse_source,
    update_marketplace,
)
from cowork_tui.core.marketplace.git import GitTarget, checkout, github_url
from cowork_tui.core.marketplace.npm import NpmTarget, pack_command
from cowork_tui.core.marketplace.runner import Runner

MARKET, PLUGIN = "market", "plug"


@pytest.fixture(autouse=True)
def hermetic_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No config of the machine or the user; an author for the commits made here."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def commit(repo: Path, files: dict[str, str], message: str = "change") -> str:
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def new_repo(folder: Path, branch: str = "main") -> Path:
    folder.mkdir(parents=True)
    git(folder, "init", "-q", "-b", branch)
    return folder


def plugin_files(version: str, prefix: str = "") -> dict[str, str]:
    return {
        f"{prefix}.claude-plugin/plugin.json": json.dumps({"name": PLUGIN, "version": version}),
        f"{prefix}agents/a.md": f"---\nname: a\n---\nversion {version}\n",
    }


def cache_entries(data: Path) -> list[Path]:
    return sorted((data / "plugins").rglob("*")) if (data / "plugins").exists() else []


@pytest.fixture
def two_commits(tmp_path: Path) -> tuple[Path, str, str]:
    """A plugin repository with a newer commit on top of the first."""
    repo = new_repo(tmp_path / "plugin-repo")
    first = commit(repo, plugin_files("1.0.0"))
    second = commit(repo, plugin_files("2.0.0"))
    return repo, first, second


def test_a_pinned_sha_wins_over_a_newer_commit(
    data: Path, two_commits: tuple[Path, str, str]
) -> None:
    repo, first, _ = two_commits
    got = fetch_plugin(
        data, MARKET, PLUGIN, {"source": "url", "url": f"file://{repo}", "sha": first}
    )
    assert got.folder == data / "plugins" / "cache" / MARKET / PLUGIN / first
    assert (got.commit, got.version, got.npm_version) == (first, "1.0.0", None)
    assert (got.folder / "agents" / "a.md").read_text().endswith("version 1.0.0\n")
    assert not (got.folder / ".git").exists()
    assert got.source == f"url file://{repo}"


def test_a_pinned_sha_from_a_server_that_gives_only_advertised_commits(
    data: Path, two_commits: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Protocol v0 refuses a shallow fetch of a commit no branch points at: a full fetch."""
    repo, first, _ = two_commits
    user_git_config(monkeypatch, protocol__version="0")
    got = fetch_plugin(
        data, MARKET, PLUGIN, {"source": "url", "url": f"file://{repo}", "sha": first}
    )
    assert (got.commit, got.version) == (first, "1.0.0")


def test_a_pinned_sha_once_fetched_needs_no_repository(
    data: Path, two_commits: tuple[Path, str, str]
) -> None:
    repo, first, _ = two_commits
    source = {"source": "url", "url": f"file://{repo}", "sha": first.upper()}
    fetched = fetch_plugin(data, MARKET, PLUGIN, source)
    shutil.rmtree(repo)
    assert fetch_plugin(data, MARKET, PLUGIN, source) == fetched


@pytest.mark.parametrize("ref", ["v1", "release"])
def test_a_ref_tag_or_branch(data: Path, two_commits: tuple[Path, str, str], ref: str) -> None:
    repo, first, _ = two_commits
    git(repo, "tag", "-a", "v1", "-m", "v1", first)
    git(repo, "branch", "release", first)
    source = {"source": "url", "url": f"file://{repo}", "ref": ref}
    got = fetch_plugin(data, MARKET, PLUGIN, source)
    assert (got.commit, got.version, got.folder.name) == (first, "1.0.0", first)
    assert got.source == f"url file://{repo} @ {ref}"


@pytest.mark.parametrize("form", ["file-url", "path"])
def test_the_remote_default_branch(data: Path, tmp_path: Path, form: str) -> None:
    """The branch the remote's HEAD names (here `trunk`), not one called `main`."""
    repo = new_repo(tmp_path / "repo", branch="trunk")
    commit(repo, plugin_files("0.1.0"))
    git(repo, "branch", "main")
    newest = commit(repo, plugin_files("0.2.0"))
    url = f"file://{repo}" if form == "file-url" else str(repo)
    got = fetch_plugin(data, MARKET, PLUGIN, {"source": "url", "url": url})
    assert (got.commit, got.version) == (newest, "0.2.0")


def test_git_subdir_fetches_only_that_folder(data: Path, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "monorepo")
    files = {
        "README.md": "monorepo\n",
        "plugins/other/agents/b.md": "---\nname: b\n---\n",
        **plugin_files("3.1.0", prefix="plugins/plug/"),
    }
    head = commit(repo, files)
    source = {"source": "git-subdir", "url": f"file://{repo}", "path": "./plugins/plug/"}
    got = fetch_plugin(data, MARKET, PLUGIN, source)
    assert (got.commit, got.version) == (head, "3.1.0")
    found = sorted(str(p.relative_to(got.folder)) for p in got.folder.rglob("*") if p.is_file())
    assert found == [".claude-plugin/plugin.json", "agents/a.md"]
    assert [p.name for p in got.folder.parent.iterdir()] == [head]  # no staging left


@pytest.mark.parametrize("pin", ["sha", "ref", "default"])
def test_checkouts_are_shallow_and_a_subdir_sparse(tmp_path: Path, pin: str) -> None:
    repo = new_repo(tmp_path / "repo")
    first = commit(repo, {**plugin_files("1.0.0"), "other/big.txt": "x" * 10_000})
    git(repo, "branch", "release")
    commit(repo, plugin_files("2.0.0"))
    pins = {"sha": {"sha": first}, "ref": {"ref": "release"}, "default": {}}
    clone = tmp_path / "checkout"
    checkout(Runner(), GitTarget(f"file://{repo}", path="agents", **pins[pin]), clone)
    shallow = (clone / ".git" / "shallow").read_text().split()
    assert shallow == [git(clone, "rev-parse", "HEAD")]
    assert (clone / "agents" / "a.md").is_file() and not (clone / "other").exists()


def test_progress_lines_come_during_a_clone(data: Path, two_commits: tuple[Path, str, str]) -> None:
    repo, _, _ = two_commits
    lines: list[str] = []
    fetch_plugin(data, MARKET, PLUGIN, {"source": "url", "url": str(repo)}, progress=lines.append)
    assert any("objects" in line for line in lines), lines
    assert all(line == line.strip() and "\r" not in line for line in lines)


def test_symbolic_links_out_of_the_plugin_are_removed(data: Path, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    write(repo, plugin_files("1.0.0"))
    (repo / "agents" / "etc.md").symlink_to("/etc/hostname")
    (repo / "agents" / "up.md").symlink_to("../../outside.md")
    (repo / "agents" / "same.md").symlink_to("a.md")
    commit(repo, {})
    got = fetch_plugin(data, MARKET, PLUGIN, {"source": "url", "url": str(repo)})
    assert sorted(p.name for p in (got.folder / "agents").iterdir()) == ["a.md", "same.md"]
    assert got.warnings == (
        "agents/etc.md: symbolic link to /etc/hostname leads out of the plugin folder: removed",
        "agents/up.md: symbolic link to ../../outside.md leads out of the plugin folder: removed",
    )


def test_a_subdir_reached_through_a_symbolic_link_is_refused(data: Path, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    write(repo, plugin_files("1.0.0", prefix="real/"))
    (repo / "plugins").mkdir()
    (repo / "plugins" / "plug").symlink_to(tmp_path)
    commit(repo, {})
    source = {"source": "git-subdir", "url": str(repo), "path": "plugins/plug"}
    with pytest.raises(InputError, match="'plugins/plug' is not a folder of the repository"):
        fetch_plugin(data, MARKET, PLUGIN, source)
    assert cache_entries(data) == []


def test_an_unknown_sha(data: Path, two_commits: tuple[Path, str, str]) -> None:
    repo, _, _ = two_commits
    source = {"source": "url", "url": f"file://{repo}", "sha": "0" * 40}
    with pytest.raises(InputError) as caught:
        fetch_plugin(data, MARKET, PLUGIN, source)
    assert str(caught.value) == (
        f"plug@market (url file://{repo}): commit {'0' * 40} not found in file://{repo}"
    )
    assert cache_entries(data) == []


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ({"source": "url", "url": "file://{missing}"}, "does not appear to be a git repository"),
        ({"source": "url", "url": "{missing}"}, "{missing}: no such repository"),
        ({"source": "url", "url": "file://{repo}", "ref": "nope"}, "couldn't find remote ref nope"),
        ({"source": "git-subdir", "url": "{repo}", "path": "nope"}, "'nope' is not a folder"),
    ],
    ids=["missing-repository", "missing-folder", "unknown-ref", "missing-subdir"],
)
def test_a_failed_fetch_is_one_line_naming_plugin_and_source(
    data: Path,
    tmp_path: Path,
    two_commits: tuple[Path, str, str],
    source: dict[str, str],
    problem: str,
) -> None:
    repo, _, _ = two_commits
    places = {"missing": str(tmp_path / "missing"), "repo": str(repo)}
    source = {key: value.format(**places) for key, value in source.items()}
    with pytest.raises(InputError) as caught:
        fetch_plugin(data, MARKET, PLUGIN, source)
    message = str(caught.value)
    assert message.startswith(f"plug@market ({source['source']} {source['url']}")
    assert problem.format(**places) in message and "\n" not in message
    assert cache_entries(data) == []


@pytest.mark.parametrize(
    ("plugin", "source", "problem"),
    [
        ("../up", {"source": "url", "url": "{repo}"}, "'../up' cannot name a file"),
        (PLUGIN, {"source": "git-subdir", "url": "{repo}", "path": "../x"}, "path '../x' must"),
        (PLUGIN, {"source": "git-subdir", "url": "{repo}"}, "path is missing"),
        (PLUGIN, {"source": "url", "url": "{repo}", "sha": "abc123"}, "not a full commit hash"),
        (PLUGIN, {"source": "url", "url": "{repo}", "ref": "--upload-pack=x"}, "not a branch"),
        (PLUGIN, {"source": "url", "url": "--upload-pack=touch"}, "is not a git URL"),
        (PLUGIN, {"source": "github", "repo": "a/b/c"}, "'a/b/c' is not a GitHub owner/repo"),
        (PLUGIN, {"source": "pip", "package": "x"}, "source 'pip' cannot be installed"),
        (PLUGIN, {"source": "npm", "package": "--prefix=/"}, "is not an npm package"),
    ],
)
def test_a_source_or_name_that_could_escape_is_refused(
    data: Path,
    two_commits: tuple[Path, str, str],
    plugin: str,
    source: dict[str, str],
    problem: str,
) -> None:
    repo, _, _ = two_commits
    source = {key: value.format(repo=repo) for key, value in source.items()}
    with pytest.raises(InputError, match=problem.replace(".", r"\.")):
        fetch_plugin(data, MARKET, plugin, source)
    assert not data.exists()


def user_git_config(monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    monkeypatch.setenv("GIT_CONFIG_COUNT", str(len(settings)))
    for index, (key, value) in enumerate(settings.items()):
        monkeypatch.setenv(f"GIT_CONFIG_KEY_{index}", key.replace("__", "."))
        monkeypatch.setenv(f"GIT_CONFIG_VALUE_{index}", value)


def test_no_hook_runs_not_even_one_the_user_set_up(
    data: Path, two_commits: tuple[Path, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _, _ = two_commits
    marker = tmp_path / "hook-ran"
    write(tmp_path / "template", {"hooks/post-checkout": f"#!/bin/sh\ntouch {marker}\n"})
    (tmp_path / "template" / "hooks" / "post-checkout").chmod(0o755)
    user_git_config(monkeypatch, init__templateDir=str(tmp_path / "template"))
    fetch_plugin(data, MARKET, PLUGIN, {"source": "url", "url": str(repo)})
    assert not marker.exists()


def test_no_command_runs_as_a_transport(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ext::` URLs run a command line: refused even where the user's config allows them."""
    marker = tmp_path / "transport-ran"
    user_git_config(monkeypatch, protocol__ext__allow="always")
    source = {"source": "url", "url": f"ext::sh -c touch% {marker}"}
    with pytest.raises(InputError, match="transport 'ext' not allowed"):
        fetch_plugin(data, MARKET, PLUGIN, source)
    assert not marker.exists() and cache_entries(data) == []


def test_git_missing_from_path(
    data: Path, two_commits: tuple[Path, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _, _ = two_commits
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(InputError, match=r"^plug@market \(url .*\): git not found on PATH$"):
        fetch_plugin(data, MARKET, PLUGIN, {"source": "url", "url": str(repo)})
    assert cache_entries(data) == []


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A git:// port that takes connections and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def test_a_hung_server_times_out_and_leaves_nothing(data: Path, silent_server: int) -> None:
    url = f"git://127.0.0.1:{silent_server}/plugin.git"
    with pytest.raises(InputError, match=r"\): timed out after 1 s$"):
        fetch_plugin(data, MARKET, PLUGIN, {"source": "url", "url": url}, timeout=1)
    assert cache_entries(data) == []
    assert not [cmd for cmd in command_lines() if str(data) in cmd]  # git was killed


def command_lines() -> list[str]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def test_owner_repo_maps_to_github() -> None:
    assert github_url("obra/superpowers-marketplace") == (
        "https://github.com/obra/superpowers-marketplace.git"
    )
    assert github_url("owner/repo.git") == "https://github.com/owner/repo.git"
    assert parse_source({"source": "github", "repo": "o/r", "ref": "v2"}) == GitTarget(
        "https://github.com/o/r.git", ref="v2"
    )
    assert marketplace_git_url("anthropics/claude-plugins-official") == (
        "https://github.com/anthropics/claude-plugins-official.git"
    )
    for url in ("git@github.com:o/r.git", "https://host/o/r.git", "ssh://h/r", "file:///r"):
        assert marketplace_git_url(url) == url
    for bad in ("o/r/x", "-o/r", "o/.."):
        with pytest.raises(Exception, match="is not a GitHub owner/repo"):
            github_url(bad)


def test_a_local_path_beats_owner_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    new_repo(tmp_path / "owner" / "repo")
    monkeypatch.chdir(tmp_path)
    assert marketplace_git_url("owner/repo") == str(tmp_path / "owner" / "repo")


def marketplace_files(plugins: list[str]) -> dict[str, str]:
    entries = [{"name": name, "source": f"./{name}"} for name in plugins]
    document = {"name": "remote-market", "owner": {"name": "t"}, "plugins": entries}
    return {".claude-plugin/marketplace.json": json.dumps(document)}


def test_a_git_marketplace_cloned_then_updated(data: Path, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "market-repo")
    first = commit(repo, marketplace_files(["one"]))
    cloned = clone_marketplace(data, f"file://{repo}")
    assert (cloned.name, cloned.folder, cloned.commit) == (
        "remote-market",
        data / "marketplaces" / "remote-market",
        first,
    )
    assert (cloned.folder / ".git" / "shallow").exists()
    second = commit(repo, marketplace_files(["one", "two"]))
    updated = update_marketplace(cloned.folder)
    assert (updated.previous, updated.commit, updated.url) == (first, second, f"file://{repo}")
    document = json.loads((cloned.folder / ".claude-plugin" / "marketplace.json").read_text())
    assert [p["name"] for p in document["plugins"]] == ["one", "two"]


def test_a_marketplace_is_not_cloned_twice(data: Path, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "market-repo")
    commit(repo, marketplace_files(["one"]))
    clone_marketplace(data, str(repo))
    with pytest.raises(InputError, match=r"marketplace .*: marketplace 'remote-market' is there"):
        clone_marketplace(data, f"file://{repo}")
    assert [p.name for p in (data / "marketplaces").iterdir()] == ["remote-market"]


def test_a_repository_without_marketplace_json(
    data: Path, two_commits: tuple[Path, str, str]
) -> None:
    repo, _, _ = two_commits
    with pytest.raises(InputError, match=r"not a marketplace: no readable \.claude-plugin/"):
        clone_marketplace(data, str(repo))
    assert not data.exists()


def test_updating_a_folder_that_is_no_clone(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"marketplace .*: not a git clone$"):
        update_marketplace(tmp_path)


# npm


def npm_package(folder: Path, scripts: dict[str, str] | None = None) -> Path:
    package = {"name": "demo-plugin", "version": "1.2.0", "scripts": scripts or {}}
    write(folder, {"package.json": json.dumps(package), **plugin_files("1.2.0-plugin")})
    return folder


class Registry(http.server.BaseHTTPRequestHandler):
    """npm's registry API, one package: its document and its tarball."""

    tarball: Path
    base: str

    def do_GET(self) -> None:
        name = "demo-plugin"
        if self.path == f"/{name}":
            dist = {"tarball": f"{self.base}/{name}/-/{self.tarball.name}"}
            version = {"name": name, "version": "1.2.0", "dist": dist}
            body = json.dumps(
                {"name": name, "dist-tags": {"latest": "1.2.0"}, "versions": {"1.2.0": version}}
            ).encode()
        elif self.path == f"/{name}/-/{self.tarball.name}":
            body = self.tarball.read_bytes()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    package = npm_package(tmp_path / "package")
    subprocess.run(
        ["npm", "pack", str(package), "--ignore-scripts", "--pack-destination", str(tmp_path)],
        capture_output=True,
        check=True,
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    Registry.tarball = tmp_path / "demo-plugin-1.2.0.tgz"
    Registry.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield Registry.base + "/"
    server.shutdown()
    thread.join()
    server.server_close()


def test_an_npm_package_from_a_registry(data: Path, registry: str) -> None:
    source = {"source": "npm", "package": "demo-plugin", "version": "^1.0.0", "registry": registry}
    got = fetch_plugin(data, MARKET, PLUGIN, source)
    assert got.folder == data / "plugins" / "cache" / MARKET / PLUGIN / "1.2.0"
    assert (got.npm_version, got.version, got.commit) == ("1.2.0", "1.2.0-plugin", None)
    assert (got.folder / "agents" / "a.md").is_file()
    assert [p.name for p in got.folder.parent.iterdir()] == ["1.2.0"]


def test_an_unknown_npm_package(data: Path, registry: str) -> None:
    source = {"source": "npm", "package": "no-such-plugin", "registry": registry}
    with pytest.raises(
        InputError, match=r"^plug@market \(npm no-such-plugin\): npm: 404 Not Found"
    ):
        fetch_plugin(data, MARKET, PLUGIN, source)
    assert cache_entries(data) == []


def test_npm_runs_no_lifecycle_script(data: Path, tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    marker = tmp_path / "script-ran"
    scripts = {name: f"touch {marker}" for name in ("prepack", "prepare", "postpack")}
    package = npm_package(tmp_path / "package", scripts)
    got = fetch_plugin(data, MARKET, PLUGIN, {"source": "npm", "package": str(package)})
    assert got.npm_version == "1.2.0" and (got.folder / "package.json").is_file()
    assert not marker.exists()


def test_the_npm_command_line(tmp_path: Path) -> None:
    target = NpmTarget("@scope/plugin", "2.x", "https://registry.example/")
    assert pack_command(target, tmp_path) == [
        "npm",
        "pack",
        "@scope/plugin@2.x",
        "--ignore-scripts",
        "--json",
        "--pack-destination",
        str(tmp_path),
        "--registry",
        "https://registry.example/",
    ]
