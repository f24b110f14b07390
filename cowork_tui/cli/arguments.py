"""Argument types shared by the subcommands."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ..core.errors import InputError
from ..core.text import parse_int


def whole_number(what: str, low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in `low..high` (argparse names the option)."""

    def parse(text: str) -> int:
        try:
            return parse_int(text, what, low, high)
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{what}: ")) from None

    return parse
