"""The fleet a path can carry: how many reports a minute the plan lets through the route the
fleet's reports go to, and how many devices that is at the fleet's interval.

The device path posts POST /data (each device its own token), the network path POST
/integration/network/data (one network token for all): both are limited per profile and calendar
minute, and the network route's figure is far lower (60 / 100 / 500 against 250 / 5,000 /
15,000), so a fleet that fits through its own tokens may not fit through its network. The TagoTiP
path (`tagotip-http`) sends each device's frames to TagoTiP's HTTP binding, authorised by the
profile's hash and naming the device by its serial; its uplinks have their own per-profile
limit (60 / 500 / 1,000 a minute: schemas/tagotip-limits.json).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tagocheck.fleet.model import TAGOTIP_PATHS
from tagocheck.spec import ratelimits
from tagocheck.spec.tagotip import tagotip_limits
from tagocheck.tagotip import bindings, http_binding

NETWORK_INGEST = "POST /integration/network/data"
NETWORK_PATH = NETWORK_INGEST.partition(" ")[2]
TAGOTIP_HTTP = bindings.HTTP
TAGOTIP_HTTP_ROUTE = f"POST {http_binding.PUSH_PATH}{{serial}}"
TAGOTIP_MQTT = bindings.MQTT
TAGOTIP_MQTT_ROUTE = "PUBLISH $tip/{serial}/push"
TAGOTIP_UDP = bindings.UDP
TAGOTIP_UDP_ROUTE = "DATAGRAM PUSH|{serial}"
TAGOTIP_TCP = bindings.TCP
TAGOTIP_TCP_ROUTE = "TCP PUSH|{serial}"
ROUTES = {
    "device": "POST /data",
    "network": NETWORK_INGEST,
    TAGOTIP_HTTP: TAGOTIP_HTTP_ROUTE,
    TAGOTIP_MQTT: TAGOTIP_MQTT_ROUTE,
    TAGOTIP_UDP: TAGOTIP_UDP_ROUTE,
    TAGOTIP_TCP: TAGOTIP_TCP_ROUTE,
}
SEALED_ROUTES = {
    TAGOTIP_HTTP: f"POST {http_binding.ENVELOPE_PATH}",
    TAGOTIP_MQTT: "PUBLISH $tips/{serial}/push",
    TAGOTIP_UDP: TAGOTIP_UDP_ROUTE,  # the same frame, to the TagoTiP/S port
    TAGOTIP_TCP: TAGOTIP_TCP_ROUTE,  # the same connection, told sealed by its first byte
}
"""Where a fleet's frames go sealed in TagoTiP/S (--tagotip-envelope), binding by binding."""
SEALED_NAMES = {
    TAGOTIP_HTTP: "TagoTiP path (HTTP binding, sealed): each device posts each frame sealed in "
    "a TagoTiP/S envelope ({suite}) to POST /v1/tips, the envelope naming the profile and device",
    TAGOTIP_MQTT: "TagoTiP path (MQTT binding, sealed): each device connects with the profile "
    "hash's halves and publishes each frame sealed in a TagoTiP/S envelope ({suite}) to "
    "$tips/{{serial}}/push, its ACKs sealed on $tips/{{serial}}/ack",
    TAGOTIP_UDP: "TagoTiP path (UDP, sealed): each device sends each frame sealed in a TagoTiP/S "
    "envelope ({suite}) as one datagram to the TagoTiP/S port, its ACK the datagram back",
    TAGOTIP_TCP: "TagoTiP path (TCP, sealed): each device keeps its own connection and sends "
    "each frame sealed in a TagoTiP/S envelope ({suite}), length-prefixed, its ACK the same way",
}
"""NAMES for a fleet that seals its frames, `{suite}` its cipher suite."""
TAGOTIP_ROUTES = (
    TAGOTIP_HTTP_ROUTE,
    TAGOTIP_MQTT_ROUTE,
    TAGOTIP_UDP_ROUTE,
    TAGOTIP_TCP_ROUTE,
    SEALED_ROUTES[TAGOTIP_HTTP],
    SEALED_ROUTES[TAGOTIP_MQTT],
)
"""The routes TagoTiP's uplink limit counts (60 / 500 / 1,000 a minute, every binding, sealed
or not)."""


