"""The load scenarios' options: Locust custom arguments, so they show in the web UI's form and
work with --headless, locust.conf and LOCUST_* variables as Locust users expect."""

from __future__ import annotations

from typing import Any

from tagocheck.fleet import integrity
from tagocheck.fleet.model import CONNECTION_MODES, FleetConfig, Interval
from tagocheck.fleet.payloads import PROFILES

ERROR_RATE = 0.01
"""The share of reports that may fail before a run fails, unless told otherwise."""

SCENARIOS: dict[str, dict[str, Any]] = {
    "fleet": {},
    "capacity": {"steps": 5},
    "soak": {},
    "ratelimit": {"devices": 2, "interval": "60"},
}


FLEET_SHAPE: dict[str, dict[str, Any]] = {
    "--interval": {
        "default": "10",
        "help": "seconds between a device's reports, or uniform:LOW:HIGH, exponential:MEAN, "
        "normal:MEAN:SD",
    },
    "--jitter": {"type": float, "default": 0.5, "help": "± seconds on every report"},
    "--payload": {"choices": list(PROFILES), "default": "smart-meter"},
    "--records-per-request": {"type": int, "default": 1},
    "--connection": {"choices": list(CONNECTION_MODES), "default": "keep-alive"},
}
"""How each device reports: the same options for Locust and for `tagocheck capacity`."""


def fleet_config(options: Any) -> FleetConfig:
    """The fleet the parsed options describe (Locust's, or `tagocheck capacity`'s)."""
    return FleetConfig(
        devices=options.devices,
        interval=Interval.parse(options.interval),
        jitter=options.jitter,
        payload=options.payload,
        records_per_request=options.records_per_request,
        connection=options.connection,
    )


def add_arguments(parser: Any, scenario: str) -> None:
    """Declare the options on Locust's own parser (it masks the secret ones in the web UI).

    Locust's parser maps an option to a LOCUST_* variable only when told: each of these gets
    its own (--profile-token: LOCUST_PROFILE_TOKEN), like Locust's own options.
    """

    def add(flag: str, **kwargs: Any) -> None:
        name = "LOCUST_" + flag.removeprefix("--").replace("-", "_").upper()
        parser.add_argument(flag, env_var=name, **kwargs)

    add("--devices", type=int, default=100, help="devices in the fleet")
    for flag, kwargs in FLEET_SHAPE.items():
        add(flag, **kwargs)
    add(
        "--plan",
        default="",
        help="rate-limit plan to expect (default: unlimited on the embedded target, free "
        "elsewhere; the ratelimit scenario's embedded target: free)",
    )
    add(
        "--profile-token",
        default="",
        is_secret=True,
        help="creates the fleet on --host, and removes it afterwards",
    )
    add("--fleet-file", default="", help="JSON file of existing devices (mode 600)")
    add("--run-dir", default="", help="where the run's data goes (reports/<timestamp>)")
    add(
        "--overwrite",
        action="store_true",
        default=False,
        help="empty a --run-dir that holds an earlier run (refused without it)",
    )
    add(
        "--ssl-false",
        action="store_true",
        default=False,
        help="send _ssl=false with every request: what TagoIO asks of plain-HTTP clients",
    )
    add(
        "--request-timeout",
        type=float,
        default=60.0,
        help="seconds to wait for an answer before it counts as a transport error (60, as the "
        "official JS SDK)",
    )
    add(
        "--device-rpm",
        type=int,
        default=0,
        help="the devices' own data_input limit (rpm): set on the devices created or seeded, "
        "and held to per device in the ledger",
    )
    add(
        "--steps",
        type=int,
        default=1,
        help="capacity: bring the fleet in over this many steps, stopping after the knee "
        "(1: the whole fleet at once)",
    )
    add("--step-seconds", type=float, default=30, help="how long each capacity step is held")
    add(
        "--probe-factor",
        type=float,
        default=1.5,
        help="ratelimit: requests per window as a multiple of each limit",
    )
    add(
        "--integrity-devices",
        type=int,
        default=integrity.SAMPLE,
        help="devices whose stored records are reconciled at the end (all of them when the "
        "fleet is smaller)",
    )
    add("--rate-window", type=float, default=0, help="rate-limit window seconds (default 60)")
    add(
        "--check-p99-ms",
        type=float,
        default=0,
        help="fail the run if p99 latency (corrected) is above this",
    )
    add(
        "--check-error-rate",
        type=float,
        default=ERROR_RATE,
        help="fail the run if more than this share of reports were not answered: failed, "
        "refused or broke the contract (0.01; -1: off; a capacity run holds it per step)",
    )
    add(
        "--check-schema-violations",
        type=int,
        default=-1,
        help="fail the run if there are more violations than this",
    )
    add(
        "--check-rate-limit-leaks",
        type=int,
        default=-1,
        help="fail the run if more windows than this leaked or throttled early",
    )
    add(
        "--check-drift",
        type=int,
        default=-1,
        help="soak: fail the run if the end drifted from the start in more ways than this",
    )
    parser.set_defaults(**SCENARIOS[scenario])
