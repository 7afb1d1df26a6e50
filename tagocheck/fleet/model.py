"""A fleet of simulated devices: who reports, how often, and what they send.

Each device has its own token (or serial, when a network posts for it), its own report interval
(fixed, or drawn once per device from a distribution), a random phase so the fleet does not fire
in lockstep, and jitter on every report. Fleet size is independent of how many Locust users
(connections) send the reports.
"""

from __future__ import annotations

import functools
import math
import random
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from tagocheck.fleet.bounds import (
    MAX_BUFFER,
    MAX_INTERVAL_SECONDS,
    MAX_SPREAD_SECONDS,
    FleetConfigError,
)
from tagocheck.fleet.outage import Backfill, Reconnect, parse_outages
from tagocheck.fleet.payloads import PROFILES
from tagocheck.fleet.retry import RetryPolicy
from tagocheck.tagotip import bindings
from tagocheck.tagotip.envelope import SUITE_OPTIONS
from tagocheck.tagotip.grammar import MAX_VARIABLES

CONNECTION_MODES = ("keep-alive", "per-report")
TAGOTIP_PATHS = bindings.ALL
"""The paths that speak TagoTiP: a serial per device, the profile's hash, their own limits."""
PATHS = ("device", "network", *TAGOTIP_PATHS)
"""How reports reach the target: each device posting POST /data with its own token, a
network posting every device's uplinks to POST /integration/network/data with one network token,
naming each device by its serial, or each device pushing TagoTiP frames through the HTTP
binding or over its own MQTT connection (tagocheck.fleet.paths)."""


