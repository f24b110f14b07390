"""Where cowork-tui keeps its files, and the user's settings (`config.toml`)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InputError, describe_validation_error
from .pricing import Price

APP = "cowork-tui"


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    isolated: bool = False  # COWORK_TUI_HOME: Claude Code's files stay under it too

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def marketplaces_file(self) -> Path:
        """Marketplaces the user added (`marketplace add`)."""
        return self.config_dir / "marketplaces.json"

    @property
    def installed_file(self) -> Path:
        """Install state: which items are installed, and the commands the user trusted."""
        return self.data_dir / "installed.json"

    @property
    def archive_file(self) -> Path:
        return self.data_dir / "archive.sqlite3"

    @property
    def claude_config_dir(self) -> Path | None:
        """Where Claude Code keeps its files for cowork-tui's agents (`CLAUDE_CONFIG_DIR`):
        under an isolated home; else None, the user's own (their login included)."""
        return self.data_dir / "claude" if self.isolated else None

    @property
    def outputs_dir(self) -> Path:
        """Full agent outputs, one file per agent."""
        return self.data_dir / "outputs"


def default_paths() -> Paths:
    """`COWORK_TUI_HOME` puts everything under one folder; otherwise platformdirs' user dirs."""
    home = os.environ.get("COWORK_TUI_HOME")
    if home:
        root = Path(home).expanduser()
        return Paths(config_dir=root / "config", data_dir=root / "data", isolated=True)
    return Paths(
        config_dir=Path(platformdirs.user_config_dir(APP)),
        data_dir=Path(platformdirs.user_data_dir(APP)),
    )


BackendChoice = Literal["auto", "demo", "claude"]  # for model agents; "auto": claude if it can


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_seconds: float = Field(3.0, ge=1, le=10)
    default_backend: BackendChoice = "auto"
    grace_seconds: float = Field(5.0, ge=0, le=60)  # SIGTERM → SIGKILL on cancel and timeout
    stall_seconds: float = Field(60.0, ge=1, le=3600)  # a Claude API silent this long: failed
    bell: bool = True
    model_planner: bool = False  # let Claude plan items without a workflow (heuristic fallback)
    pricing: dict[str, Price] = {}  # model or tier name → price, overriding the built-in list


def load_settings(paths: Paths) -> Settings:
    """Read `config.toml`; a missing file means the defaults."""
    file = paths.config_file
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{file}: {exc}") from exc
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe_validation_error(file.name, exc)) from exc
