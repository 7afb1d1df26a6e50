"""Every option a user can give a load run, once: its type, range, unit, meaning and the label
the web form shows.

`tagocheck capacity`, Locust's custom arguments (command line, locust.conf, LOCUST_* variables)
and the web form's swarm request all read their values through `Option.parse`, so a value that
makes no sense (nan, inf, a negative count, an error share of 5, more devices than the machine
can hold) is refused the same way wherever it was typed, naming the option and its range.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from tagocheck.fleet.model import Interval
from tagocheck.options.option import (
    MAX_DEVICES,
    MAX_SECONDS,
    MAX_STEPS,
    MAX_USERS_PER_PROCESS,
    OFF,
    Option,
    OptionError,
)
from tagocheck.options.table import every_option
from tagocheck.words import counted

__all__ = [
    "FLEET_SHAPE",
    "LOCUST_FLAGS",
    "MAX_DEVICES",
    "MAX_SECONDS",
    "MAX_STEPS",
    "MAX_USERS_PER_PROCESS",
    "OFF",
    "OPTIONS",
    "Option",
    "OptionError",
    "OptionTable",
    "check_step",
    "check_users",
    "form_options",
]


@dataclass(frozen=True)
class OptionTable:
    options: tuple[Option, ...]

    def __getitem__(self, flag: str) -> Option:
        for option in self.options:
            if flag in (option.flag, option.dest):
                return option
        raise KeyError(flag)

    def __contains__(self, flag: object) -> bool:
        return any(flag in (o.flag, o.dest) for o in self.options)

    def __iter__(self) -> Iterator[Option]:
        return iter(self.options)

    def parse_form(self, form: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
        """The web form's values as Locust casts them (off as its number), and what is wrong
        with the others, each naming the option by its label."""
        canonical: dict[str, str] = {}
        problems: list[str] = []
        for key, raw in form.items():
            if key not in self or self[key].flag_only:
                continue
            option = self[key]
            try:
                canonical[key] = str(option.parse(raw))
            except OptionError as error:
                problems.append(f"{option.label}: {str(error).removeprefix(option.flag + ' ')}")
        return canonical, problems


OPTIONS = OptionTable(tuple(every_option()))
"""Every option of every entry point."""

FLEET_SHAPE = (
    "--interval",
    "--jitter",
    "--payload",
    "--records-per-request",
    "--connection",
    "--via",
    "--retry",
    "--outage",
    "--buffer",
    "--backfill",
    "--reconnect",
    "--tagotip-envelope",
    "--devices-per-connection",
    "--connection-spread",
)
"""How each device reports: the same options for Locust and for `tagocheck capacity`."""

FORM_FIRST = (
    "--devices",
    "--interval",
    "--via",
    "--plan",
    "--check-p99-ms",
    "--check-error-rate",
    "--check-schema-violations",
    "--check-rate-limit-leaks",
    "--check-drift",
)
"""The web form's first fields, in the order a user thinks: fleet size, interval, path, plan,
checks; the rest follow in the table's order."""


def form_options(scenario: str) -> list[Option]:
    """The options the web form shows for `scenario`, in the form's order."""
    shown = [o for o in OPTIONS if o.scenarios is None or scenario in o.scenarios]
    first = {flag: rank for rank, flag in enumerate(FORM_FIRST)}
    return sorted(shown, key=lambda o: first.get(o.flag, len(first)))  # stable: table order


LOCUST_FLAGS = tuple(o.flag for o in OPTIONS if o.flag not in ("--users", "--processes"))
"""Locust's custom arguments: Locust has -u and --processes of its own (checked at init)."""


def check_step(step_seconds: float, interval: Interval) -> None:
    """A capacity step shorter than the fleet's interval: its devices would not all report in
    it, so it cannot be judged; OptionError saying so, before anything starts."""
    longest = interval.b if interval.kind == "uniform" else interval.mean
    if step_seconds < longest:
        raise OptionError(
            f"--step-seconds {step_seconds:g}: shorter than the fleet's interval ({interval}), "
            f"so not every device would report in a step; give at least {longest:g}"
        )


def check_users(users: int, processes: int) -> None:
    """More users than the generator can hold: OptionError naming the cost."""
    allowed = MAX_USERS_PER_PROCESS * max(1, processes)
    if users > allowed:
        raise OptionError(
            f"{users:,} users: at most {allowed:,} with {counted(max(1, processes), 'process')} "
            f"({MAX_USERS_PER_PROCESS:,} a process, as measured on a 2-core machine: near "
            "that many pin a core; give --processes, or fewer users)"
        )
