"""One option: its flag, type, range, unit, meaning and the label the web form shows, and the
parsers the table's options share; the bounds a value is held to."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tagocheck.fleet.bounds import FleetConfigError
from tagocheck.fleet.model import Interval
from tagocheck.usage import BadValue, number

OFF = "off"
"""The word that turns a check off, in the form and on the command line alike."""

MAX_DEVICES = 1_000_000
"""The largest fleet measured on this machine (bench/fleet_scale.py: ~25 KB a device in the
generator, the embedded target seeds it in one commit)."""
MAX_USERS_PER_PROCESS = 20_000
"""Gateways (Locust users) one process holds: 19,500 users pinned a core in the measurements of
../shared/load-generation-notes.md."""
MAX_STEPS = 100
MAX_SECONDS = 86_400.0
"""A day: the longest step, window or timeout a bounded run may ask for."""


OptionError = BadValue
"""A value an option cannot take; the message names the option and what it can take."""


@dataclass(frozen=True)
class Option:
    """One option: how it is parsed and how it is shown."""

    flag: str
    label: str
    """What the web form calls it."""
    help: str
    parse_text: Callable[[str], Any]
    default: Any
    unit: str = ""
    choices: tuple[str, ...] | None = None
    off: Any = None
    """The value meaning "not checked", shown and typed as the word off."""
    secret: bool = False
    flag_only: bool = False
    """An on/off switch (store_true), not a value."""
    scenarios: tuple[str, ...] | None = None
    """The load scenarios the option means something in (None: all); the web form shows only
    these (the command line takes it anywhere, as Locust's own options)."""

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    def parse(self, text: Any) -> Any:
        """The value `text` stands for, or OptionError naming this option and its range."""
        if self.flag_only:
            return text if isinstance(text, bool) else str(text).lower() in ("true", "on", "1")
        raw = str(text).strip()
        if self.off is not None and _means_off(raw, self.off):
            return self.off
        if self.choices is not None:
            if raw not in self.choices:
                raise OptionError(f"{self.flag} {raw!r}: one of {', '.join(self.choices)}")
            return raw
        try:
            value = self.parse_text(raw)
        except FleetConfigError as error:  # it names the value itself
            raise OptionError(f"{self.flag} {error}") from None
        except OptionError as error:
            raise OptionError(f"{self.flag} {raw!r}: {error}") from None
        return value

    def shown(self, value: Any) -> Any:
        """The value as the web form shows it: off as the word."""
        if self.off is not None and value == self.off and not isinstance(value, bool):
            return OFF
        return value

    def argparse_type(self, text: str) -> Any:
        try:
            return self.parse(text)
        except OptionError as error:
            # argparse puts "argument --flag:" in front of it
            raise argparse.ArgumentTypeError(str(error).removeprefix(self.flag + " ")) from None

    def argparse_kwargs(self) -> dict[str, Any]:
        if self.flag_only:
            return {"action": "store_true", "default": False, "help": self.help}
        kwargs: dict[str, Any] = {"default": self.default, "help": self.help_text()}
        if self.choices is not None:
            kwargs["choices"] = list(self.choices)
        else:
            kwargs["type"] = self.argparse_type
        return kwargs

    def help_text(self) -> str:
        parts = [self.help]
        if self.unit:
            parts.append(f"[{self.unit}]")
        if self.off is not None:
            parts.append(f"({OFF} to turn it off)")
        return " ".join(parts)


def _means_off(raw: str, off: Any) -> bool:
    if raw.lower() == OFF:
        return True
    try:
        return float(raw) == float(off)
    except ValueError:
        return False


def interval(text: str) -> str:
    """The interval's own syntax, checked now and kept as text (the fleet parses it again)."""
    return str(Interval.parse(text))


def text(value: str) -> str:
    return value


def checked_by(parse: Callable[[str], Any]) -> Callable[[str], str]:
    """An option whose own syntax is checked now and kept as text (the fleet parses it again)."""

    def checked(text: str) -> str:
        parse(text)
        return text.strip()

    return checked


def ca_file(value: str) -> str:
    if value and not os.path.isfile(value):
        raise OptionError("no such file")
    return os.path.abspath(value) if value else ""


def process_count() -> Callable[[str], float | int]:
    """0: one process; -1: one a core (Locust's meaning); at most one a core."""
    cores = os.cpu_count() or 1
    checked = number(0, cores, integer=True, why_maximum=f": this machine has {cores} cores")
    return lambda text: -1 if text.strip() == "-1" else checked(text)
