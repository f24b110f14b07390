"""Where cowork-tui keeps its files (no pydantic here: the TUI's first screen needs them)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

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
    def rows_cache_file(self) -> Path:
        """The marketplace rows last shown, for the TUI's first screen."""
        return self.data_dir / "marketplace-rows.json"

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
