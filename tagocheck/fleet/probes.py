"""The `ratelimit` scenario's traffic: each documented limit driven past its figure, window after
window, so the ledger can tell where the target's enforcement differs from the plan.

Every probe sends `factor` times its limit per window, evenly spread, in the windows of its group;
the groups take turns. Three kinds of probe never share a group: the profile's per-route limits;
the limits that would muddle them if they ran at the same time, a device's own rpm (its 429s would
look like the profile throttling early) and the aggregate query (whether it also counts towards
GET /data's limit is not documented [?]); and the network's.

With the network path (`--via network`) the network's group drives its route
past its own limit (60 / 100 / 500 a minute), and beside it POST /data at its limit less half the
network's. Whether network uplinks also count in POST /data's window is an open question [?]: if
they do, POST /data is throttled in those windows by about half the network's limit; if not, none
of it is (network_sharing tells which).

Routes that create or delete devices or tokens are not driven: doing so at their limit would
create hundreds of devices a minute, past every plan's device cap.

A window asks at most `budget` requests a second of the generator (`share_windows`): the profile's
limits, driven together, can ask more than one Locust process can send while it judges every
answer (a Starter plan's at 1.5x: about 450/s), and a probe the generator cannot keep up with never
gets past its limit, so none of its windows is judged. Limits beyond the budget get windows of
their own; a run then needs more windows to judge every limit, and says how many.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from tagocheck.fleet.paths import NETWORK_INGEST, NETWORK_PATH
from tagocheck.fleet.schedule import due_by
from tagocheck.spec import ratelimits
from tagocheck.words import counted

PROFILE_WINDOWS, DEVICE_WINDOWS, NETWORK_WINDOWS = 0, 1, 2
BESIDE_UPLINKS = "POST /data beside network uplinks"
"""The ledger's name for POST /data sent in the network's windows: held to no limit of its own
(it is sent below POST /data's), read by network_sharing."""
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
    per_window: int | None = None
    """Requests per window whatever the probe factor (the probe beside the network's)."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def requests_per_window(self, factor: float) -> float:
        """Requests this probe sends in each window of its group."""
        return self.per_window or factor * self.limit

    def rate(self, factor: float, window: float) -> float:
        """Requests a second this probe asks for in its windows."""
        return self.requests_per_window(factor) / window


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
    network: tuple[str, str, str] | None = None,
) -> list[Probe]:
    """The probes of `plan`'s limits; device = (id, token) of the device the data routes use,
    record_id one of its records (for PUT /data), rpm_device = (index, token) of a device whose
    data_input and data_output rpm is `rpm`; network = (network token, authorization key,
    serial of a device) drives the network route."""
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
    if network is not None:
        probes += _network_probes(plan, device_token, *network)
    return probes


def _network_probes(plan: str, device_token: str, token: str, key: str, serial: str) -> list[Probe]:
    limits = ratelimits.rate_limits()
    own = limits.per_minute(plan, NETWORK_INGEST)
    data = limits.per_minute(plan, "POST /data")
    if own is None:
        return []
    probes = [
        Probe(
            NETWORK_INGEST,
            "POST",
            NETWORK_PATH,
            token,
            "network",
            own,
            NETWORK_WINDOWS,
            {"authorization_token": key},
            [{"variable": "probe", "value": 1, "metadata": {"serial": serial}}],
        )
    ]
    if data is not None:
        probes.append(
            Probe(
                BESIDE_UPLINKS,
                "POST",
                "/data",
                device_token,
                "device-full",
                data,
                NETWORK_WINDOWS,
                body=[{"variable": "probe", "value": 1}],
                per_window=data - own // 2,
            )
        )
    return probes


def share_windows(probes: list[Probe], factor: float, window: float, budget: float) -> list[Probe]:
    """The probes with their window groups numbered 0, 1, ...: each kind's probes (the profile's,
    a device's own and the aggregate's, the network's) packed into as few groups as hold at most
    `budget` requests a second each (first fit, largest first), one kind never with another. A
    probe past the budget alone has a group to itself; the network's two probes stay together
    (POST /data beside the uplinks is what the network's windows judge)."""
    groups: list[list[Probe]] = []
    for kind in (PROFILE_WINDOWS, DEVICE_WINDOWS, NETWORK_WINDOWS):
        mine = [p for p in probes if p.group == kind]
        if kind == NETWORK_WINDOWS:
            groups += [mine] if mine else []
            continue
        bins: list[list[Probe]] = []
        for probe in sorted(mine, key=lambda p: -p.rate(factor, window)):
            need = probe.rate(factor, window)
            fits = (b for b in bins if sum(p.rate(factor, window) for p in b) + need <= budget)
            chosen = next(fits, None)
            if chosen is None:
                bins.append([probe])
            else:
                chosen.append(probe)
        groups += bins
    placed = {id(p): number for number, group in enumerate(groups) for p in group}
    return [replace(p, group=placed[id(p)]) for p in probes]


def window_groups(probes: list[Probe]) -> int:
    """How many windows one round of every probe takes: at least two, so that a group's window
    is never followed by another of its own, where its late answers would be counted."""
    return max([2, *(p.group + 1 for p in probes)])


def probing_rate(probes: list[Probe], factor: float, window: float) -> float:
    """The requests a second the probes ask for, averaged over a round of their windows."""
    return sum(p.rate(factor, window) for p in probes) / window_groups(probes)


def network_sharing(ledger: Any, probes: list[Probe], plan: str) -> dict[str, Any]:
    """Whether network uplinks count in POST /data's window, from the network's windows: in
    each, POST /data was sent at its limit less half the network's. Throttled there beyond the
    ledger's boundary slack: they count; never throttled: they do not. Windows where the network
    route itself was not held to its limit cannot tell (nothing is being counted)."""
    question = "Do network uplinks count in POST /data's window?"
    beside = next((p for p in probes if p.label == BESIDE_UPLINKS), None)
    own = next((p for p in probes if p.label == NETWORK_INGEST), None)
    found: dict[str, Any] = {"question": question, "route": NETWORK_INGEST, "plan": plan}
    if own is None or beside is None:
        return {**found, "answer": "not judged", "why": "the plan has no limit to probe"}
    found["limit"] = own.limit
    windows = ledger.windows_of(BESIDE_UPLINKS)
    network = ledger.windows_of(NETWORK_INGEST)
    judged = [
        (w, network[i])
        for i, w in windows.items()
        if i in network and network[i].throttled > 0 and w.sent >= beside.per_window * 0.9
    ]
    found["windows"] = len(judged)
    if not judged:
        leaked = any(n.accepted > own.limit for n in network.values())
        why = (
            "the network route was not held to its limit, so nothing was counted"
            if leaked
            else "no whole network window was probed (run over at least four windows)"
        )
        return {**found, "answer": "not judged", "why": why}
    throttled = [w.throttled - w.near_boundary for w in (pair[0] for pair in judged)]
    counted_in = sum(1 for t in throttled if t > 0)
    if counted_in == 0:
        answer, why = (
            "no",
            (
                f"POST /data sent {beside.per_window:,} a window beside the uplinks was never "
                f"throttled in {counted(len(judged), 'window')}"
            ),
        )
    elif counted_in == len(judged):
        answer, why = (
            "yes",
            (
                f"POST /data sent {beside.per_window:,} a window, below its limit of "
                f"{beside.limit:,}, was throttled beside the uplinks in all "
                f"{counted(len(judged), 'window')}"
            ),
        )
    else:
        answer, why = (
            "unclear",
            (
                f"POST /data beside the uplinks was throttled in {counted_in} of "
                f"{counted(len(judged), 'window')}"
            ),
        )
    return {**found, "answer": answer, "why": why}


def first_probed_window(start: float, window: float) -> float:
    """When probing begins for a run started at `start`: the next window boundary."""
    return math.floor(start / window) * window + window


class ProbeSchedule:
    """When each probe's next request is due: `factor` x its limit per window of its group.

    Probing starts with the first whole window after `start`: the window the run starts in holds
    requests the ledger never saw (the run's setup writes a record and sets a device's rpm through
    the API), so the target's count there is not the ledger's, and a 429 in it would look early.

    A request the generator reaches only after its window ended is not sent: it would be counted
    in the next window, another group's, where the target adds it to whatever limit that window
    drives (found in CI: POST /data beside the network's uplinks, sent late into POST /data's own
    window, made the target's 429s there look early). `on_late(probe, due)` is told of each.
    """

    def __init__(
        self,
        probes: list[Probe],
        factor: float,
        window: float,
        start: float,
        on_late: Callable[[Probe, float], None] | None = None,
    ) -> None:
        self.probes = probes
        self.window = window
        self.on_late = on_late
        self.groups = window_groups(probes)
        self.spacing = [window / max(1.0, p.requests_per_window(factor)) for p in probes]
        first = first_probed_window(start, window)
        self.heap: list[tuple[float, int]] = [
            (self._in_group(i, first + self.spacing[i] * (i / max(1, len(probes)))), i)
            for i in range(len(probes))
        ]
        heapq.heapify(self.heap)

    def _in_group(self, index: int, when: float) -> float:
        """`when`, or the start of the next window of the probe's group if `when` is not in one."""
        window = math.floor(when / self.window)
        ahead = (self.probes[index].group - window) % self.groups
        if ahead == 0:
            return when
        return (window + ahead) * self.window + self.spacing[index] / 2

    def next_due(self) -> float | None:
        return self.heap[0][0] if self.heap else None

    def pop_one(self, now: float) -> Shot | None:
        """The earliest probe request due by `now` within its window, the probe rescheduled for
        its next; or None. Requests whose window is over are passed by (see the class)."""
        current = math.floor(now / self.window)
        while self.heap and self.heap[0][0] <= now:
            due, index = self.heap[0]
            heapq.heapreplace(self.heap, (self._in_group(index, due + self.spacing[index]), index))
            if math.floor(due / self.window) == current:
                return Shot(index, due)
            if self.on_late is not None:
                self.on_late(self.probes[index], due)
        return None

    def pop_due(self, now: float, limit: int | None = None) -> list[Shot]:
        return due_by(self.pop_one, now, limit)
