"""The `ratelimit` scenario's traffic: each documented limit driven past its figure, window after
window, so the ledger can tell where the target's enforcement differs from the plan.

Every probe sends `factor` times its limit per window, evenly spread. Windows alternate between
two groups: even windows drive the profile's per-route limits; odd windows drive the limits that
would muddle them if they ran at the same time: a device's own rpm (its 429s would look like the
profile throttling early) and the aggregate query (whether it also counts towards GET /data's limit
is not documented [?]).

Routes that create or delete devices or tokens are not driven: doing so at their limit would
create hundreds of devices a minute, past every plan's device cap.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tagocheck import ratelimits
from tagocheck.fleet.schedule import due_by

PROFILE_WINDOWS, DEVICE_WINDOWS = 0, 1
NOT_DRIVEN = {
    "POST /device": "creates devices",
    "DELETE /device/{id}": "deletes devices",
    "POST /device/token": "creates tokens",
    "DELETE /device/token/{token}": "deletes tokens",
    "POST /integration/network/data": "network ingest: this fleet posts with device tokens",
}


@dataclass(frozen=True)
class Probe:
    label: str
    """The limit it drives, as the ledger names it: a route, or a route and query."""
    method: str
    path: str
    token: str
    token_kind: str
    limit: int
    group: int
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    device: int | None = None
    """The device whose own limit this drives (its ledger scope), if any."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Shot(NamedTuple):
    probe: int
    due: float


def plan_probes(
    plan: str,
    *,
    profile_token: str,
    device: tuple[str, str],
    record_id: str,
    rpm_device: tuple[int, str] | None = None,
    rpm: int = 0,
) -> list[Probe]:
    """The probes of `plan`'s limits; device = (id, token) of the device the data routes use,
    record_id one of its records (for PUT /data), rpm_device = (index, token) of a device whose
    data_input and data_output rpm is `rpm`."""
    limits = ratelimits.rate_limits()
    device_id, device_token = device
    requests = [
        ("POST /data", "device-full", {}, [{"variable": "probe", "value": 1}]),
        ("GET /data", "device-full", {"variables": "probe", "qty": 1}, None),
        ("PUT /data", "device-full", {}, [{"id": record_id, "value": 2}]),
        ("DELETE /data", "device-full", {"variables": "probe_nothing", "qty": 1}, None),
        ("GET /device", "profile", {"amount": 1}, None),
        ("GET /device/{id}", "profile", {}, None),
        ("GET /device/token/{device_id}", "profile", {"amount": 1}, None),
        ("PUT /device/{id}", "profile", {}, {"tags": []}),
        ("GET /info", "device-full", {}, None),
    ]
    probes = []
    for route, kind, params, body in requests:
        limit = limits.per_minute(plan, route)
        if limit is None:
            continue
        method, _, template = route.partition(" ")
        path = template.replace("{id}", device_id).replace("{device_id}", device_id)
        token = profile_token if kind == "profile" else device_token
        probes.append(Probe(route, method, path, token, kind, limit, PROFILE_WINDOWS, params, body))
    aggregate = {
        "query": "aggregate",
        "variables": "probe",
        "function": "sum",
        "start_date": "1 day",
    }
    limit = limits.per_minute(plan, "GET /data", {"query": "aggregate"})
    if limit is not None:
        label = "GET /data?query=aggregate"
        probes.append(
            Probe(
                label, "GET", "/data", device_token, "device-full", limit, DEVICE_WINDOWS, aggregate
            )
        )
    if rpm_device is not None and rpm > 0:
        index, token = rpm_device
        probes.append(
            Probe(
                "POST /data",
                "POST",
                "/data",
                token,
                "device-full",
                rpm,
                DEVICE_WINDOWS,
                body=[{"variable": "probe", "value": 1}],
                device=index,
            )
        )
        probes.append(
            Probe(
                "GET /data",
                "GET",
                "/data",
                token,
                "device-full",
                rpm,
                DEVICE_WINDOWS,
                {"variables": "probe", "qty": 1},
                device=index,
            )
        )
    return probes


def first_probed_window(start: float, window: float) -> float:
    """When probing begins for a run started at `start`: the next window boundary."""
    return math.floor(start / window) * window + window


class ProbeSchedule:
    """When each probe's next request is due: `factor` x its limit per window of its group.

    Probing starts with the first whole window after `start`: the window the run starts in holds
    requests the ledger never saw (the run's setup writes a record and sets a device's rpm through
    the API), so the target's count there is not the ledger's, and a 429 in it would look early.
    """

    def __init__(self, probes: list[Probe], factor: float, window: float, start: float) -> None:
        self.probes = probes
        self.window = window
        self.spacing = [window / max(1.0, factor * p.limit) for p in probes]
        first = first_probed_window(start, window)
        self.heap: list[tuple[float, int]] = [
            (self._in_group(i, first + self.spacing[i] * (i / max(1, len(probes)))), i)
            for i in range(len(probes))
        ]
        heapq.heapify(self.heap)

    def _in_group(self, index: int, when: float) -> float:
        """`when`, or the start of the next window of the probe's group if `when` is not in one."""
        window = math.floor(when / self.window)
        if window % 2 == self.probes[index].group:
            return when
        return (window + 1) * self.window + self.spacing[index] / 2

    def next_due(self) -> float | None:
        return self.heap[0][0] if self.heap else None

    def pop_one(self, now: float) -> Shot | None:
        """The earliest probe request due by `now`, the probe rescheduled for its next; or None."""
        if not self.heap or self.heap[0][0] > now:
            return None
        due, index = self.heap[0]
        heapq.heapreplace(self.heap, (self._in_group(index, due + self.spacing[index]), index))
        return Shot(index, due)

    def pop_due(self, now: float, limit: int | None = None) -> list[Shot]:
        return due_by(self.pop_one, now, limit)
