"""The ratelimit scenario's side of a run: the limits its windows are held to, the probes it
sets up (a record to edit, a device with its own rpm), and, on the network path, whether the
uplinks count in POST /data's window."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import gevent

from tagocheck.fleet.ledger import PROFILE
from tagocheck.fleet.model import Fleet, FleetConfig
from tagocheck.fleet.paths import NETWORK_INGEST, TAGOTIP_ROUTES
from tagocheck.fleet.probes import (
    BESIDE_UPLINKS,
    NOT_DRIVEN,
    Probe,
    network_sharing,
    plan_probes,
    share_windows,
)
from tagocheck.judge import checks
from tagocheck.load.ending import RunError
from tagocheck.load.provisioning import Provisioning
from tagocheck.spec import ratelimits
from tagocheck.spec.tagotip import tagotip_limits
from tagocheck.wire.client import TagoClient


@dataclass
class Limits:
    """The limit each ledger window is held to: the plan's for the profile, a device's own rpm
    (set with the device, for the session) for that device."""

    plan: str = ratelimits.NO_PLAN
    devices: dict[tuple[str, str], int] = field(default_factory=dict)

    def hold_devices_to(self, rpm: int, config: FleetConfig) -> None:
        """--device-rpm on the device path: every device's POST /data held to its own rpm."""
        if rpm and config.via == "device":
            for index in range(config.devices):
                self.devices[(str(index), "POST /data")] = rpm

    def limit_for(self, scope: str, route: str) -> int | None:
        if scope != PROFILE:
            return self.devices.get((scope.removeprefix("device:"), route))
        if self.plan == ratelimits.NO_PLAN:
            return None
        if route in TAGOTIP_ROUTES:  # TagoTiP's uplinks: their own per-profile limit
            plan = tagotip_limits().plans.get(self.plan)
            return None if plan is None else plan.uplink_per_minute
        path, _, query = route.partition("?")
        params = dict(part.split("=", 1) for part in query.split("&")) if query else {}
        try:
            return ratelimits.rate_limits().per_minute(self.plan, path, params)
        except KeyError:
            return None


def not_driven(fleet: Fleet | None) -> dict[str, str]:
    """The routes the ratelimit scenario leaves alone, and why."""
    if fleet is not None and fleet.config.via == "network":
        return {k: v for k, v in NOT_DRIVEN.items() if k != NETWORK_INGEST}
    return NOT_DRIVEN


def set_up_probes(
    setup: Provisioning, fleet: Fleet, limits: Limits, options: Any, window: float
) -> list[Probe]:
    """The ratelimit scenario's probes, with a record to edit and a device with its own rpm,
    shared out over windows of at most --probe-rate requests a second."""
    device_rpm = options.device_rpm
    if len(setup.devices) < 2:
        raise RunError("the ratelimit scenario needs --devices 2 or more")
    first, second = setup.devices[0], setup.devices[1]
    if setup.profile_token:
        first = setup.create_mutable_device()
    record = _probe_record(setup.client, first.token)
    plan_limit = ratelimits.rate_limits().per_minute(limits.plan, "POST /data") or 0
    rpm = device_rpm or min(20, plan_limit)
    rpm_device = None
    if setup.profile_token and rpm:
        done = setup.client.request(
            "PUT",
            f"/device/{second.id}",
            token=setup.profile_token,
            token_kind="profile",
            json={"rpm": {"data_input": rpm, "data_output": rpm}},
        )
        if done.ok:
            rpm_device = (1, second.token)
            limits.devices[("1", "POST /data")] = rpm
            limits.devices[("1", "GET /data")] = rpm
    network = None
    if fleet.config.via == "network" and setup.network is not None:
        network = (setup.network.token, setup.network.authorization, fleet.senders[0])
    planned = plan_probes(
        limits.plan,
        profile_token=setup.profile_token or "",
        device=(first.id, first.token),
        record_id=record,
        rpm_device=rpm_device,
        rpm=rpm,
        network=network,
    )
    return share_windows(planned, options.probe_factor, window, options.probe_rate)


def _probe_record(client: TagoClient, token: str) -> str:
    """A record for PUT /data to edit: written, then read back for its id."""
    sent = _setup_request(client, "POST", "/data", token, json=[{"variable": "probe", "value": 1}])
    read = _setup_request(client, "GET", "/data", token, params={"variables": "probe", "qty": 1})
    if sent.ok and read.ok and read.result:
        return read.result[0]["id"]
    failed, what = (sent, "POST /data") if not sent.ok else (read, "GET /data")
    said = f": {failed.message}" if failed.message else ""
    if failed is read and read.ok:
        said = ": no record came back"
    raise RunError(f"could not write and read a probe record: {what} HTTP {failed.status}{said}")


def _setup_request(
    client: TagoClient, method: str, path: str, token: str, tries: int = 8, **kwargs: Any
):
    """A set-up request with a device token; a server error is tried again, as the official
    SDKs retry 5xx (a failing target fails the run's probes, not its set-up)."""
    for _ in range(tries):
        reply = client.request(method, path, token=token, token_kind="device-full", **kwargs)
        if reply.verdict.outcome != checks.SERVER_ERROR:
            break
        gevent.sleep(0.2)
    return reply


def judge_network_sharing(ledger: Any, probes: list[Probe], limits: Limits) -> dict[str, Any]:
    """On the network path: whether uplinks count in POST /data's window. POST /data sent
    beside the uplinks is always counted in POST /data's window by the target, and the uplinks
    too when they share it: their requests near a boundary are POST /data's slack (else one
    request a boundary away would look like an early 429)."""
    found = network_sharing(ledger, probes, limits.plan)
    shared = {BESIDE_UPLINKS} | ({NETWORK_INGEST} if found["answer"] != "no" else set())
    ledger.counted_with["POST /data"] = shared
    beside = next((p for p in probes if p.label == BESIDE_UPLINKS), None)
    if found["answer"] == "yes" and beside is not None and not _early_apart(ledger, limits):
        counted_in = ("POST /data", BESIDE_UPLINKS, NETWORK_INGEST)
        for route in counted_in:  # either side may get the shared window's 429
            ledger.also_limited_by[route] = (beside.limit, counted_in)
    return found


def _early_apart(ledger: Any, limits: Limits) -> bool:
    """POST /data throttled early in a window without uplinks: its limit is broken on its own,
    so a full shared window explains none of the 429s beside the uplinks (a target throttling
    at half the limit otherwise looks like one that shares its window)."""
    with_uplinks = set(ledger.windows_of(NETWORK_INGEST))
    return any(
        f.kind == "early-throttle"
        and f.route == "POST /data"
        and math.floor(f.window_start / ledger.window) not in with_uplinks
        for f in ledger.findings(limits.limit_for)
    )
