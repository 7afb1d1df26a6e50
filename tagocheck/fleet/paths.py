"""The fleet a path can carry: how many reports a minute the plan lets through the route the
fleet's reports go to, and how many devices that is at the fleet's interval.

The device path posts POST /data (each device its own token), the network path POST
/integration/network/data (one network token for all): both are limited per profile and calendar
minute, and the network route's figure is far lower (60 / 100 / 500 against 250 / 5,000 /
15,000), so a fleet that fits through its own tokens may not fit through its network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tagocheck import ratelimits

NETWORK_INGEST = "POST /integration/network/data"
NETWORK_PATH = NETWORK_INGEST.partition(" ")[2]
ROUTES = {"device": "POST /data", "network": NETWORK_INGEST}
NAMES = {
    "device": "device path: each device posts POST /data with its own token",
    "network": "network path: one network token posts every uplink to "
    "POST /integration/network/data, naming the device by its serial",
}
REPORT_WORD = {"device": "reports", "network": "uplinks"}


@dataclass(frozen=True)
class PathLimit:
    via: str
    route: str
    plan: str
    per_minute: int | None
    """The plan's limit for the path's route; None where the plan has none."""
    offered_per_minute: float
    interval_seconds: float
    """The devices' mean interval."""
    devices: int

    @property
    def carried(self) -> int | None:
        """The most devices at this interval whose reports fit the limit."""
        if self.per_minute is None:
            return None
        return math.floor(self.per_minute * self.interval_seconds / 60 + 1e-9)

    @property
    def fits(self) -> bool:
        return self.per_minute is None or self.offered_per_minute <= self.per_minute

    def sentence(self) -> str:
        """ "At most 500 uplinks a minute: 10,000 devices every 900 s offer 667" and its like."""
        word = REPORT_WORD[self.via]
        offered = (
            f"{self.devices:,} devices every {self.interval_seconds:g} s offer "
            f"{self.offered_per_minute:,.0f}"
        )
        if self.per_minute is None:
            return (
                f"plan {self.plan} sets no limit on {self.route}: {offered} {word} a minute, "
                "none refused for the plan's sake"
            )
        return (
            f"at most {self.per_minute:,} {word} a minute on plan {self.plan} ({self.route}): "
            f"{offered}; at most {self.carried:,} devices at that interval fit"
        )


def path_limit(
    plan: str, via: str, devices: int, offered_per_second: float, interval_seconds: float
) -> PathLimit:
    route = ROUTES[via]
    limits = ratelimits.rate_limits()
    per_minute = limits.per_minute(plan, route) if plan in limits.plans else None
    return PathLimit(
        via, route, plan, per_minute, offered_per_second * 60, interval_seconds, devices
    )
