"""git for remote plugins and marketplaces: what to fetch (`GitTarget`), GitHub's URLs, and one
way to check a commit out: a new repository, a shallow fetch of the pinned sha (else the ref,
else the remote's default branch), a sparse checkout when only a subfolder is wanted."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .runner import FetchError, FetchTimeout, Runner

_GITHUB_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256 repositories
_REF = re.compile(r"[A-Za-z0-9_][\w./+-]*")  # a branch or tag name; never an option
_SCP_LIKE = re.compile(r"[^/:]+:")  # `git@github.com:owner/repo.git`: a colon before any slash
# no hook runs; no `ext::` transport (a command line as a URL), whatever the user's config says
_SAFE = ("-c", "core.hooksPath=/dev/null", "-c", "protocol.ext.allow=never")
_QUIET = ("-c", "advice.detachedHead=false", "-c", "init.defaultBranch=main")


@dataclass(frozen=True)
class GitTarget:
    """A commit to check out: `sha` if pinned, else `ref`, else the remote's default branch."""

    url: str
    sha: str | None = None
    ref: str | None = None
    path: str | None = None  # only this subfolder is fetched and checked out

    def __post_init__(self) -> None:
        if self.sha is not None and not _SHA.fullmatch(self.sha):
            raise FetchError(f"sha {self.sha!r} is not a full commit hash (40 hex digits)")
        if self.ref is not None and (not _REF.fullmatch(self.ref) or ".." in self.ref):
            raise FetchError(f"ref {self.ref!r} is not a branch or tag name")
        if self.path is not None:
            parts = PurePosixPath(self.path).parts
            if not parts or self.path.startswith(("/", "-")) or ".." in parts:
                raise FetchError(f"path {self.path!r} must be a folder inside the repository")


def github_url(repo: str) -> str:
    """`owner/repo` → `https://github.com/owner/repo.git`."""
    name = repo.strip().removesuffix(".git")
    if not _GITHUB_REPO.fullmatch(name) or name.split("/")[1] in (".", ".."):
        raise FetchError(f"{repo!r} is not a GitHub owner/repo")
    return f"https://github.com/{name}.git"


def git_url(text: str) -> str:
    """A git URL as given (https, ssh, git, `file://`, `user@host:path`), or the path of a local
    repository made absolute (git runs elsewhere)."""
    url = text.strip()
    if not url or url.startswith("-") or any(ch < " " for ch in url):
        raise FetchError(f"{text!r} is not a git URL")
    if "://" in url or _SCP_LIKE.match(url):
        return url
    path = Path(url).expanduser().resolve()
    if not path.exists():
        raise FetchError(f"{url}: no such repository")
    return str(path)


def checkout(run: Runner, target: GitTarget, repo: Path) -> str:
    """`target` checked out in the new folder `repo` (only its `path`, if set); its full commit
    hash."""
    git = _git(repo)
    repo.mkdir()
    run([*git, "init", "-q"])
    run([*git, "remote", "add", "--", "origin", target.url])
    fetched = _fetch(run, git, target)
    if target.path:
        run([*git, "sparse-checkout", "set", "--", "/".join(PurePosixPath(target.path).parts)])
    run([*git, "checkout", "-q", "--detach", fetched])
    return head(run, repo)


def _fetch(run: Runner, git: list[str], target: GitTarget) -> str:
    """Fetch the commit to check out, shallow where the server allows it; what names it."""
    partial = ["--filter=blob:none"] if target.path else []  # blobs of the subfolder come later
    fetch = [*git, "fetch", "--progress", *partial]
    try:
        run([*fetch, "--no-tags", "--depth", "1", "origin", target.sha or target.ref or "HEAD"])
    except FetchTimeout:
        raise
    except FetchError:
        if target.sha is None:
            raise
        # a server that gives no unadvertised commit: the whole history, then look for it
        run([*fetch, "--tags", "origin"])
        try:
            run([*git, "cat-file", "-e", f"{target.sha}^{{commit}}"])
        except FetchError:
            raise FetchError(f"commit {target.sha} not found in {target.url}") from None
        return target.sha
    return "FETCH_HEAD"


def update(run: Runner, repo: Path) -> str:
    """The clone `repo` moved to the remote's default branch as it is now; its new commit."""
    git = _git(repo)
    run([*git, "fetch", "--progress", "--no-tags", "--depth", "1", "origin", "HEAD"])
    run([*git, "reset", "-q", "--hard", "FETCH_HEAD"])
    return head(run, repo)


def head(run: Runner, repo: Path) -> str:
    return run([*_git(repo), "rev-parse", "HEAD"]).strip()


def origin_url(run: Runner, repo: Path) -> str:
    return run([*_git(repo), "remote", "get-url", "origin"]).strip()


def _git(repo: Path) -> list[str]:
    return ["git", "-C", str(repo), *_SAFE, *_QUIET]
