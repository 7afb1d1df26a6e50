"""Every option a user can give a load run, once: its type, range, unit, meaning and the label
the web form shows.

`tagocheck capacity`, Locust's custom arguments (command line, locust.conf, LOCUST_* variables)
and the web form's swarm request all read their values through `Option.parse`, so a value that
makes no sense (nan, inf, a negative count, an error share of 5, more devices than the machine
can hold) is refused the same way wherever it was typed, naming the option and its range.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tagocheck.fleet import integrity
from tagocheck.fleet.bounds import MAX_BUFFER, MAX_INTERVAL_SECONDS, FleetConfigError
from tagocheck.fleet.model import CONNECTION_MODES, PATHS, Interval
from tagocheck.fleet.outage import Backfill, Reconnect, parse_outages
from tagocheck.fleet.payloads import PROFILES
from tagocheck.fleet.retry import RetryPolicy
from tagocheck.usage import BadValue, number
from tagocheck.words import counted

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


def _checked(parse: Callable[[str], Any]) -> Callable[[str], str]:
    """An option whose own syntax is checked now and kept as text (the fleet parses it again)."""

    def checked(text: str) -> str:
        parse(text)
        return text.strip()

    return checked


def ca_file(value: str) -> str:
    if value and not os.path.isfile(value):
        raise OptionError("no such file")
    return os.path.abspath(value) if value else ""


def _processes() -> Callable[[str], float | int]:
    """0: one process; -1: one a core (Locust's meaning); at most one a core."""
    cores = os.cpu_count() or 1
    checked = number(0, cores, integer=True, why_maximum=f": this machine has {cores} cores")
    return lambda text: -1 if text.strip() == "-1" else checked(text)


def _options() -> list[Option]:
    devices_cap = f" ({MAX_DEVICES:,}: the largest fleet measured on one machine)"
    return [
        Option(
            "--devices",
            "Devices in the fleet",
            "devices in the fleet",
            number(1, MAX_DEVICES, integer=True, why_maximum=devices_cap),
            100,
            unit="devices",
        ),
        Option(
            "--interval",
            "Seconds between a device's reports",
            "seconds between a device's reports, or uniform:LOW:HIGH, exponential:MEAN, "
            f"normal:MEAN:SD (at most {MAX_INTERVAL_SECONDS:,})",
            interval,
            "10",
            unit="s",
        ),
        Option(
            "--jitter",
            "Jitter on every report",
            "± seconds on every report",
            number(0, MAX_INTERVAL_SECONDS),
            0.5,
            unit="s",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--payload",
            "Payload profile",
            "what each report carries",
            text,
            "smart-meter",
            choices=tuple(PROFILES),
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--records-per-request",
            "Records per report",
            "records in each report",
            number(1, 1000, integer=True),
            1,
            unit="records",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--connection",
            "Connections",
            "keep-alive: a gateway keeps its connection; per-report: a new one for every report",
            text,
            "keep-alive",
            choices=tuple(CONNECTION_MODES),
        ),
        Option(
            "--via",
            "Path",
            "device: each device posts POST /data with its own token; network: one network "
            "token posts every device's uplinks to POST /integration/network/data, naming each "
            "device by its serial",
            text,
            "device",
            choices=PATHS,
        ),
        Option(
            "--retry",
            "Retries",
            "how each report is tried again: none, sdk-js (5 attempts, 1.5 s doubling to 30 s, "
            "after a 5xx, a timeout or a network error), sdk-py (5 attempts 1.5 s apart, after "
            "a connection that could not be made), fixed:SECONDS[:TRIES], exp:BASE:CAP:TRIES",
            _checked(RetryPolicy.parse),
            "none",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--outage",
            "Outages",
            "START+DURATION seconds after the schedule starts, several separated by commas: "
            "the devices send nothing then, buffer their readings and backfill after",
            _checked(parse_outages),
            "",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--buffer",
            "Buffer",
            "readings a device keeps while offline (past it the oldest is dropped, counted)",
            number(1, MAX_BUFFER, integer=True),
            1000,
            unit="readings",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--backfill",
            "Backfill",
            "how a device back online sends its buffer: burst (all at once), paced:RATE "
            "(readings a second), batched:N (N readings a request), each with its time",
            _checked(Backfill.parse),
            "burst",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--reconnect",
            "Reconnect",
            "together (every device back at the outage's end) or jittered:SECONDS (each after "
            "its own random delay)",
            _checked(Reconnect.parse),
            "together",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--plan",
            "Rate-limit plan: free, starter, scale, or none (empty: none on the embedded target)",
            "the plan to hold the target to: free, starter, scale, or none (no plan: nothing "
            "judged against plan limits; `unlimited` is the same); default: none on the "
            "embedded target, free elsewhere; the ratelimit scenario's embedded target: free",
            text,
            "",
        ),
        Option(
            "--profile-token",
            "Profile token",
            "creates the fleet on --host, and removes it afterwards",
            text,
            "",
            secret=True,
        ),
        Option(
            "--network-token",
            "Network token",
            "--via network on --host: the network token the uplinks are posted with (the "
            "embedded target makes its own)",
            text,
            "",
            secret=True,
        ),
        Option(
            "--authorization",
            "Authorization key",
            "--via network on --host: the profile's authorization key (at...), sent as "
            "authorization_token",
            text,
            "",
            secret=True,
        ),
        Option(
            "--connector",
            "Connector id",
            "--via network on --host: the connector the created devices use (TagoIO asks for "
            "one with the network)",
            text,
            "",
        ),
        Option(
            "--fleet-file",
            "Fleet file",
            "JSON file of existing devices (mode 600)",
            text,
            "",
        ),
        Option(
            "--run-dir",
            "Run directory",
            "where the run's data goes (reports/<timestamp>; from the web UI, one folder per "
            "swarm in it)",
            text,
            "",
        ),
        Option(
            "--overwrite",
            "Overwrite the run directory",
            "empty a --run-dir that holds an earlier run (refused without it)",
            text,
            False,
            flag_only=True,
        ),
        Option(
            "--ssl-false",
            "Send _ssl=false",
            "send _ssl=false with every request: what TagoIO asks of plain-HTTP clients",
            text,
            False,
            flag_only=True,
        ),
        Option(
            "--ca-cert",
            "CA certificate",
            "PEM file of the CA to verify the target's TLS certificate with (default: the "
            "system's; REQUESTS_CA_BUNDLE works too)",
            ca_file,
            "",
        ),
        Option(
            "--request-timeout",
            "Request timeout",
            "seconds to wait for an answer before it counts as a transport error (60, as the "
            "official JS SDK)",
            number(0, 3600, above=True),
            60.0,
            unit="s",
        ),
        Option(
            "--device-rpm",
            "Device rpm",
            "the devices' own data_input limit: set on the devices created or seeded, and "
            "held to per device in the ledger",
            number(0, 1_000_000, integer=True),
            0,
            unit="requests/min",
            off=0,
        ),
        Option(
            "--steps",
            "Capacity steps",
            "capacity: 0 searches for the highest load that holds (doubling, then bisecting); "
            "N brings the fleet in over N equal steps, stopping after the first that broke "
            "(1: the whole fleet at once)",
            number(0, MAX_STEPS, integer=True),
            1,
            unit="steps",
            scenarios=("capacity",),
        ),
        Option(
            "--search-seconds",
            "Search budget",
            "capacity search: no step starts that would end after this many seconds of steps",
            number(0, MAX_SECONDS, above=True),
            120.0,
            unit="s",
            scenarios=("capacity",),
        ),
        Option(
            "--precision",
            "Search precision",
            "capacity search: stop once the bracket (highest step held, lowest broken) is "
            "narrower than this share of the load held",
            number(0, 1, above=True),
            0.05,
            unit="share, 0 to 1",
            scenarios=("capacity",),
        ),
        Option(
            "--step-seconds",
            "Seconds per step",
            "capacity: how long each step is held",
            number(0, MAX_SECONDS, above=True),
            30.0,
            unit="s",
            scenarios=("capacity",),
        ),
        Option(
            "--probe-factor",
            "Probe factor",
            "ratelimit: requests per window as a multiple of each limit",
            number(1, 100, above=True),
            1.5,
            unit="x limit",
            scenarios=("ratelimit",),
        ),
        Option(
            "--integrity-devices",
            "Devices reconciled",
            "devices whose stored records are reconciled at the end (all of them when the "
            "fleet is smaller)",
            number(0, MAX_DEVICES, integer=True),
            integrity.SAMPLE,
            unit="devices",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--rate-window",
            "Rate-limit window",
            "the rate-limit window (60)",
            number(0, MAX_SECONDS, above=True),
            60.0,
            unit="s",
        ),
        Option(
            "--check-p99-ms",
            "Most p99 latency",
            "fail the run if the p99 latency (corrected for lateness) is above this",
            number(0, 3_600_000, above=True),
            0.0,
            unit="ms",
            off=0.0,
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--check-error-rate",
            "Most reports not answered",
            "fail the run if more than this share of reports were not answered: failed, "
            "refused or broke the contract (a capacity run holds it per step)",
            number(0, 1),
            0.01,
            unit="share, 0 to 1",
            off=-1.0,
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--check-schema-violations",
            "Most contract violations",
            "fail the run if more responses than this broke the contract",
            number(0, 1e12, integer=True),
            -1,
            unit="responses",
            off=-1,
        ),
        Option(
            "--check-rate-limit-leaks",
            "Most rate-limit findings",
            "fail the run if more rate-limit windows than this leaked or throttled early",
            number(0, 1e12, integer=True),
            -1,
            unit="windows",
            off=-1,
        ),
        Option(
            "--check-drift",
            "Most drift findings",
            "soak: fail the run if its end drifted from its start in more ways than this "
            "(latency, error rate, throughput, memory)",
            number(0, 100, integer=True),
            -1,
            unit="findings",
            off=-1,
            scenarios=("soak",),
        ),
        Option(
            "--users",
            "Users",
            "Locust users: concurrent connections",
            number(1, MAX_USERS_PER_PROCESS * 64, integer=True),
            100,
            unit="users",
        ),
        Option(
            "--processes",
            "Processes",
            "Locust worker processes (0: one process)",
            _processes(),
            0,
            unit="processes",
        ),
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


OPTIONS = OptionTable(tuple(_options()))
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
