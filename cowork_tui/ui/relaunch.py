"""An archived session launched again: run anew (re-run), or continued under its id (resume)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, get_args

if TYPE_CHECKING:
    from ..core.engine.protocol import LaunchRequest
    from ..core.workspace import Workspace


def rerun_request(workspace: Workspace, session_id: str) -> LaunchRequest:
    """The same item, task, backend and max parallel, through the launch path (the item may
    have changed since)."""
    from ..core.config import BackendChoice

    record = workspace.archive.get(session_id)
    asked = record.backend if record.backend in get_args(BackendChoice) else None
    request, _ = workspace.launcher.request(
        f"{record.item}@{record.marketplace}",
        record.task,
        cwd=Path(record.cwd),
        backend=asked,
        max_parallel=record.max_parallel,
    )
    return request


def resume_request(workspace: Workspace, session_id: str) -> LaunchRequest:
    """The session continued under its id."""
    return workspace.launcher.resume_request(workspace.archive.get(session_id))
