"""Bad input from any entry point ends in one line and exit status 2: argparse's own error
prints the whole usage first (seven lines for `tagocheck capacity`), which buries the one that
says what is wrong."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any, NoReturn


class UsageError(Exception):
    """Something the user can fix; reported as one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line naming --help (its sub-commands too)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


class BadValue(ValueError):
    """A value an option cannot take; the message says what it can take."""


def number(
    minimum: float,
    maximum: float,
    *,
    integer: bool = False,
    above: bool = False,
    why_maximum: str = "",
) -> Callable[[str], float | int]:
    """A finite number in [minimum, maximum] (above: strictly more than minimum); nan, inf and
    the rest are BadValue."""

    def parse(text: str) -> float | int:
        try:
            value: float | int = int(text) if integer else float(text)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            raise BadValue(f"not {kind}") from None
        span = f"{'above' if above else 'from'} {figure(minimum)} to {figure(maximum)}"
        if not math.isfinite(value) or value < minimum or (above and value == minimum):
            raise BadValue(f"must be a finite number {span}")
        if value > maximum:
            raise BadValue(f"at most {figure(maximum)}{why_maximum}")
        return value

    return parse


def figure(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:g}"


def argument(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """`parse` as an argparse type: its BadValue becomes argparse's one-line error."""

    def parsed(text: str) -> Any:
        try:
            return parse(text)
        except BadValue as error:
            raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None

    return parsed