def route_of(via: str, envelope: str = "none") -> str:
    """The route a fleet's reports go to: its path's, or where its binding takes TagoTiP/S
    envelopes when it seals them."""
    return ROUTES[via] if envelope == "none" else SEALED_ROUTES[via]


NAMES = {
    "device": "device path: each device posts POST /data with its own token",
    "network": "network path: one network token posts every uplink to "
    "POST /integration/network/data, naming the device by its serial",
    TAGOTIP_HTTP: "TagoTiP path (HTTP binding): each device pushes its frames to "
    "POST /v1/tip/{serial} on the TagoTiP endpoint, authorised by the profile's hash",
    TAGOTIP_MQTT: "TagoTiP path (MQTT binding): each device connects with the profile hash's "
    "halves and publishes its frames to $tip/{serial}/push, its ACKs on $tip/{serial}/ack",
    TAGOTIP_UDP: "TagoTiP path (UDP): each device sends each whole frame (PUSH|!N|hash|serial|"
    "body) as one datagram from its own socket, its ACK the datagram back",
    TAGOTIP_TCP: "TagoTiP path (TCP): each device keeps its own connection, sending each whole "
    "frame (PUSH|!N|hash|serial|body) as a line and reading its ACK line back",
}
REPORT_WORD = {
    "device": "reports",
    "network": "uplinks",
    TAGOTIP_HTTP: "uplinks",
    TAGOTIP_MQTT: "uplinks",
    TAGOTIP_UDP: "uplinks",
    TAGOTIP_TCP: "uplinks",
}
SERIAL_PATHS = ("network", *TAGOTIP_PATHS)
"""The paths that name a device by its serial, not its token."""


@dataclass(frozen=True)
class PathLimit:
    via: str
    route: str
    plan: str
    per_window: int | None
    """The plan's limit for the path's route (a window's); None where the plan has none."""
    offered_per_window: float
    interval_seconds: float
    """The devices' mean interval."""
    devices: int
    window_seconds: float = 60.0
    """The plan's window: a minute, or the embedded target's shorter one for tests."""

    @property
    def carried(self) -> int | None:
        """The most devices at this interval whose reports fit the limit."""
        if self.per_window is None:
            return None
        return math.floor(self.per_window * self.interval_seconds / self.window_seconds + 1e-9)

    @property
    def fits(self) -> bool:
        return self.per_window is None or self.offered_per_window <= self.per_window

    @property
    def window_word(self) -> str:
        return "a minute" if self.window_seconds == 60 else f"in a {self.window_seconds:g}-s window"

    def sentence(self) -> str:
        """ "At most 500 uplinks a minute: 10,000 devices every 900 s offer 667" and its like."""
        word = REPORT_WORD[self.via]
        offered = (
            f"{self.devices:,} devices every {self.interval_seconds:g} s offer "
            f"{self.offered_per_window:,.0f}"
        )
        if self.per_window is None:
            return (
                f"plan {self.plan} sets no limit on {self.route}: {offered} {word} "
                f"{self.window_word}, none refused for the plan's sake"
            )
        return (
            f"at most {self.per_window:,} {word} {self.window_word} on plan {self.plan} "
            f"({self.route}): {offered}; at most {self.carried:,} devices at that interval fit"
        )


def path_limit(
    plan: str,
    via: str,
    devices: int,
    offered_per_second: float,
    interval_seconds: float,
    window_seconds: float = 60.0,
    envelope: str = "none",
) -> PathLimit:
    route = route_of(via, envelope)
    if via in TAGOTIP_PATHS:
        plans = tagotip_limits().plans
        per_window = plans[plan].uplink_per_minute if plan in plans else None
    else:
        limits = ratelimits.rate_limits()
        per_window = limits.per_minute(plan, route) if plan in limits.plans else None
    return PathLimit(
        via,
        route,
        plan,
        per_window,
        offered_per_second * window_seconds,
        interval_seconds,
        devices,
        window_seconds,
    )
