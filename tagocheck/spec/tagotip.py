"""TagoTiP's limits per plan (schemas/tagotip-limits.json), for the checks and the preflight."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from tagocheck.spec.schemas import load_contract_data


@dataclass(frozen=True)
class TagoTipPlan:
    uplink_per_minute: int
    downlink_per_minute: int
    connections_per_ip: int
    mqtt_connections_per_profile: int
    mqtt_subscriptions_per_minute: int
    ttl_seconds: float
    idle_seconds: float


@dataclass(frozen=True)
class TagoTipLimits:
    frame_bytes: int
    plans: dict[str, TagoTipPlan]
    ping_counts_as_uplink: dict[str, bool]


@cache
def tagotip_limits() -> TagoTipLimits:
    data = load_contract_data("tagotip-limits.json", "tagotip-limits")
    return TagoTipLimits(
        data["frame_bytes"],
        {name: TagoTipPlan(**figures) for name, figures in data["plans"].items()},
        data["ping_counts_as_uplink"],
    )
