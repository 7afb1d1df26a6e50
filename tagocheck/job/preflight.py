"""What a capacity run will cost before it sends anything, against the plan's hard limits.

Against a real account every request counts: the run creates devices and tokens, sends data
(data-input transactions, one per variable), reads data back (data-output transactions, one per
record read) and may run into the plan's per-minute limits and device cap. The preflight sets all
of that out, and says which of it would exceed a limit or the budget: the job refuses to start
then, unless told --yes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from tagocheck.fleet.model import TAGOTIP_PATHS, FleetConfig
from tagocheck.fleet.paths import PathLimit, path_limit
from tagocheck.fleet.payloads import PROFILES
from tagocheck.spec import ratelimits
from tagocheck.spec.tagotip import tagotip_limits
from tagocheck.tagotip import bindings
from tagocheck.words import counted

# The contract suite's fast tests (-m "not slow", the ci hypothesis profile) say up front what
# they spend; these are their figures (contract/conftest.py DATA_INPUT_PLANNED), plus the
# handful of devices they make.
CONTRACT_DATA_INPUT = 700
CONTRACT_DATA_OUTPUT = 2000
CONTRACT_DEVICES = 4


@dataclass(frozen=True)
class Line:
    what: str
    amount: float
    limit: float | None = None
    note: str = ""

    @property
    def over(self) -> bool:
        return self.limit is not None and self.amount > self.limit


@dataclass
class Preflight:
    plan: str
    lines: list[Line] = field(default_factory=list)
    transactions: int = 0
    budget: int | None = None

    @property
    def problems(self) -> list[str]:
        found = [
            f"{line.what}: {line.amount:,.0f} > {line.limit:,.0f}"
            for line in self.lines
            if line.over
        ]
        if self.budget is not None and self.transactions > self.budget:
            found.append(
                f"transactions: {self.transactions:,} > the budget of {self.budget:,} (--budget)"
            )
        return found


def records_per_report(config: FleetConfig) -> int:
    """Variables in one report (each record is one variable: one data-input transaction)."""
    return len(PROFILES[config.payload](random.Random(0), 0, 0, config.records_per_request))


def plan_run(
    config: FleetConfig,
    *,
    plan: str,
    steps: int,
    step_seconds: float,
    integrity_devices: int,
    contract: bool,
    create_devices: bool,
    budget: int | None,
    search_seconds: float = 120.0,
    users: int = 0,
) -> Preflight:
    """`steps` 0: a capacity search of at most `search_seconds` (and one more step); `users`:
    the gateways, each holding a connection (what a TagoTiP run opens from this machine)."""
    limits = ratelimits.rate_limits()
    limited = plan in limits.plans
    per_minute = (lambda route: limits.per_minute(plan, route)) if limited else (lambda route: None)
    top_rate = config.offered_rate  # reports/s with the whole fleet in
    if steps:
        reports = sum(top_rate * step / steps * step_seconds for step in range(1, steps + 1))
    else:  # at most: every step of the search at the whole fleet
        reports = top_rate * (search_seconds + step_seconds)
    variables = records_per_report(config)
    checked = min(integrity_devices, config.devices)
    data_input = round(reports * variables) + (CONTRACT_DATA_INPUT if contract else 0)
    # Reading back: the integrity check reads every record of each checked device (this run's
    # and, on a device used before, earlier ones: not counted here).
    data_output = round(reports * variables * checked / config.devices) + (
        CONTRACT_DATA_OUTPUT if contract else 0
    )
    found = Preflight(plan, transactions=data_input + data_output, budget=budget)
    path = path_limit(
        plan,
        config.via,
        config.devices,
        config.offered_rate,
        config.interval.mean,
        envelope=config.tagotip_envelope,
    )
    devices = config.devices if create_devices else 0
    per_device = step_seconds / config.interval.mean
    found.lines += [
        Line(
            "reports per device in each step",
            per_device,
            None,
            f"each step held {step_seconds:g} s at a {config.interval}-s interval; "
            + (
                f"{counted(steps, 'step')}"
                if steps
                else f"a search of at most {search_seconds:g} s (--search-seconds)"
            ),
        ),
        Line(
            "devices created (and removed)",
            devices + (CONTRACT_DEVICES if contract else 0),
            limits.device_caps.get(plan) if limited else None,
            "each with one device token"
            if create_devices
            else f"the fleet's {config.devices:,} are seeded into the embedded target, not "
            "created through the API"
            + (f"; these are the contract suite's {CONTRACT_DEVICES}" if contract else ""),
        ),
        Line(
            "POST /device per minute while provisioning",
            min(devices, 60 * 10),
            per_minute("POST /device"),
            "the provisioner waits out 429s",
        ),
        _path_line(path),
        *_backfill_lines(config, path),
        *_tagotip_lines(config, plan, users),
        Line(
            "GET /data per minute during the integrity check",
            min(checked, 20 * 60),
            per_minute("GET /data"),
            "20 devices at a time",
        ),
        Line(
            "DELETE /device per minute while cleaning up",
            min(devices, 600),
            per_minute("DELETE /device/{id}"),
        ),
        Line(
            "data-input transactions (one per variable)",
            data_input,
            None,
            f"{reports:,.0f} reports x {variables} variables"
            + (f" + {CONTRACT_DATA_INPUT} for the contract suite" if contract else ""),
        ),
        Line(
            "data-output transactions (one per record read)",
            data_output,
            None,
            f"the records of the {checked:,} devices the integrity check reads back",
        ),
    ]
    return found


def backfill_requests(config: FleetConfig, seconds: float, window: float = 60.0) -> float:
    """Backfill requests an outage of `seconds` sends in the window after it ends, with the
    whole fleet in: the readings due meanwhile (at most a full buffer a device), in requests as
    the policy packs them, spread over the reconnect jitter and a paced policy's rate."""
    devices = config.devices
    per_device = min(config.offered_rate * seconds / devices, config.buffer)
    policy = config.backfill_policy
    if policy.kind == "batched":
        per_device = math.ceil(per_device / policy.value)
    elif policy.kind == "paced":
        per_device = min(per_device, policy.value * window)
    jitter = config.reconnect_policy.jitter
    share = min(1.0, window / jitter) if jitter else 1.0
    return devices * per_device * share


