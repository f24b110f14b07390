"""Fetching a remote plugin against a plain `git clone` of its repository.

Builds, in a temporary folder, a monorepo of P plugins with H commits of history (each commit
rewrites one incompressible file of every plugin), then times, from a `file://` URL:
- baseline: `git clone` (the whole history, every plugin checked out), what a naive install does;
- url: `fetch_plugin` of a `url` source at the default branch (shallow: one commit);
- git-subdir: `fetch_plugin` of one plugin's folder at a pinned sha (shallow and sparse).
Each is printed as seconds and as a ratio of the baseline (below 1.0 is faster). A local
server ignores `--filter=blob:none`, so the partial clone's saving on a real server (the other
plugins' blobs never sent) is not in these figures.
Run: python benchmarks/remote_fetch.py [--plugins 20] [--history 100] [--kib 64]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cowork_tui.core.marketplace.fetch import fetch_plugin  # noqa: E402

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def monorepo(folder: Path, plugins: int, history: int, kib: int) -> str:
    """The repository's newest commit."""
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    for n in range(history):
        for p in range(plugins):
            data = folder / "plugins" / f"p{p}" / "data.bin"
            data.parent.mkdir(parents=True, exist_ok=True)
            data.write_bytes(os.urandom(kib * 1024))
        git(folder, "add", "-A")
        git(folder, "commit", "-q", "-m", f"commit {n}")
    return git(folder, "rev-parse", "HEAD")


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plugins", type=int, default=20)
    parser.add_argument("--history", type=int, default=100)
    parser.add_argument("--kib", type=int, default=64)
    args = parser.parse_args()
    os.environ.update(GIT_ENV)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sha = monorepo(work / "repo", args.plugins, args.history, args.kib)
        url = f"file://{work / 'repo'}"
        baseline = timed(lambda: git(work, "clone", "-q", url, str(work / "clone")))
        whole = timed(lambda: fetch_plugin(work / "d1", "m", "p", {"source": "url", "url": url}))
        subdir = {"source": "git-subdir", "url": url, "path": "plugins/p0", "sha": sha}
        one = timed(lambda: fetch_plugin(work / "d2", "m", "p", subdir))
    print(f"{args.plugins} plugins x {args.history} commits x {args.kib} KiB")
    print(f"baseline git clone  {baseline:7.3f} s")
    print(f"url, default branch {whole:7.3f} s  ratio {whole / baseline:.2f}")
    print(f"git-subdir, sha     {one:7.3f} s  ratio {one / baseline:.2f}")


if __name__ == "__main__":
    main()
