"""`resume`: continue an INTERRUPTED session under its id, as `run` runs one."""

from __future__ import annotations

import argparse

from ..core.workspace import Workspace
from .arguments import engine_arguments, with_engine_options
from .run import run_to_end


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    resume = subparsers.add_parser(
        "resume",
        help="continue an INTERRUPTED session (exit codes as run)",
        description="Continue session ID, interrupted by a crash or a quit, under its id: the "
        "subtasks that succeeded keep their results and do not run again, the others run "
        "again (a Claude agent in its own conversation). Exit codes as `run`; 2 when the "
        "session is not INTERRUPTED or its item changed so that its plan no longer fits.",
    )
    resume.add_argument("id", help="the session's id (see `history list`)")
    resume.add_argument("--json", action="store_true", help="print one JSON session record")
    engine_arguments(resume)
    resume.set_defaults(handler=cmd_resume)


def cmd_resume(args: argparse.Namespace) -> int:
    # recovery first: a crashed run's sessions
    workspace = with_engine_options(Workspace.open(need_archive=True), args)
    request = workspace.launcher.resume_request(workspace.archive.get(args.id))
    return run_to_end(workspace, request, args.json)
