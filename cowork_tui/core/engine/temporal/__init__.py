"""Sessions as Temporal workflows (DESIGN §8): `client` is the engine the CLI and the TUI use,
`worker` runs sessions. temporalio (the [temporal] extra) is imported only when they are used."""

from __future__ import annotations

import importlib.util

from ...errors import InputError


def require_temporal() -> None:
    """InputError saying what to install when temporalio, the [temporal] extra, is missing."""
    if importlib.util.find_spec("temporalio") is None:
        raise InputError(
            "the Temporal engine needs the [temporal] extra, which is not installed: "
            "pip install 'cowork-tui[temporal]'"
        )
