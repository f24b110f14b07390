"""Argument types shared by the subcommands."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import get_args

from ..core.config import BackendChoice
from ..core.errors import InputError
from ..core.launch import parse_budget
from ..core.models import MAX_PARALLEL, MIN_PARALLEL
from ..core.text import parse_int


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
