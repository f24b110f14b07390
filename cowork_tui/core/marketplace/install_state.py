"""What the user installed, and the commands they trusted (`installed.json`), and the
marketplaces they added (`marketplaces.json`). Both written atomically, owner-only."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from ..clock import utcnow
from ..errors import InputError, describe_validation_error
from ..models import Item
from .json_files import read_json, write_private_json
from .trust import commands_hash, extras_hash

_M = TypeVar("_M", bound=BaseModel)


class InstallRecord(BaseModel):
    installed_at: str
    commands_sha256: str | None = None  # the command agents' commands the user trusted
    extras_sha256: str | None = None  # the MCP servers and hooks the user agreed to


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

    def add(self, item: Item) -> None:
        record = InstallRecord(
            installed_at=utcnow().isoformat(timespec="seconds"),
            commands_sha256=commands_hash(item),
            extras_sha256=extras_hash(item),
        )
        self._save(self.records | {item.ref: record})

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
