"""One well-formed request per route, and how to tell afterwards that a denied one changed nothing.

The per-route tests send these with a token allowed to call the route; the permission tests send
them with every token kind. A request that would destroy something (a device, a token) acts on a
scratch resource made just for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fleet_setup import Blocked, Device, Fleet


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
BACKUPS = ("POST /device/{id}/data/backup", "POST /device/{id}/chunk/backup")
BACKUP_QUOTA = "Forbidden - Free plan or rate limit exceeded"
NO_BACKUPS = "the Free plan has no backups [C]"


def quota_refused(route: str, reply: Any) -> str | None:
    """Why a backup's refusal is not the target's fault: backups are a quota, none on Free and 5
    a minute on Starter and Scale, refused 403 with the documented message [C] (or a 429)."""
    if route not in BACKUPS:
        return None
    if reply.status == 429 or (reply.status == 403 and reply.message == BACKUP_QUOTA):
        return f"the backup quota refused it (HTTP {reply.status}: {reply.said}) [C]"
    return None


def _param_id(fleet: Fleet, key: str) -> str:
    """Set parameter `key` on device A as the profile; its id, read back."""
    a = fleet.a
    fleet.profile("POST", f"/device/{a.id}/params", json=[{"key": key, "value": "1"}])
    listed = fleet.need(fleet.profile("GET", f"/device/{a.id}/params"), "list A's parameters")
    found = [p for p in listed if isinstance(p, dict) and p.get("key") == key and "id" in p]
    if not found:
        raise Blocked(
            fleet.recorder.find(
                "POST /device/{id}/params",
                "parameter not stored",
                "violation",
                expected="a parameter set by the profile is listed for the device [C]",
                observed=f"GET /device/{{id}}/params does not list {key!r} just set",
            )
        )
    return found[0]["id"]


def _param_keys(fleet: Fleet) -> list[str]:
    listed = fleet.need(fleet.profile("GET", f"/device/{fleet.a.id}/params"), "list parameters")
    return sorted(str(p.get("key")) for p in listed if isinstance(p, dict))


def _amount(fleet: Fleet, device: Device) -> Any:
    return fleet.need(fleet.profile("GET", f"/device/{device.id}/data_amount"), "count records")


def _holding_one(fleet: Fleet, name: str, **fields: Any) -> Device:
    """A scratch device holding one record (sent with its own token)."""
    made = fleet.device(name, **fields)
    record = {"variable": "probe_scratch", "value": 1}
    fleet.need(
        fleet.client.request(
            "POST", "/data", token=made.token, token_kind="device-full", json=record
        ),
        "send a scratch device its record",
    )
    return made


def _immutable(fleet: Fleet, name: str) -> tuple[Device, str]:
    """A scratch immutable device holding one record, and its one chunk's id."""
    made = _holding_one(fleet, name, type="immutable", chunk_period="week", chunk_retention=4)
    listed = fleet.need(fleet.profile("GET", f"/device/{made.id}/chunk"), "list its chunks")
    ids = [c.get("id") for c in listed if isinstance(c, dict)] if isinstance(listed, list) else []
    if not ids or not isinstance(ids[0], str):
        raise Blocked(
            fleet.recorder.find(
                "GET /device/{id}/chunk",
                "no chunk",
                "violation",
                expected="an immutable device holding a record lists its chunk [C]",
                observed=f"GET /device/{{id}}/chunk listed {listed!r:.80}",
            )
        )
    return made, ids[0]


def _chunk_ids(fleet: Fleet, device: Device) -> Any:
    listed = fleet.need(fleet.profile("GET", f"/device/{device.id}/chunk"), "list its chunks")
    return sorted(str(c.get("id")) for c in listed if isinstance(c, dict))