def _backfill_lines(config: FleetConfig, found: PathLimit) -> list[Line]:
    """The window after the longest outage: its backfill beside the live reports."""
    if not config.outages:
        return []
    longest = max(config.outages, key=lambda outage: outage.duration)
    backfill = backfill_requests(config, longest.duration)
    return [
        Line(
            f"{found.route} in the minute after outage {longest} (backfill and live reports)",
            backfill + found.offered_per_window,
            found.per_window,
            f"{backfill:,.0f} backfill requests ({config.backfill_policy}, reconnect "
            f"{config.reconnect_policy}); the readings are the ones the outage held back, so "
            "they cost no more transactions",
        )
    ]


def _path_line(found: PathLimit) -> Line:
    """The fleet's route at the top step, against the plan, with the fleet it carries."""
    note = "" if found.per_window is None else f"at most {found.carried:,} devices at this interval"
    return Line(
        f"{found.route} per minute at the top step",
        found.offered_per_window,
        found.per_window,
        note,
    )


@dataclass(frozen=True)
class BehindOneAddress:
    """A TagoTiP fleet whose devices all leave from one address (one cellular NAT): how many
    connections it holds at once and how many it opens a minute."""

    connections: int
    opened_per_minute: float
    how: str
    """How the figure was reached, for the preflight's note."""


CONNECTED = (bindings.MQTT, bindings.TCP)
"""The bindings on which a device holds a connection the server ends at its TTL or after the
idle timeout [C rate-limits]."""


