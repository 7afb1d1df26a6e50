"""The throwaway fleet: the devices and tokens a contract run makes for itself, and unmakes.

Every call here is judged like any other (the client records its findings on its route), but a
deviation in set-up never takes the suite down: each step goes on with what the target did (the
`deviceID` key, a token looked up when the create answer had none, a listing without `fields`),
and a step that truly cannot go on skips the tests that need it with "blocked by F3: <line>",
naming the finding that blocked them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from tagocheck.judge.findings import VIOLATION, Finding, rank
from tagocheck.judge.recorder import ContractViolation, Recorder
from tagocheck.spec import permissions, routes
from tagocheck.wire.client import Reply, TagoClient

PREFIX = "tagocheck-"
SWEEP_AGE_SECONDS = 86400
DEVICE_ID_KEYS = ("device_id", "deviceID", "id")


@dataclass
class Device:
    id: str
    token: str = field(repr=False)
    serial: str = ""
    tokens: dict[str, str] = field(default_factory=dict, repr=False)


class Blocked(Exception):
    """A set-up step cannot go on; carries the finding that stopped it."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(f"not judged: blocked by {finding.id}: {finding.line()}")
        self.finding = finding


def route_basis(route_id: str | None) -> str:
    """The source label of a route's existence (the route table's basis)."""
    table = routes.route_table()
    return table[route_id].basis if route_id in table.ids else "?"


def blocked(finding: Finding) -> None:
    """Skip the current test, naming the finding that stopped its set-up."""
    pytest.skip(f"not judged: blocked by {finding.id}: {finding.line()}")


def fail_with(*findings: Finding) -> None:
    """Fail the current test with findings the test itself made."""
    __tracebackhide__ = True
    raise ContractViolation("\n".join(f.line() for f in findings), findings)


