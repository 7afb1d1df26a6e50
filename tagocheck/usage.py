"""Bad input from any entry point ends in one line and exit status 2: argparse's own error
prints the whole usage first (seven lines for `tagocheck capacity`), which buries the one that
says what is wrong."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class UsageError(Exception):
    """Something the user can fix; reported as one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line naming --help (its sub-commands too)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def fail(prog: str, message: str) -> NoReturn:
    """One line on stderr and exit 2, from code that has no parser at hand."""
    print(f"{prog}: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)
