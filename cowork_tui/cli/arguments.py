"""Arguments shared by the subcommands: their types, a session's, the engine's."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import get_args

from ..core.config import ADDRESS_FORM, BackendChoice, valid_address
from ..core.engine.temporal import require_temporal
from ..core.errors import InputError
from ..core.launch import parse_budget
from ..core.models import MAX_PARALLEL, MIN_PARALLEL, EngineName
from ..core.text import parse_int
from ..core.workspace import Workspace

# option → its [temporal] field. Options not given are left out of the arguments (SUPPRESS):
# a subcommand's default never hides one given before it (`cowork-tui --engine temporal run`)
TEMPORAL_OPTIONS = {
    "temporal_address": "address",
    "namespace": "namespace",
    "task_queue": "task_queue",
}


def whole_number(what: str, low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in `low..high` (argparse names the option)."""

    def parse(text: str) -> int:
        try:
            return parse_int(text, what, low, high)
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{what}: ")) from None

    return parse


def budget(text: str) -> float:
    """An argparse type: a budget in dollars, above zero."""
    try:
        value = parse_budget(text, "--budget")
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--budget: ")) from None
    if value is None:
        raise argparse.ArgumentTypeError("an amount of dollars is needed, e.g. 1.50")
    return value


def address(text: str) -> str:
    """An argparse type: a Temporal server's HOST:PORT."""
    if not valid_address(text):
        raise argparse.ArgumentTypeError(ADDRESS_FORM)
    return text


def non_empty(text: str) -> str:
    """An argparse type: any text but an empty one."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def address_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--temporal-address",
        type=address,
        default=argparse.SUPPRESS,
        metavar="HOST:PORT",
        help="the Temporal server (default: [temporal] address in config.toml, else "
        "127.0.0.1:7233); it does not choose the engine",
    )


def engine_arguments(parser: argparse.ArgumentParser) -> None:
    """--engine and --temporal-address: the TUI, `run`, `launch`, `plan` and `resume`."""
    parser.add_argument(
        "--engine",
        choices=get_args(EngineName),
        default=argparse.SUPPRESS,
        help="what runs the sessions: local (this process) or temporal (workers of a Temporal "
        "server, see `cowork-tui worker`); default: engine in config.toml, else local",
    )
    address_argument(parser)


def with_engine_options(workspace: Workspace, args: argparse.Namespace) -> Workspace:
    """`workspace`, its settings overridden by the engine options given (they win over
    config.toml); InputError when they choose Temporal and its extra is not installed."""
    given = vars(args)
    settings = workspace.settings
    temporal = {key: given[option] for option, key in TEMPORAL_OPTIONS.items() if option in given}
    workspace.settings = settings.model_copy(
        update={
            "engine": given.get("engine", settings.engine),
            "temporal": settings.temporal.model_copy(update=temporal),
        }
    )
    if workspace.settings.engine == "temporal":
        require_temporal()  # before anything else starts: a session, the TUI
    return workspace


def session_arguments(parser: argparse.ArgumentParser) -> None:
    """ITEM, TASK and the options of a session: `run`, `launch` and `plan`."""
    parser.add_argument("item", help="plugin or plugin@marketplace")
    parser.add_argument("task", help="what the agents should do")
    parser.add_argument(
        "--backend",
        choices=get_args(BackendChoice),
        default=None,
        help="runs the model agents: claude (Claude Code), demo (a simulation) or auto "
        "(claude when available); default from config, else auto",
    )
    parser.add_argument(
        "--max-parallel",
        type=whole_number("--max-parallel", MIN_PARALLEL, MAX_PARALLEL),
        default=None,
        metavar="N",
        help="agents running at once, 1..10 (default: the item's maxParallelAgents)",
    )
    parser.add_argument(
        "--budget",
        type=budget,
        default=None,
        metavar="USD",
        help="stop at this cost in dollars (default: the item's cowork.budgetUsd, else "
        "budget_usd in config.toml, else none)",
    )
    engine_arguments(parser)