def _device_data(fleet: Fleet, route: str) -> Call | None:
    """The profile's view of one device's data (/device/{id}/...)."""
    a = fleet.a
    base = f"/device/{a.id}"
    if route == "GET /device/{id}/data":
        return Call("GET", f"{base}/data", params={"variables": "probe_post", "qty": 5})
    if route == "POST /device/{id}/data":
        return Call(
            "POST",
            f"{base}/data",
            json=[{"variable": "probe_profile_post", "value": 1}],
            state=lambda: _count(fleet, "probe_profile_post"),
        )
    if route == "PUT /device/{id}/data":
        record = seed(fleet, "probe_profile_put", 1)
        return Call(
            "PUT",
            f"{base}/data",
            json=[{"id": record, "value": 2}],
            state=lambda: _values(fleet, "probe_profile_put"),
        )
    if route == "DELETE /device/{id}/data":
        seed(fleet, "probe_profile_delete")
        return Call(
            "DELETE",
            f"{base}/data",
            params={"variables": "probe_profile_delete", "qty": 1},
            state=lambda: _count(fleet, "probe_profile_delete"),
        )
    if route == "GET /device/{id}/data_amount":
        return Call("GET", f"{base}/data_amount")
    if route == "DELETE /device/{id}/params/{param_id}":
        param = _param_id(fleet, "probe_remove")
        return Call("DELETE", f"{base}/params/{param}", state=lambda: _param_keys(fleet))
    if route == "POST /device/{id}/empty":
        scratch = _holding_one(fleet, "emptied")
        return Call("POST", f"/device/{scratch.id}/empty", state=lambda: _amount(fleet, scratch))
    if route == "POST /device/{id}/convert":
        scratch = fleet.device("converted", active=False)

        def storage() -> Any:
            found = fleet.need(fleet.profile("GET", f"/device/{scratch.id}"), "read its type")
            return found.get("type") if isinstance(found, dict) else found

        body = {"type": "immutable", "chunk_period": "week", "chunk_retention": 4}
        return Call("POST", f"/device/{scratch.id}/convert", json=body, state=storage)
    return None


def _files(fleet: Fleet, route: str) -> Call | None:
    """Chunks, backups to Files and restores from them."""
    missing = NO_BACKUPS if fleet.target.plan == "free" else None
    if route == "POST /device/{id}/data/backup":
        body = {"file_address": f"/{fleet.prefix}backups/$DEVICE$/$TIMESTAMP$", "headers": True}
        return Call("POST", f"/device/{fleet.a.id}/data/backup", json=body, missing=missing)
    if route == "POST /device/{id}/data/restore":
        if missing:
            return Call("POST", "/device/x/data/restore", missing=missing)
        source = _holding_one(fleet, "backed-up")
        backup = fleet.profile(
            "POST",
            f"/device/{source.id}/data/backup",
            json={"file_address": f"/{fleet.prefix}restore/$DEVICE$", "headers": True},
        )
        quota = quota_refused("POST /device/{id}/data/backup", backup)
        if quota:
            return Call("POST", f"/device/{source.id}/data/restore", missing=quota)
        made = fleet.need(backup, "back a device up")
        address = made.get("file_address") if isinstance(made, dict) else None
        scratch = fleet.device("restored")
        return Call(
            "POST",
            f"/device/{scratch.id}/data/restore",
            json={"file_address": address or "missing"},
            state=lambda: _amount(fleet, scratch),
        )
    if route == "GET /device/{id}/chunk":
        scratch, _ = _immutable(fleet, "chunked")
        return Call("GET", f"/device/{scratch.id}/chunk")
    if route == "POST /device/{id}/chunk/backup":
        scratch, chunk = _immutable(fleet, "chunk-backed-up")
        body = {"chunk_id": chunk, "file_address": f"/{fleet.prefix}chunks/$FROM$_$TO$"}
        return Call("POST", f"/device/{scratch.id}/chunk/backup", json=body, missing=missing)
    if route == "DELETE /device/{id}/chunk/{chunk_id}":
        scratch, chunk = _immutable(fleet, "chunk-deleted")
        return Call(
            "DELETE",
            f"/device/{scratch.id}/chunk/{chunk}",
            state=lambda: _chunk_ids(fleet, scratch),
        )
    if route == "POST /integration/network/{id}/params":
        return Call(
            "POST",
            f"/integration/network/{fleet.a.id}/params",
            json=[{"key": "probe_network_param", "value": "1"}],
            state=lambda: _param_keys(fleet),
        )
    return None


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
    found = _device_data(fleet, route) or _files(fleet, route)
    if found is None:
        raise KeyError(f"no request builder for {route}")
    return found
