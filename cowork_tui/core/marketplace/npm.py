"""npm packages as plugins: `npm pack` (no lifecycle script runs) and the tarball unpacked with
tarfile's `data` filter (no absolute path, no `..`, no link out, no device file)."""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .runner import FetchError, Runner


@dataclass(frozen=True)
class NpmTarget:
    package: str  # a name (`@scope/name`), or any spec npm packs (a tarball path, `file:`)
    version: str | None = None  # a version or a range; None: the `latest` tag
    registry: str | None = None

    def __post_init__(self) -> None:
        for field, value in vars(self).items():
            if value is not None and (value.startswith("-") or any(ch < " " for ch in value)):
                raise FetchError(f"{field} {value!r} is not an npm {field}")

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}" if self.version else self.package


def pack_command(target: NpmTarget, destination: Path) -> list[str]:
    registry = ["--registry", target.registry] if target.registry else []
    return [
        "npm",
        "pack",
        target.spec,
        "--ignore-scripts",
        "--json",
        "--pack-destination",
        str(destination),
        *registry,
    ]


def unpack(run: Runner, target: NpmTarget, folder: Path) -> tuple[Path, str]:
    """The package packed and unpacked inside the new folder `folder`: its root folder and its
    version."""
    folder.mkdir()
    packed = _pack_info(run(pack_command(target, folder)))
    tarball = folder / Path(packed["filename"]).name
    contents = folder / "contents"
    try:
        with tarfile.open(tarball) as archive:
            archive.extractall(contents, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise FetchError(f"{tarball.name} cannot be unpacked: {exc}") from None
    roots = list(contents.iterdir())
    if len(roots) != 1 or not roots[0].is_dir():
        raise FetchError(f"{tarball.name} holds no package folder")
    return roots[0], packed["version"]


def _pack_info(output: str) -> dict[str, str]:
    """`filename` and `version` from what `npm pack --json` printed."""
    try:
        info = json.loads(output[output.index("[") :])[0]
        return {key: str(info[key]) for key in ("filename", "version")}
    except (ValueError, IndexError, KeyError, TypeError):
        raise FetchError(f"npm pack printed no package: {output.strip()[:200]!r}") from None
