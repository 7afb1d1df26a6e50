"""The load scenarios' options: Locust custom arguments, so they show in the web UI's form and
work with --headless, locust.conf and LOCUST_* variables as Locust users expect. What each one
takes is in tagocheck.options, shared with `tagocheck capacity` and the web form."""

from __future__ import annotations

import os
from typing import Any

from tagocheck.fleet.model import FleetConfig, Interval
from tagocheck.load.ending import RunError
from tagocheck.options import (
    FLEET_SHAPE,
    LOCUST_FLAGS,
    OPTIONS,
    OptionError,
    check_step,
    check_users,
)

SCENARIOS: dict[str, dict[str, Any]] = {
    "fleet": {},
    "capacity": {"steps": 0},
    "soak": {},
    "ratelimit": {"devices": 2, "interval": "60"},
}


def fleet_config(options: Any) -> FleetConfig:
    """The fleet the parsed options describe (Locust's, or `tagocheck capacity`'s)."""
    return FleetConfig(
        devices=options.devices,
        interval=Interval.parse(options.interval),
        jitter=options.jitter,
        payload=options.payload,
        records_per_request=options.records_per_request,
        connection=options.connection,
        via=options.via,
        retry=options.retry,
        outage=options.outage,
        buffer=options.buffer,
        backfill=options.backfill,
        reconnect=options.reconnect,
        tagotip_envelope=getattr(options, "tagotip_envelope", "none"),
        devices_per_connection=getattr(options, "devices_per_connection", 1),
        connection_spread=getattr(options, "connection_spread", 0.0),
    )


def fleet_arguments(config: FleetConfig) -> list[str]:
    """The fleet's shape as command-line options: what fleet_config reads back."""
    found = ["--devices", str(config.devices)]
    for flag in FLEET_SHAPE:
        found += [flag, str(getattr(config, OPTIONS[flag].dest))]
    return found


def add_arguments(parser: Any, scenario: str) -> None:
    """Declare the options on Locust's own parser (it masks the secret ones in the web UI).

    Locust's parser maps an option to a LOCUST_* variable only when told: each of these gets
    its own (--profile-token: LOCUST_PROFILE_TOKEN), like Locust's own options.
    """
    for flag in LOCUST_FLAGS:
        option = OPTIONS[flag]
        name = "LOCUST_" + option.dest.upper()
        parser.add_argument(flag, env_var=name, is_secret=option.secret, **option.argparse_kwargs())
    parser.set_defaults(**SCENARIOS[scenario])


def bound_locust_arguments(parser: Any) -> None:
    """Locust's own --processes and -u, held to this machine before Locust forks its workers
    (a refusal after the fork would leave them waiting for a master that has gone)."""
    for action in parser._actions:
        if "--processes" in action.option_strings:
            action.type = OPTIONS["--processes"].argparse_type
        elif "--users" in action.option_strings:
            action.type = OPTIONS["--users"].argparse_type


def check_generator(options: Any, scenario: str, distributed: bool) -> None:
    """Locust's own -u and --processes, held to what this machine can run."""
    processes = getattr(options, "processes", None) or 0
    cores = os.cpu_count() or 1
    if processes > cores:
        raise RunError(f"--processes {processes}: this machine has {cores} cores")
    if distributed and processes == 0:
        return  # workers of its own elsewhere: how many is not known yet
    try:
        check_users(options.num_users or 1, cores if processes == -1 else processes)
        if scenario == "capacity":
            check_step(options.step_seconds, fleet_config(options).interval)
    except OptionError as error:
        raise RunError(str(error)) from None
