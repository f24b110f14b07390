"""`cowork-tui worker`: runs sessions for the clients of one Temporal task queue (DESIGN §8).

Two pollers: the shared task queue (the sessions' workflows, and `prepare`, by which a worker
takes a session) and the worker's own (the agents of the sessions it took, and the controls
that pause or steer them: they must reach the host their processes run on). A reaper ends
what its agents leave if the worker dies, however it dies.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import anyio

from ...reaper import Reaper
from ..output_files import private_folder
from .activities import Host
from .activities import define as define_activities
from .shapes import HEARTBEAT
from .workflow import define as define_workflow

if TYPE_CHECKING:
    from ...config import TemporalSettings
    from ...workspace import Workspace

# a dead worker's workflows move to another one this fast (Temporal's default is 10 s)
STICKY_TIMEOUT = timedelta(seconds=2)
AGENTS_AT_ONCE = 1000  # with their controls: more wait (past STARTS_WITHIN they fail as lost)


async def run_worker(workspace: Workspace, settings: TemporalSettings) -> None:
    """Run a worker until cancelled; InputError naming the address when the server cannot be
    reached. Cancelled, it stops its agents (they end FAILED, "its worker stopped")."""
    from temporalio.worker import Worker

    from .connection import connect

    client = await connect(settings)
    private_folder(workspace.paths.outputs_dir)
    own = f"{settings.task_queue}@{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    options: dict[str, Any] = {
        "max_heartbeat_throttle_interval": HEARTBEAT,
        "default_heartbeat_throttle_interval": HEARTBEAT,
        "graceful_shutdown_timeout": timedelta(0),
    }
    with Reaper(workspace.settings.grace_seconds) as reaper:
        activities = define_activities(Host(workspace, own, reaper))
        shared = Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[define_workflow()],
            activities=activities[:1],  # prepare: the worker that runs it takes the session
            sticky_queue_schedule_to_start_timeout=STICKY_TIMEOUT,
            **options,
        )
        # its own queue: the agents of every session it took, and their controls
        mine = Worker(
            client,
            task_queue=own,
            activities=activities[1:],
            max_concurrent_activities=AGENTS_AT_ONCE,
            **options,
        )
        async with shared, mine:
            print(
                f"cowork-tui worker: serving task queue {settings.task_queue!r} at "
                f"{settings.address} (namespace {settings.namespace}); ctrl+c stops",
                file=sys.stderr,
                flush=True,
            )
            try:
                await anyio.sleep_forever()
            finally:  # a cancelled worker's polls must end first, or the process cannot exit
                with anyio.CancelScope(shield=True):
                    await shared.shutdown()
                    await mine.shutdown()