def behind_one_address(config: FleetConfig, plan: str | None = None) -> BehindOneAddress:
    """Over MQTT and TCP the plan's TTL and idle timeout decide (schemas/tagotip.md): a device
    reporting within the idle timeout keeps its connection until the TTL ends it (devices/TTL
    reconnects a second), one reporting less often connects per report and is closed after the
    idle timeout. A gateway's devices over MQTT (--devices-per-connection) share its connection,
    which their uplinks together keep from idling; with --connection-spread each ends its first
    connection early once, counted in the minute it falls in (at worst the first). Over HTTP
    neither is documented, so a device that keeps its connection (`--connection keep-alive`)
    holds it between reports: one each; one that connects per report holds one while it is
    answered: counted here as a second a report, the run measures the real time."""
    per_second = config.offered_rate
    tip = tagotip_limits().plans.get(plan or "")
    if config.via == bindings.UDP:
        return BehindOneAddress(
            0, 0.0, "over UDP a device holds no connection: a datagram in, a datagram out"
        )
    shared = config.devices_per_connection
    holders = math.ceil(config.devices / shared)
    holder = _holder(config)
    if config.via in CONNECTED and tip is not None:
        interval = config.interval.mean / shared  # a gateway's uplinks come N times as often
        if interval <= tip.idle_seconds:
            spread = config.connection_spread > 0  # each first connection ended once, early
            return BehindOneAddress(
                holders,
                holders * 60 / tip.ttl_seconds + (holders if spread else 0),
                f"{holder} stays connected until the {tip.ttl_seconds:g}-s TTL ends it"
                + (", its first connection ended sooner (--connection-spread)" if spread else ""),
            )
        return BehindOneAddress(
            min(holders, math.ceil(config.devices * tip.idle_seconds / config.interval.mean)),
            per_second * 60,
            f"a connection per report, closed after the {tip.idle_seconds:g}-s idle timeout",
        )
    if config.via in CONNECTED:  # a plan with no TagoTiP figures: nothing to count by
        return BehindOneAddress(
            holders,
            0.0,
            f"{holder} keeps its connection between reports: plan {plan or 'none'} gives no "
            "TTL nor idle timeout to count its closes by",
        )
    if config.connection == "per-report":
        return BehindOneAddress(
            math.ceil(per_second),
            per_second * 60,
            "a connection per report (--connection per-report), each counted open 1 s",
        )
    return BehindOneAddress(
        config.devices,
        0.0,
        "each device keeps its connection between reports (--connection keep-alive); no TTL "
        "nor idle timeout is documented for HTTP to close it",
    )


def _holder(config: FleetConfig) -> str:
    """Who holds a connection: each device, or each gateway of --devices-per-connection."""
    shared = config.devices_per_connection
    return "each device" if shared == 1 else f"each gateway of {shared} devices"


def plan_needed(config: FleetConfig) -> str | None:
    """The smallest plan whose TagoTiP limits carry the fleet behind one address (uplinks a
    minute, connections per address; over MQTT also the profile's connections at once and its
    subscriptions a minute); None when none does."""
    per_minute = config.offered_rate * 60
    plans = sorted(tagotip_limits().plans.items(), key=lambda item: item[1].uplink_per_minute)
    for name, tip in plans:
        held = behind_one_address(config, name)
        fits = per_minute <= tip.uplink_per_minute and held.connections <= tip.connections_per_ip
        if fits and config.via == bindings.MQTT:
            fits = (
                held.connections <= tip.mqtt_connections_per_profile
                and held.opened_per_minute <= tip.mqtt_subscriptions_per_minute
            )
        if fits:
            return name
    return None


def _tagotip_lines(config: FleetConfig, plan: str, users: int) -> list[Line]:
    """The NAT question: the fleet behind one address against the plan's connections per IP,
    which plan carries it, and this run's own connections (it leaves from one address too);
    over MQTT also the profile's connections at once and subscriptions a minute."""
    if config.via not in TAGOTIP_PATHS:
        return []
    tip = tagotip_limits().plans.get(plan)
    needed = plan_needed(config)
    carried = f"plan {needed} carries it" if needed else "no plan carries it from one address"
    held = behind_one_address(config, plan)
    opened = f"; {held.opened_per_minute:,.0f} opened a minute" if held.opened_per_minute else ""
    lines = [
        Line(
            "TagoTiP connections at once, the fleet behind one address (one NAT)",
            held.connections,
            None if tip is None else tip.connections_per_ip,
            f"{held.how}{opened}; {carried}",
        )
    ]
    if tip is not None and config.via == bindings.MQTT:
        lines += [
            Line(
                "TagoTiP MQTT connections at once, the profile's (any address)",
                held.connections,
                tip.mqtt_connections_per_profile,
                "the same connections, held to the profile's own limit",
            ),
            Line(
                "TagoTiP MQTT subscriptions a minute, the profile's",
                held.opened_per_minute,
                tip.mqtt_subscriptions_per_minute,
                "each new connection subscribes to its devices' ack topics in one request, as "
                "this run's devices do to pair ACKs (devices that never read an ACK need none; "
                "whether TagoIO counts a request or each topic in it is not stated [?])",
            ),
        ]
    if tip is not None:
        lines.append(
            Line(
                "TagoTiP connections this run opens from this machine",
                users if config.via == bindings.HTTP else held.connections,
                tip.connections_per_ip,
                "one per gateway (--users)"
                if config.via == bindings.HTTP
                else f"{_holder(config)} its own, as in the field",
            )
        )
    return lines
