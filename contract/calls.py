"""One well-formed request per route, and how to tell afterwards that a denied one changed nothing.

The per-route tests send these with a token allowed to call the route; the permission tests send
them with every token kind. A request that would destroy something (a device, a token) acts on a
scratch resource made just for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fleet_setup import Blocked, Fleet


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    state: Callable[[], Any] | None = None
    """Reads (with an allowed token) what the call would change; equal before and after a denial."""
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    missing: str | None = None
    """What the run lacks for an allowed call to succeed (an option not given): not judged."""


def _count(fleet: Fleet, variable: str) -> int:
    return fleet.read("GET", params={"variables": variable, "query": "count"}, purpose="count")


def _values(fleet: Fleet, variable: str) -> list[Any]:
    found = fleet.read("GET", params={"variables": variable, "qty": 100}, purpose="read values")
    return sorted(str(r.get("value")) for r in found if isinstance(r, dict))


def seed(fleet: Fleet, variable: str, value: Any = 1) -> str:
    """Store one record on device A, whichever documented way the target takes it (one object,
    an array of one, or the network ingest route); returns its id, read back."""
    record = {"variable": variable, "value": value}
    sent = [fleet.as_a("POST", json=record)]
    if not sent[0].verdict.succeeded:
        sent.append(fleet.as_a("POST", json=[record]))
    if not sent[-1].verdict.succeeded and fleet.target.network_token:
        fleet.client.request(
            "POST",
            "/integration/network/data",
            token=fleet.target.network_token,
            token_kind="network",
            params={"serial": fleet.a.serial},
            json=record,
        )
    found = fleet.read(
        "GET", params={"variables": variable, "query": "last_item"}, purpose="read the seed back"
    )
    if not found or not isinstance(found[0], dict) or "id" not in found[0]:
        raise Blocked(fleet.stopper(sent[0], f"seed a record of {variable}"))
    return found[0]["id"]


def _device_names(fleet: Fleet) -> list[str]:
    return sorted(d.get("name", "") for d in fleet.devices_named(f"{fleet.prefix}*", amount=100))


def _tokens(fleet: Fleet) -> list[str]:
    listed = fleet.need(
        fleet.profile("GET", f"/device/token/{fleet.a.id}", params={"amount": 100}),
        "list device A's tokens",
    )
    return sorted(str(t.get("token")) for t in listed if isinstance(t, dict))


def _params(fleet: Fleet) -> list[dict[str, Any]]:
    found = fleet.read("GET", "/device/params", purpose="read device A's parameters")
    return [p for p in found if isinstance(p, dict)]


NO_AUTHORIZATION = "no authorization key for the profile (--authorization or TAGOIO_AUTHORIZATION)"


def build(route: str, fleet: Fleet) -> Call:
    """A request to `route` that succeeds for a token allowed to call it."""
    a = fleet.a
    if route == "POST /data":
        return Call(
            "POST",
            "/data",
            json=[{"variable": "probe_post", "value": 1}],
            state=lambda: _count(fleet, "probe_post"),
        )
    if route == "GET /data":
        return Call("GET", "/data", params={"variables": "probe_post", "qty": 5})
    if route == "PUT /data":
        record = seed(fleet, "probe_put", 1)
        return Call(
            "PUT",
            "/data",
            json=[{"id": record, "value": 2}],
            state=lambda: _values(fleet, "probe_put"),
        )
    if route == "DELETE /data":
        seed(fleet, "probe_delete")
        return Call(
            "DELETE",
            "/data",
            params={"variables": "probe_delete", "qty": 1},
            state=lambda: _count(fleet, "probe_delete"),
        )
    if route == "GET /info":
        return Call("GET", "/info")
    if route == "GET /device/params":
        return Call("GET", "/device/params")
    if route == "PUT /device/params/{id}":
        fleet.profile("POST", f"/device/{a.id}/params", json=[{"key": "probe", "value": "1"}])
        param = next((p for p in _params(fleet) if p.get("key") == "probe"), None)
        if param is None or "id" not in param:
            raise Blocked(
                fleet.recorder.find(
                    "POST /device/{id}/params",
                    "parameter not stored",
                    "violation",
                    expected="a parameter set by the profile is listed for the device [C]",
                    observed="GET /device/params does not list the parameter just set",
                )
            )
        fleet.profile(
            "POST",
            f"/device/{a.id}/params",
            json=[{"id": param["id"], "key": "probe", "value": "1", "sent": False}],
        )

        def sent() -> bool:
            return next((p.get("sent") for p in _params(fleet) if p.get("id") == param["id"]), None)

        return Call("PUT", f"/device/params/{param['id']}", state=sent)
    if route == "GET /device/{id}/params":
        return Call("GET", f"/device/{a.id}/params")
    if route == "POST /device/{id}/params":

        def params() -> Any:
            return sorted((str(p.get("key")), str(p.get("value"))) for p in _params(fleet))

        return Call(
            "POST",
            f"/device/{a.id}/params",
            json=[{"key": "probe_set", "value": "1"}],
            state=params,
        )
    if route == "POST /device":
        call = Call(
            "POST",
            "/device",
            json={"name": f"{fleet.prefix}created", "type": "mutable"},
            state=lambda: _device_names(fleet),
        )

        def remove_created() -> None:
            try:
                for device in fleet.devices_named(f"{fleet.prefix}created"):
                    fleet.remove(device["id"])
            except Blocked:  # the run's clean-up looks again, by prefix
                pass

        call.cleanup.append(remove_created)
        return call
    if route == "GET /device":
        return Call("GET", "/device", params={"filter[name]": f"{fleet.prefix}*", "amount": 10})
    if route == "GET /device/{id}":
        return Call("GET", f"/device/{a.id}")
    if route == "PUT /device/{id}":

        def tags() -> Any:
            found = fleet.need(fleet.profile("GET", f"/device/{a.id}"), "read device A")
            return found.get("tags") if isinstance(found, dict) else found

        return Call(
            "PUT", f"/device/{a.id}", json={"tags": [{"key": "probe", "value": "x"}]}, state=tags
        )
    if route == "DELETE /device/{id}":
        scratch = fleet.device("scratch")
        call = Call("DELETE", f"/device/{scratch.id}", state=lambda: _device_names(fleet))
        call.cleanup.append(lambda: fleet.remove(scratch.id))
        return call
    if route == "POST /device/token":
        return Call(
            "POST",
            "/device/token",
            json={
                "device": a.id,
                "name": f"{fleet.prefix}made",
                "permission": "read",
                "expire_time": "never",
            },
            state=lambda: _tokens(fleet),
        )
    if route == "GET /device/token/{device_id}":
        return Call("GET", f"/device/token/{a.id}")
    if route == "DELETE /device/token/{token}":
        doomed = fleet.token(a, "read")
        return Call("DELETE", f"/device/token/{doomed}", state=lambda: _tokens(fleet))
    if route == "GET /integration/network/resolve/{serial}":
        return Call("GET", f"/integration/network/resolve/{a.serial}")
    authorization = fleet.target.authorization
    if route == "GET /integration/network/resolve/{serial}/{authorization}":
        return Call(
            "GET",
            f"/integration/network/resolve/{a.serial}/{authorization or 'not-given'}",
            missing=None if authorization else NO_AUTHORIZATION,
        )
    if route == "POST /integration/network/data":
        if authorization:  # the official form [C]: the serial in the records' metadata
            return Call(
                "POST",
                "/integration/network/data",
                params={"authorization_token": authorization},
                json={"variable": "probe_network", "value": 1, "metadata": {"serial": a.serial}},
                state=lambda: _count(fleet, "probe_network"),
            )
        return Call(
            "POST",
            "/integration/network/data",
            params={"serial": a.serial},
            json={"variable": "probe_network", "value": 1},
            state=lambda: _count(fleet, "probe_network"),
        )
    raise KeyError(f"no request builder for {route}")