@dataclass(frozen=True)
class Interval:
    """Seconds between a device's reports: `10`, `uniform:5:15`, `exponential:10`, `normal:10:2`."""

    kind: str
    a: float
    b: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Interval:
        kind, _, rest = str(text).strip().partition(":")
        try:
            numbers = [float(x) for x in (rest or kind).split(":")]
            if not all(0 <= n <= MAX_INTERVAL_SECONDS for n in numbers):  # nan and inf too
                raise ValueError
            if not rest:
                if numbers[0] <= 0:
                    raise ValueError
                return cls("fixed", numbers[0])
        except ValueError:
            raise FleetConfigError(
                f"{text!r}: use seconds (above 0, at most {MAX_INTERVAL_SECONDS:,}) "
                "or uniform:LOW:HIGH, exponential:MEAN, normal:MEAN:SD"
            ) from None
        if kind == "uniform" and len(numbers) == 2 and 0 < numbers[0] <= numbers[1]:
            return cls("uniform", *numbers)
        if kind == "exponential" and len(numbers) == 1 and numbers[0] > 0:
            return cls("exponential", numbers[0])
        if kind == "normal" and len(numbers) == 2 and numbers[0] > 0 and numbers[1] >= 0:
            return cls("normal", *numbers)
        raise FleetConfigError(f"{text!r} is not a valid distribution")

    def __str__(self) -> str:
        """The text parse() reads back: `10`, `uniform:5:15`, `exponential:10`, `normal:10:2`."""
        if self.kind == "fixed":
            return f"{self.a:g}"
        if self.kind == "exponential":
            return f"exponential:{self.a:g}"
        return f"{self.kind}:{self.a:g}:{self.b:g}"

    @property
    def mean(self) -> float:
        if self.kind == "uniform":
            return (self.a + self.b) / 2
        return self.a

    def draw(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "exponential":
            return max(0.001, rng.expovariate(1 / self.a))
        return max(0.001, rng.gauss(self.a, self.b))


@dataclass(frozen=True)
class FleetConfig:
    devices: int
    interval: Interval
    jitter: float = 0.0
    payload: str = "smart-meter"
    records_per_request: int = 1
    connection: str = "keep-alive"
    via: str = "device"
    retry: str = "none"
    outage: str = ""
    """START+DURATION, several separated by commas (tagocheck.fleet.outage)."""
    buffer: int = 1000
    backfill: str = "burst"
    reconnect: str = "together"
    tagotip_envelope: str = "none"
    """A TagoTiP/S cipher suite each frame is sealed in (envelope.SUITE_OPTIONS), or none."""
    devices_per_connection: int = 1
    """Over MQTT, the devices behind one gateway's connection (TagoTipServers §3.1)."""
    connection_spread: float = 0.0
    """Over MQTT and TCP, the seconds over which each connection holder ends its first
    connection itself (tagocheck.load.connections); 0: the fleet's connections start together."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.devices < 1:
            raise FleetConfigError("--devices must be at least 1")
        if self.jitter < 0:
            raise FleetConfigError("--jitter must not be negative")
        if self.payload not in PROFILES:
            raise FleetConfigError(
                f"--payload {self.payload!r}: profiles are {', '.join(PROFILES)}"
            )
        if not 1 <= self.records_per_request <= 1000:
            raise FleetConfigError("--records-per-request must be from 1 to 1,000")
        if self.connection not in CONNECTION_MODES:
            raise FleetConfigError(f"--connection must be {' or '.join(CONNECTION_MODES)}")
        if self.via not in PATHS:
            raise FleetConfigError(f"--via must be {' or '.join(PATHS)}")
        if self.via in TAGOTIP_PATHS:
            self._check_tagotip()
        if self.tagotip_envelope != "none":
            self._check_envelope()
        if not 1 <= self.devices_per_connection <= 1000:
            raise FleetConfigError("--devices-per-connection must be from 1 to 1,000")
        if self.devices_per_connection > 1 and self.via != bindings.MQTT:
            raise FleetConfigError(
                f"--devices-per-connection with --via {self.via}: only MQTT connections carry "
                f"several devices' uplinks here; give --via {bindings.MQTT}"
            )
        if not 0 <= self.connection_spread <= MAX_SPREAD_SECONDS:
            raise FleetConfigError(
                f"--connection-spread must be from 0 to {MAX_SPREAD_SECONDS:,} s"
            )
        if self.connection_spread and self.via not in (bindings.MQTT, bindings.TCP):
            raise FleetConfigError(
                f"--connection-spread with --via {self.via}: only MQTT and TCP devices hold a "
                f"connection the server ends at its TTL; give --via {bindings.MQTT} or "
                f"{bindings.TCP}"
            )
        if not 1 <= self.buffer <= MAX_BUFFER:
            raise FleetConfigError(f"--buffer must be from 1 to {MAX_BUFFER:,} readings")
        # each parsed once now, so a bad value is refused before the run
        for name in ("retry_policy", "outages", "backfill_policy", "reconnect_policy"):
            getattr(self, name)

    def _check_envelope(self) -> None:
        if self.tagotip_envelope not in SUITE_OPTIONS:
            raise FleetConfigError(
                f"--tagotip-envelope {self.tagotip_envelope!r}: none or " + ", ".join(SUITE_OPTIONS)
            )
        if self.via not in TAGOTIP_PATHS:
            raise FleetConfigError(
                f"--tagotip-envelope with --via {self.via}: TagoTiP/S seals TagoTiP frames; "
                "give --via " + ", ".join(TAGOTIP_PATHS)
            )

    def _check_tagotip(self) -> None:
        """What a TagoTiP frame cannot carry is refused before the run, not failed in it."""
        if self.payload == "random":
            raise FleetConfigError(
                f"--via {self.via} with --payload random: its records may hold what a TagoTiP "
                "variable cannot (an empty string, a name of other characters); pick a profile"
            )
        if self.records_per_request > MAX_VARIABLES:
            raise FleetConfigError(
                f"--via {self.via}: a TagoTiP frame holds at most {MAX_VARIABLES} variables "
                "(TagoTiP §4.5.1); --records-per-request must be at most that"
            )
        batch = self.backfill_policy
        per_frame = (int(batch.value) if batch.kind == "batched" else 1) * self.records_per_request
        if per_frame > MAX_VARIABLES:
            raise FleetConfigError(
                f"--via {self.via} with --backfill {batch}: {per_frame} variables a frame "
                f"(readings x --records-per-request), over TagoTiP's {MAX_VARIABLES} (§4.5.1)"
            )

    @functools.cached_property
    def retry_policy(self):
        return RetryPolicy.parse(self.retry)

    @functools.cached_property
    def outages(self):
        return parse_outages(self.outage)

    @functools.cached_property
    def backfill_policy(self):
        return Backfill.parse(self.backfill)

    @functools.cached_property
    def reconnect_policy(self):
        return Reconnect.parse(self.reconnect)

    @property
    def in_trouble(self) -> bool:
        """Devices retry or go offline: their reports need more than the schedule."""
        return self.retry_policy.retrying or bool(self.outages)

    @property
    def offered_rate(self) -> float:
        """Reports per second the whole fleet offers."""
        return self.devices / self.interval.mean


@dataclass(frozen=True)
class NetworkAccess:
    """What a network posts its devices' uplinks with: its network token, and the profile's
    authorization key (the official form's `authorization_token` [X])."""

    token: str
    authorization: str

    def __repr__(self) -> str:
        return "NetworkAccess(…)"


@dataclass(frozen=True)
class TipAccess:
    """Where a TagoTiP fleet pushes and what authorises it: the HTTP binding's URL and the
    profile's Authorization Hash (TagoTiP §4.3, derived from its authorization key). The hash
    is a credential: it is never shown."""

    url: str
    auth_hash: str
    mqtt: str = ""
    """The MQTT binding's host:port, for a fleet over MQTT."""
    udp: str = ""
    """The UDP binding's host:port, for a fleet over UDP (the TagoTiP/S one when sealed)."""
    authorization: str = ""
    """The profile's authorization key, which each device's TagoTiP/S key is derived from
    (TagoTiPs §2.4), for a fleet that seals its frames; a credential too."""
    tcp: str = ""
    """The TCP binding's host:port, for a fleet over TCP (plain or sealed: one port takes both)."""

    def __repr__(self) -> str:
        return "TipAccess(…)"


class Fleet:
    """Per-device schedule parameters in arrays; what names each device in a list (the only
    per-device objects)."""

    def __init__(self, config: FleetConfig, senders: Sequence[str]) -> None:
        if len(senders) != config.devices:
            raise FleetConfigError(f"{config.devices} devices but {len(senders)} senders")
        self.config = config
        self.senders = senders
        """What names each device to the target on the fleet's path: its device token
        (device path) or its serial (network path)."""
        rng = random.Random(config.seed)
        self.intervals = array("d", (config.interval.draw(rng) for _ in range(config.devices)))
        # A random phase in [0, interval): the fleet's first reports spread over one interval.
        self.phases = array("d", (rng.random() * i for i in self.intervals))

    def __len__(self) -> int:
        return self.config.devices

    def shard(self, index: int, count: int) -> range:
        """The devices worker `index` of `count` simulates: disjoint, together the whole fleet."""
        if not 0 <= index < count:
            raise FleetConfigError(f"worker index {index} is not in 0..{count - 1}")
        return range(index, len(self), count)

    def offered_rate(self, devices: Sequence[int] | range | None = None) -> float:
        chosen = range(len(self)) if devices is None else devices
        return math.fsum(1 / self.intervals[i] for i in chosen)