@dataclass
class Fleet:
    """Devices and tokens made for this run; all in `created` is deleted at the end."""

    client: TagoClient = field(repr=False)
    target: Any
    prefix: str
    a: Device
    b: Device
    created: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Fleet(prefix={self.prefix!r}, target={self.target!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    @property
    def recorder(self) -> Recorder:
        return self.client.recorder

    def profile(self, method: str, path: str, **kwargs: Any) -> Reply:
        return self.client.request(
            method, path, token=self.target.profile_token, token_kind="profile", **kwargs
        )

    def as_a(self, method: str, path: str = "/data", **kwargs: Any) -> Reply:
        """A request with device A's full token."""
        return self.client.request(
            method, path, token=self.a.token, token_kind="device-full", **kwargs
        )

    # -- what set-up needs from an answer

    def stopper(self, reply: Reply, purpose: str) -> Finding:
        """The finding that explains why `reply` cannot serve `purpose`: the answer's own most
        serious finding, else a refusal of a request the suite holds to be well formed."""
        if reply.findings:
            return min(reply.findings, key=lambda f: rank(f.severity))
        return self.recorder.find(
            reply.route,
            "refused",
            VIOLATION,
            expected=f"a well-formed request to {reply.route} succeeds ({purpose}) "
            f"[{route_basis(reply.route)}]",
            observed=f"HTTP {reply.status}: {reply.said or reply.verdict.outcome}",
            reproduction=reply.curl,
        )

    def need(self, reply: Reply, purpose: str) -> Any:
        """The result of a set-up answer, or skip the test as blocked by what went wrong."""
        if reply.verdict.succeeded and isinstance(reply.body, dict) and "result" in reply.body:
            return reply.result
        blocked(self.stopper(reply, purpose))

    def read(self, method: str, path: str = "/data", purpose: str = "read back", **kw: Any) -> Any:
        """A device-A request a test needs the result of (a read-back, a seed)."""
        return self.need(self.as_a(method, path, **kw), purpose)

    # -- devices and tokens

    def device(self, name: str, **fields: Any) -> Device:
        serial = f"{self.prefix}{name}-sn"
        full_name = f"{self.prefix}{name}"
        reply = self.profile(
            "POST",
            "/device",
            json={"name": full_name, "type": "mutable", "serie_number": serial, **fields},
        )
        if not reply.verdict.succeeded:
            raise Blocked(self.stopper(reply, "create a device"))
        result = reply.result if isinstance(reply.result, dict) else {}
        device_id = next(
            (result[k] for k in DEVICE_ID_KEYS if isinstance(result.get(k), str)), None
        )
        if device_id is None:  # created, but the answer does not say as what: look it up
            device_id = next(
                (
                    d["id"]
                    for d in self.devices_named(full_name) or []
                    if d.get("name") == full_name
                ),
                None,
            )
        if device_id is None:
            raise Blocked(self.stopper(reply, "learn the new device's id"))
        self.created.append(device_id)
        token = result.get("token") if isinstance(result.get("token"), str) else None
        made = Device(device_id, "", serial)
        token = token or self.token(made, "full")
        made.token = token
        made.tokens["device-full"] = token
        return made

    def token(self, device: Device, permission: str, expire_time: str = "never") -> str:
        name = f"{self.prefix}{permission}-{time.monotonic_ns() % 10**9}"
        reply = self.profile(
            "POST",
            "/device/token",
            json={
                "device": device.id,
                "name": name,
                "permission": permission,
                "expire_time": expire_time,
            },
        )
        if not reply.verdict.succeeded:
            raise Blocked(self.stopper(reply, f"create a {permission} token"))
        result = reply.result
        if isinstance(result, dict) and isinstance(result.get("token"), str):
            return result["token"]
        if isinstance(result, str) and result:
            return result
        listed = self.profile("GET", f"/device/token/{device.id}", params={"amount": 100}).result
        for item in listed if isinstance(listed, list) else []:
            if isinstance(item, dict) and item.get("name") == name and item.get("token"):
                return item["token"]
        raise Blocked(self.stopper(reply, "learn the new token"))

    def devices_named(self, pattern: str, amount: int = 1000) -> list[dict[str, Any]]:
        """Devices whose name matches `pattern` (a trailing * is a prefix). Filters on the
        target, and again here: a target that ignores the filter must not get other devices
        deleted. Raises Blocked when the target lists no devices in any form."""
        reply = self.profile(
            "GET",
            "/device",
            params={"filter[name]": pattern, "amount": amount, "fields": "id,name"},
        )
        if not isinstance(reply.result, list) or not reply.verdict.succeeded:
            first = reply
            reply = self.profile("GET", "/device", params={"amount": amount})
            if not isinstance(reply.result, list) or not reply.verdict.succeeded:
                raise Blocked(self.stopper(first, "list the profile's devices"))
        wanted = pattern.rstrip("*")
        exact = not pattern.endswith("*")
        return [
            d
            for d in reply.result
            if isinstance(d, dict)
            and isinstance(d.get("id"), str)
            and (d.get("name") == wanted if exact else str(d.get("name", "")).startswith(wanted))
        ]

    def remove(self, device_id: str) -> None:
        """Delete a device, taking any answer: gone is gone (200, 202, 404, no result)."""
        self.profile("DELETE", f"/device/{device_id}")
        if device_id in self.created:
            self.created.remove(device_id)

    def probe_path(self, kind: str) -> tuple[str, str]:
        """A GET route a token of `kind` may call and the target has (route id, path): GET /info
        where it exists, else another, so a probe of headers or transport is not blamed on one
        missing route."""
        absent = {f.route for f in self.recorder.findings if f.check == "route-absent"}
        for route, path in (
            ("GET /info", "/info"),
            ("GET /device/params", "/device/params"),
            ("GET /data", "/data"),
            ("GET /device", "/device"),
        ):
            if route not in absent and permissions.permission_matrix().cell(route, kind).allowed:
                return route, path
        return "GET /info", "/info"

    def tokens_for(self, kind: str) -> str | None:
        """The token of a kind, for device A; None where the run has no such token."""
        if kind == "profile":
            return self.target.profile_token
        if kind == "network":
            return self.target.network_token
        if kind == "analysis-no-policy":
            return self.target.analysis_token
        if kind == "none":
            return None
        if kind == "malformed":
            return "not-a-token"
        return self.a.tokens.get(kind)


def expired_token(fleet: Fleet) -> str | None:
    """A full token whose expiry has passed: made with a past date, or, where the target refuses
    that, with the shortest relative expiry and a wait. None if neither works (cells skipped)."""
    try:
        return fleet.token(fleet.a, "full", expire_time="2020-01-01T00:00:00.000Z")
    except Blocked:
        pass
    try:
        token = fleet.token(fleet.a, "full", expire_time="1 minute")
    except Blocked:
        return None
    time.sleep(61)
    return token


def delete_run_devices(fleet: Fleet) -> list[str]:
    """Delete every device of this run, also those the client never heard about; returns the
    ids still there after every attempt (empty: nothing left behind).

    An interrupt can land after a create was sent but before its answer was read, and the target
    may still be making that device when clean-up starts: the run's devices are looked up by name
    until a lookup, a moment after the last deletion, finds none.
    """
    for device_id in list(fleet.created):
        fleet.remove(device_id)
    left: list[str] = []
    for _ in range(5):
        time.sleep(0.3)
        try:
            left = [d["id"] for d in fleet.devices_named(f"{fleet.prefix}*")]
        except Blocked:  # cannot list: what the client knows of is all it can delete
            return list(fleet.created)
        if not left:
            return []
        for device_id in left:
            fleet.remove(device_id)
    return left


def sweep(fleet: Fleet) -> int:
    """Delete devices of earlier runs (our prefix) created more than a day ago."""
    reply = fleet.profile(
        "GET",
        "/device",
        params={"filter[name]": f"{PREFIX}*", "amount": 100, "fields": "id,name,created_at"},
    )
    swept = 0
    for device in reply.result if isinstance(reply.result, list) else []:
        created = device.get("created_at") if isinstance(device, dict) else None
        name = str(device.get("name", "")) if isinstance(device, dict) else ""
        if not isinstance(created, str) or not name.startswith(PREFIX):
            continue
        if name.startswith(fleet.prefix):
            continue
        try:
            made = time.mktime(time.strptime(created[:19], "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            continue
        if time.time() - made > SWEEP_AGE_SECONDS + abs(time.timezone):
            fleet.remove(device["id"])
            swept += 1
    return swept
