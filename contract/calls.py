"""One well-formed request per route, and how to tell afterwards that a denied one changed nothing.

The per-route tests send these with a token allowed to call the route; the permission tests send
them with every token kind. A request that would destroy something (a device, a token) acts on a
scratch resource made just for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conftest import Fleet


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    state: Callable[[], Any] | None = None
    """Reads (with an allowed token) what the call would change; equal before and after a denial."""
    cleanup: list[Callable[[], None]] = field(default_factory=list)


def _count(fleet: Fleet, variable: str) -> int:
    return fleet.as_a("GET", params={"variables": variable, "query": "count"}).result


def _values(fleet: Fleet, variable: str) -> list[Any]:
    found = fleet.as_a("GET", params={"variables": variable, "qty": 100}).result
    return sorted(str(r.get("value")) for r in found)


def _seed(fleet: Fleet, variable: str, value: Any = 1) -> str:
    """Store one record on device A; returns its id."""
    fleet.as_a(
        "POST",
        json={"variable": variable, "value": value},
    )
    reply = fleet.as_a(
        "GET",
        params={"variables": variable, "query": "last_item"},
    )
    return reply.result[0]["id"]


def _device_names(fleet: Fleet) -> list[str]:
    reply = fleet.profile(
        "GET", "/device", params={"filter[name]": f"{fleet.prefix}*", "amount": 100}
    )
    return sorted(d["name"] for d in reply.result)


def _tokens(fleet: Fleet) -> list[str]:
    reply = fleet.profile("GET", f"/device/token/{fleet.a.id}", params={"amount": 100})
    return sorted(t["token"] for t in reply.result)


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
        record = _seed(fleet, "probe_put", 1)
        return Call(
            "PUT",
            "/data",
            json=[{"id": record, "value": 2}],
            state=lambda: _values(fleet, "probe_put"),
        )
    if route == "DELETE /data":
        _seed(fleet, "probe_delete")
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
        params = fleet.as_a(
            "GET",
            "/device/params",
        ).result
        param = next(p for p in params if p["key"] == "probe")
        fleet.profile(
            "POST",
            f"/device/{a.id}/params",
            json=[{"id": param["id"], "key": "probe", "value": "1", "sent": False}],
        )

        def sent() -> bool:
            found = fleet.as_a(
                "GET",
                "/device/params",
            ).result
            return next(p["sent"] for p in found if p["id"] == param["id"])

        return Call("PUT", f"/device/params/{param['id']}", state=sent)
    if route == "POST /device/{id}/params":

        def params() -> Any:
            found = fleet.as_a(
                "GET",
                "/device/params",
            ).result
            return sorted((p["key"], p["value"]) for p in found)

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
            for device in fleet.profile(
                "GET", "/device", params={"filter[name]": f"{fleet.prefix}created", "amount": 100}
            ).result:
                fleet.remove(device["id"])

        call.cleanup.append(remove_created)
        return call
    if route == "GET /device":
        return Call("GET", "/device", params={"filter[name]": f"{fleet.prefix}*", "amount": 10})
    if route == "GET /device/{id}":
        return Call("GET", f"/device/{a.id}")
    if route == "PUT /device/{id}":

        def tags() -> Any:
            return fleet.profile("GET", f"/device/{a.id}").result.get("tags")

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
    if route == "GET /integration/network/resolve/{serial}/{authorization}":
        return Call("GET", f"/integration/network/resolve/{a.serial}/any")
    if route == "POST /integration/network/data":
        return Call(
            "POST",
            "/integration/network/data",
            params={"serial": a.serial},
            json={"variable": "probe_network", "value": 1},
            state=lambda: _count(fleet, "probe_network"),
        )
    raise KeyError(f"no request builder for {route}")
