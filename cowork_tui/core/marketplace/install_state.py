"""What the user installed, and the commands they trusted (`installed.json`), and the
marketplaces they added (`marketplaces.json`). Both written atomically, owner-only."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from ..clock import utcnow
from ..errors import InputError, describe_validation_error
from ..models import Item
from .fetch import FetchedPlugin
from .json_files import read_json, write_private_json
from .trust import commands_hash, extras_hash

_M = TypeVar("_M", bound=BaseModel)


class InstallRecord(BaseModel):
    installed_at: str
    commands_sha256: str | None = None  # the command agents' commands the user trusted
    extras_sha256: str | None = None  # the MCP servers and hooks the user agreed to
    # a remote item: its source in words, the folder fetched into the cache, and what it is
    source: str | None = None
    folder: str | None = None
    commit: str | None = None  # git sources
    version: str | None = None  # plugin.json's, or the npm version packed


class _InstalledFile(BaseModel):
    version: int = 1
    items: dict[str, InstallRecord] = {}


class _MarketplacesFile(BaseModel):
    version: int = 1
    marketplaces: list[str] = []  # folders


class InstallState:
    def __init__(self, file: Path) -> None:
        self.file = file
        self.records = _load(file, _InstalledFile).items

    def add(self, item: Item, fetched: FetchedPlugin | None = None) -> None:
        """`fetched`: where a remote item was fetched to, kept with what it is."""
        record = InstallRecord(
            installed_at=utcnow().isoformat(timespec="seconds"),
            commands_sha256=commands_hash(item),
            extras_sha256=extras_hash(item),
        )
        if fetched is not None:
            record.source = fetched.source
            record.folder = str(fetched.folder)
            record.commit = fetched.commit
            record.version = fetched.npm_version or fetched.version
        self._save(self.records | {item.ref: record})

    def follow_renames(self, marketplace: str, renames: dict[str, str]) -> None:
        """Records of `old@marketplace` become `new@marketplace` (in memory; written with the
        next change), unless the new name has a record of its own."""
        moved = {}
        for old, new in renames.items():
            record = self.records.get(f"{old}@{marketplace}")
            if record is not None and f"{new}@{marketplace}" not in self.records:
                moved[f"{old}@{marketplace}"] = (f"{new}@{marketplace}", record)
        if moved:
            self.records = {
                moved[key][0] if key in moved else key: record
                for key, record in self.records.items()
            }

    def remove(self, ref: str) -> None:
        self._save({key: record for key, record in self.records.items() if key != ref})

    def _save(self, records: dict[str, InstallRecord]) -> None:
        """`records` are the state once written: a write that fails (WriteError) changes
        nothing, on disk or here."""
        write_private_json(self.file, _InstalledFile(items=records).model_dump(mode="json"))
        self.records = records


def load_marketplace_folders(file: Path) -> list[Path]:
    return [Path(p) for p in _load(file, _MarketplacesFile).marketplaces]


def save_marketplace_folders(file: Path, folders: list[Path]) -> None:
    data = _MarketplacesFile(marketplaces=[str(f) for f in folders])
    write_private_json(file, data.model_dump(mode="json"))


def _load(file: Path, model: type[_M]) -> _M:
    if not file.exists():
        return model()
    data = read_json(file)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe_validation_error(str(file), exc)) from None
