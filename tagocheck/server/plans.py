"""Rate limiting as TagoIO documents it (facts file section 5), written here in code.

Hard limits count requests per profile and route in fixed windows aligned to the clock: a route
that hits its limit stays blocked until the next boundary. Data routes may also be limited per
device (`rpm` on the device), never above the hard limit. `--rate-window-seconds` shortens the
window for tests; the limits stay per window.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

# Requests per window for each plan and limited route: the facts file's hard-limits table.
AGGREGATE = "GET /data?query=aggregate"
NETWORK_INGEST = "POST /integration/network/data"
TAGOTIP_UPLINK = "TagoTiP uplink"  # PUSH (and HEAD over HTTP), per profile [C]
TAGOTIP_DOWNLINK = "TagoTiP downlink"  # PULL, per profile [C]
_TABLE = [
    (("GET /data", "POST /data"), (250, 5_000, 15_000)),
    (("PUT /data", "DELETE /data"), (60, 250, 1_000)),
    ((AGGREGATE,), (5, 10, 100)),
    (("POST /device", "DELETE /device/{id}"), (10, 250, 5_000)),
    (("GET /device",), (50, 100, 500)),
    (("GET /device/{id}", "GET /device/token/{device_id}"), (100, 1_000, 5_000)),
    (("PUT /device/{id}", "POST /device/token", "DELETE /device/token/{token}"), (50, 250, 2_000)),
    (("GET /info",), (60, 5_000, 10_000)),
    ((NETWORK_INGEST,), (60, 100, 500)),
    (("GET /device/{id}/chunk",), (100, 1_000, 15_000)),
    ((TAGOTIP_UPLINK, TAGOTIP_DOWNLINK), (60, 500, 1_000)),
]
BACKUPS = ("POST /device/{id}/data/backup", "POST /device/{id}/chunk/backup")
"""Backups: none on Free, 5 a minute on Starter and Scale (since 2026-04) [C]; past the limit
they are refused 403, not 429 [C]."""
BACKUPS_PER_WINDOW = 5
PLAN_NAMES = ("free", "starter", "scale")
PLANS: dict[str, dict[str, int]] = {
    plan: {route: figures[i] for routes, figures in _TABLE for route in routes}
    for i, plan in enumerate(PLAN_NAMES)
}
for _plan in ("starter", "scale"):
    PLANS[_plan].update(dict.fromkeys(BACKUPS, BACKUPS_PER_WINDOW))
PLANS["unlimited"] = {}
DEVICE_CAPS: dict[str, int | None] = {"free": 5, "starter": 100, "scale": 10_000, "unlimited": None}


@dataclass(frozen=True)
class TagoTipConnections:
    """TagoTiP's connection limits for a plan [C servers/rate-limits, transports/mqtt]."""

    per_ip: int
    mqtt_per_profile: int
    ttl_seconds: float
    idle_seconds: float
    expire: bool = True
    """Whether the TTL and idle timeout end connections (not under the no-ttl fault)."""


TAGOTIP_CONNECTIONS = {
    "free": TagoTipConnections(3, 10, 10, 5),
    "starter": TagoTipConnections(10, 50, 10, 5),
    "scale": TagoTipConnections(20, 500, 15, 5),
    "unlimited": TagoTipConnections(1_000_000, 1_000_000, 86_400, 86_400),
}


def tagotip_connections(
    plan: str,
    ttl_seconds: float | None = None,
    idle_seconds: float | None = None,
    faults: Collection[str] = (),
) -> TagoTipConnections:
    """The plan's TagoTiP connection limits, the TTL or idle timeout shortened when given (for
    tests: a 15-s TTL is long to wait for), neither enforced under the no-ttl fault; the MQTT
    and TCP bindings all hold to them."""
    limits = TAGOTIP_CONNECTIONS[plan]
    return dataclasses.replace(
        limits,
        ttl_seconds=ttl_seconds or limits.ttl_seconds,
        idle_seconds=idle_seconds or limits.idle_seconds,
        expire="no-ttl" not in faults,
    )


# Per-device soft limits: which key of the device's rpm applies to which route.
DEVICE_LIMIT_KEYS = {"POST /data": "data_input", "GET /data": "data_output"}


@dataclass(frozen=True)
class Throttled:
    retry_after: int

    @property
    def message(self) -> str:
        return f"Too many requests (Retry-After: {self.retry_after})"


class RateLimiter:
    """Counts requests per window; `early` models a target that throttles at half the limit."""

    def __init__(
        self,
        plan: str,
        window_seconds: float = 60,
        *,
        enabled: bool = True,
        early: bool = False,
        also_counts: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`also_counts` maps a route to another whose window its requests count in as well
        (the open question of network uplinks and POST /data's limit)."""
        self.limits = PLANS[plan]
        self.also_counts = also_counts or {}
        self.window = window_seconds
        self.enabled = enabled
        self.early = early
        self.clock = clock
        self._window_index = -1
        self._counts: dict[tuple[str, str], int] = {}

    def _effective(self, limit: int) -> int:
        return max(1, limit // 2) if self.early else limit

    def check(
        self, route: str, device: str | None = None, device_rpm: int | None = None
    ) -> Throttled | None:
        """Count one request; a Throttled says it is over a limit in the current window."""
        if not self.enabled:
            return None
        now = self.clock()
        index = math.floor(now / self.window)
        if index != self._window_index:
            self._window_index = index
            self._counts.clear()
        limits = []
        hard = self.limits.get(route)
        if hard is not None:
            limits.append((("profile", route), hard))
        shared = self.also_counts.get(route)
        if shared is not None and shared in self.limits:
            limits.append((("profile", shared), self.limits[shared]))
        if device is not None and device_rpm is not None:
            soft = device_rpm if hard is None else min(device_rpm, hard)
            limits.append(((device, route), soft))
        over = False
        for key, limit in limits:
            seen = self._counts.get(key, 0) + 1
            self._counts[key] = seen
            over = over or seen > self._effective(limit)
        if not over:
            return None
        return Throttled(max(1, math.ceil((index + 1) * self.window - now)))
