"""`worker`: a Temporal worker, running the sessions of the Temporal engine (DESIGN §8)."""

from __future__ import annotations

import argparse

import anyio

from ..core.config import load_settings
from ..core.engine.temporal import require_temporal
from ..core.errors import InputError
from ..core.paths import default_paths
from ..core.workspace import Workspace
from .arguments import address_argument, non_empty, with_engine_options
from .run import STOP_SIGNALS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = subparsers.add_parser(
        "worker",
        help="run a Temporal worker: it runs the sessions of --engine temporal",
        description="Run the workflows and agents of sessions started with --engine temporal, "
        "until SIGINT, SIGTERM or SIGHUP (it then stops gracefully, exit 0). Start any number, "
        "on any host that reaches the server; each needs the plugins and working folders of "
        "the sessions it runs, and their files stay on its host. Exit 2 when the server "
        "cannot be reached or the [temporal] extra is not installed.",
    )
    address_argument(worker)
    worker.add_argument(
        "--namespace",
        type=non_empty,
        default=argparse.SUPPRESS,
        metavar="NS",
        help="the Temporal namespace (default: [temporal] namespace in config.toml, else "
        "'default')",
    )
    worker.add_argument(
        "--task-queue",
        type=non_empty,
        default=argparse.SUPPRESS,
        metavar="Q",
        help="the task queue it serves (default: [temporal] task_queue in config.toml, else "
        "'cowork-tui')",
    )
    worker.set_defaults(handler=cmd_worker)


def cmd_worker(args: argparse.Namespace) -> int:
    require_temporal()
    paths = default_paths()
    # it records nothing (the clients do): the archive is never opened
    workspace = Workspace(paths, load_settings(paths), read_only=True)
    anyio.run(_serve, with_engine_options(workspace, args))
    return 0


async def _serve(workspace: Workspace) -> None:
    """The worker until a stop signal cancels it."""
    from ..core.engine.temporal.worker import run_worker  # it loads temporalio

    with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
        try:
            async with anyio.create_task_group() as tg:

                async def stop_on_signal() -> None:
                    async for _ in signals:
                        tg.cancel_scope.cancel()

                tg.start_soon(stop_on_signal)
                await run_worker(workspace, workspace.settings.temporal)
                tg.cancel_scope.cancel()
        except* InputError as errors:  # e.g. no server at the address: one line, exit 2
            error: BaseException = errors
            while isinstance(error, BaseExceptionGroup):  # its own task groups' too
                error = error.exceptions[0]
            raise error from None
