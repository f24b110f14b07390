"""The `cowork-tui` command: the TUI without a subcommand, the headless CLI of DESIGN §5 with one.

Each subcommand module exposes `register(subparsers)`, which adds its parser and sets
`handler` (a function of the parsed arguments returning the exit code).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from contextlib import suppress
from typing import NoReturn

from .. import __version__
from ..core.errors import InputError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
# and the TUI: they run sessions (a worker, its agents)
SESSION_COMMANDS = frozenset({"run", "resume", "launch", "worker"})


def open_tui() -> int:
    from ..ui.app import run_app

    return run_app()


def build_parser() -> argparse.ArgumentParser:
    # they load the core, which the TUI loads later
    from . import history, marketplace, plan, resume, run, worker
    from .arguments import engine_arguments

    parser = argparse.ArgumentParser(
        prog="cowork-tui",
        description="A terminal dashboard for cowork sessions: several plugin agents on one "
        "task, under your live control. Without a command, opens the TUI.",
    )
    parser.add_argument("--version", action="version", version=f"cowork-tui {__version__}")
    engine_arguments(parser)
    parser.set_defaults(handler=run.cmd_tui)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    for module in (run, resume, plan, history, marketplace, worker):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv:
            args = build_parser().parse_args(argv)
            if args.command is None or args.command in SESSION_COMMANDS:  # None: the TUI
                _adopt_orphans()
            code: int = args.handler(args)
        else:  # the TUI, straight away: it draws its first frame before it loads the core
            _adopt_orphans()
            code = open_tui()
    except InputError as exc:
        print(f"cowork-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `cowork-tui marketplace list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:  # the machine's, not ours: a read-only or full disk, permissions
        print(f"cowork-tui: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        if os.environ.get("COWORK_TUI_DEBUG"):
            raise
        print(
            f"cowork-tui: internal error: {type(exc).__name__}: {exc} "
            "(set COWORK_TUI_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return code


def entry_point() -> NoReturn:
    """The `cowork-tui` command: exit with main's code. Once temporalio is loaded the
    interpreter's teardown is skipped: the threads of its runtime can crash it, turning the exit
    code into an abort (temporalio/sdk-python#300)."""
    code = main()
    if "temporalio" in sys.modules:
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError):
                stream.flush()
        os._exit(code)
    sys.exit(code)


def _adopt_orphans() -> None:
    """What an agent's processes orphan stays below this process (Linux: a subreaper), so that
    it is found and ended with its agent, never left to init."""
    from ..core.procs import become_subreaper  # the standard library only

    become_subreaper()
