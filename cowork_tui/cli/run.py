"""`run` and `launch`, and the TUI itself when no command is given."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from contextlib import suppress
from pathlib import Path
from typing import Any

import anyio

from ..core.engine.lifecycle import BUDGET, budget_reached
from ..core.engine.protocol import Engine, LaunchRequest
from ..core.errors import ControlError, InputError
from ..core.models import SessionRecord, SessionState
from ..core.text import printable
from ..core.workspace import Workspace
from .arguments import session_arguments, with_engine_options

EXIT_CODES = {SessionState.COMPLETED: 0, SessionState.FAILED: 1, SessionState.CANCELLED: 1}
EXIT_PARTIAL = 3
EXIT_BUDGET = 4
EXIT_SIGNAL = 130
# each cancels the session (SIGHUP: the terminal closed)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser(
        "run",
        help="run a session headless, with live progress (or one JSON record with --json)",
        description="Run ITEM on TASK without the TUI. Exit codes: 0 completed, 3 completed with "
        "failed agents, 1 failed, 4 cancelled at its budget (--budget), 130 cancelled by "
        "SIGINT/SIGTERM, 2 bad usage or input.",
    )
    session_arguments(run)
    run.add_argument("--cwd", type=Path, default=None, help="working directory of the agents")
    run.add_argument("--json", action="store_true", help="print one JSON session record")
    run.set_defaults(handler=cmd_run)

    launch = subparsers.add_parser(
        "launch", help="open the TUI on the monitor with this session started"
    )
    session_arguments(launch)
    launch.set_defaults(handler=cmd_launch)


def cmd_tui(args: argparse.Namespace) -> int:
    """The TUI with the engine options given (without any, `main` opens it before the core
    loads)."""
    from ..ui.app import run_app

    return run_app(with_engine_options(Workspace.open(need_archive=True), args))


def cmd_launch(args: argparse.Namespace) -> int:
    from ..ui.app import run_app

    workspace = with_engine_options(Workspace.open(need_archive=True), args)
    request, notice = _request(workspace, args, Path.cwd())
    if notice:
        print(notice, file=sys.stderr)
    return run_app(workspace, launch=request)


def cmd_run(args: argparse.Namespace) -> int:
    workspace = with_engine_options(Workspace.open(need_archive=True), args)
    request, notice = _request(workspace, args, (args.cwd or Path.cwd()).resolve())
    if not request.cwd.is_dir():
        raise InputError(f"--cwd: not a folder: {request.cwd}")
    if notice:
        print(notice, file=sys.stderr)
    return run_to_end(workspace, request, args.json)


def run_to_end(workspace: Workspace, request: LaunchRequest, as_json: bool) -> int:
    """Run the session, print its record (or its result in words); the exit code of DESIGN §5."""
    record, signalled = anyio.run(_run_session, workspace, request, as_json)
    if as_json:
        print(json.dumps(record.to_json(), indent=2))
    else:
        print(describe_result(record))
    if signalled and record.state is SessionState.CANCELLED:
        return EXIT_SIGNAL
    if record.state is SessionState.CANCELLED and record.paused_reason == BUDGET:
        return EXIT_BUDGET
    if record.state is SessionState.COMPLETED and record.partial:
        return EXIT_PARTIAL
    return EXIT_CODES.get(record.state, 1)


def _request(
    workspace: Workspace, args: argparse.Namespace, cwd: Path
) -> tuple[LaunchRequest, str | None]:
    # bad input is refused before a session exists
    return workspace.launcher.request(
        args.item,
        args.task,
        cwd=cwd,
        backend=args.backend,
        max_parallel=args.max_parallel,
        budget_usd=args.budget,
    )


async def _run_session(
    workspace: Workspace, request: LaunchRequest, quiet: bool
) -> tuple[SessionRecord, bool]:
    """Run one session to its end; a stop signal cancels it, from before it exists (one that
    comes first cancels it as it starts). Returns (record, signalled)."""
    signalled = False
    with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
        async with workspace.engine() as engine, anyio.create_task_group() as tg:
            if engine.notice:
                print(f"cowork-tui: {engine.notice}", file=sys.stderr)
            session_id = engine.launch(request)

            async def cancel_on_signals() -> None:
                nonlocal signalled
                async for signum in signals:
                    signalled = True
                    if not engine.snapshot(session_id).state.terminal:
                        engine.cancel(session_id, reason=signal.Signals(signum).name)

            tg.start_soon(cancel_on_signals)
            tg.start_soon(_cancel_at_budget, engine, session_id)
            if not quiet and sys.stderr.isatty():
                tg.start_soon(_show_progress, engine, session_id)
            record = await engine.wait(session_id)
            tg.cancel_scope.cancel()
    return record, signalled


async def _cancel_at_budget(engine: Engine, session_id: str) -> None:
    """Headless, nobody can raise the budget: a session paused at it is cancelled."""
    while True:
        seen = engine.version
        record = engine.snapshot(session_id)
        if record.state.terminal:
            return
        if record.paused_reason == BUDGET and record.budget_usd is not None:
            with suppress(ControlError):  # it ended meanwhile
                engine.cancel(session_id, reason=budget_reached(record.budget_usd))
            return
        await engine.changed(seen)


async def _show_progress(engine: Engine, session_id: str) -> None:
    from .progress import LiveProgress

    with suppress(OSError), LiveProgress() as live:  # OSError: the terminal is gone
        version = -1
        while True:
            record = engine.snapshot(session_id)
            live.update(record)
            if record.state.terminal:
                return
            version = await engine.changed(version if version >= 0 else record.version)
            await anyio.sleep(0.1)  # at most ~10 redraws a second


def describe_result(record: SessionRecord) -> str:
    lines: list[Any] = [
        f"session {record.id}: {record.state}{' (partial)' if record.partial else ''} "
        f"in {record.duration_s or 0:.1f}s, {record.agent_count} agents, "
        f"{record.tokens.total:,} tokens, ${record.cost_usd:.4f}"
        + (" (simulated: the demo backend)" if record.simulated else "")
    ]
    if record.state is SessionState.CANCELLED and record.error:
        lines.append(f"  {record.error}")
    for agent in record.agents:
        detail = f" — {agent.error}" if agent.error else ""
        lines.append(f"  {agent.subtask:<20} {agent.state:<11} {agent.agent}{detail}")
    if record.summary:
        lines += ["", record.summary]
    return printable("\n".join(lines))
