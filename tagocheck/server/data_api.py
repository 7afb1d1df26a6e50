"""The target's data routes: a device's data (POST, GET, PUT, DELETE /data), its parameters,
GET /info, and the network's routes that name a device by its serial."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from tagocheck.server import queries, records
from tagocheck.server.accounts import Device, DeviceToken
from tagocheck.server.app import TargetApp
from tagocheck.server.http import Failure, Request, Response, find_device, ok

# -- device data


async def post_data(app: TargetApp, request: Request) -> Response:
    return await ingest(app, request.device, data_body(request))


PAYLOAD_VARIABLE = "payload"


def data_body(request: Request) -> Any:
    """The records of a data body. A text/plain body goes to the device's payload parser on
    TagoIO [C]; this target has no parsers, so the text is kept as TagoIO keeps a payload no
    parser turns into records: one record of variable `payload` whose value is the text."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "text/plain":
        return request.json()
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise Failure(400, "Invalid text body: it is not UTF-8") from None
    if not text:
        raise Failure(400, "Invalid text body: the body is empty")
    return {"variable": PAYLOAD_VARIABLE, "value": text}


async def ingest(app: TargetApp, device: Device, body: Any) -> Response:
    return ok(f"{await store_records(app, device, body)} Data Added")


async def store_records(app: TargetApp, device: Device, body: Any) -> int:
    """Store a data body's records on `device` with the group commit, and the count the
    answer acknowledges: every ingest path (POST /data, the network, TagoTiP) comes here."""
    created = records.now_ms()
    group = str(created)
    sent = records.batch(body)
    if "group-cap" in app.faults:
        _cap_groups(sent, int(app.faults.value("group-cap")))
    if "ignore-time" in app.faults:
        sent = [
            {k: v for k, v in raw.items() if k != "time"} if isinstance(raw, dict) else raw
            for raw in sent
        ]
    rows = [
        records.new_row(raw, index, app.store.next_seq(), device.key, group, created)
        for index, raw in enumerate(sent)
    ]
    if "capacity" in app.faults:
        await app.capacity_gate.wait(len(rows))
    kept = [row for row in rows if not app.faults.hits("lose-writes")]
    kept += [
        (app.store.next_seq(), *row[1:]) for row in kept if app.faults.hits("duplicate-writes")
    ]

    if app.store_data:
        await app.store.insert(kept)
    device.last_input_ms = created
    app.touched.add(device.id)
    added = len(rows) + (1 if "wrong-count" in app.faults else 0)
    if "slow-writes" in app.faults:  # stored now, acknowledged late
        await asyncio.sleep(app.faults.value("slow-writes"))
    return added


def _cap_groups(sent: list[Any], cap: int) -> None:
    """The group-cap fault: a server with a lower group limit than the documented 100."""
    for index, raw in enumerate(sent):
        group = raw.get("group", raw.get("serie")) if isinstance(raw, dict) else None
        if isinstance(group, str) and len(group) > cap:
            raise Failure(400, f"Invalid data: item {index}: group is longer than {cap} characters")


async def get_data(app: TargetApp, request: Request) -> Response:
    return await read_data(app, request, request.device)


async def read_data(app: TargetApp, request: Request, device: Device) -> Response:
    """GET a device's data: as the device (GET /data) or as the profile (/device/{id}/data)."""
    scope = None if "cross-device" in app.faults else device.key
    now = records.now_ms()
    selection = queries.select(request.query, scope, now)
    device.last_output_ms = now
    app.touched.add(device.id)
    return ok(queries.run(selection, app.store.rows, app.account.device_ids))


async def put_data(app: TargetApp, request: Request) -> Response:
    return await edit_data(app, request, request.device)


async def edit_data(app: TargetApp, request: Request, device: Device) -> Response:
    """PUT a mutable device's records by id, as the device or as the profile."""
    if device.type == "immutable":
        raise Failure(409, "Immutable devices cannot edit data: only mutable devices can")
    body = request.json()
    items = body if isinstance(body, list) else [body]
    if not items:
        raise records.InvalidData("Invalid data: the array is empty")
    updates = [records.update_fields(item, index) for index, item in enumerate(items)]

    def apply(conn: sqlite3.Connection) -> int:
        changed = 0
        for update in updates:
            columns = update["changes"]
            if not columns:
                continue
            assignments = ", ".join(f"{c} = ?" for c in columns)
            cursor = conn.execute(
                f"UPDATE data SET {assignments} WHERE seq = ? AND device = ?",
                (*columns.values(), records.seq_of(update["id"]), device.key),
            )
            changed += cursor.rowcount
        return changed

    changed = await app.store.write(apply)
    return ok(f"{changed} item(s) updated")


async def delete_data(app: TargetApp, request: Request) -> Response:
    return await remove_data(app, request, request.device)


async def remove_data(app: TargetApp, request: Request, device: Device) -> Response:
    """DELETE the records a query selects, as the device or as the profile."""
    selection = queries.select(request.query, device.key, records.now_ms())
    seqs = queries.selected_seqs(selection, app.store.rows, app.account.device_ids)

    def remove(conn: sqlite3.Connection) -> int:
        marks = ",".join("?" * len(seqs))
        return conn.execute(
            f"DELETE FROM data WHERE device = ? AND seq IN ({marks})", (device.key, *seqs)
        ).rowcount

    removed = await app.store.write(remove) if seqs else 0
    return ok(f"{removed} Data Removed")


async def get_info(app: TargetApp, request: Request) -> Response:
    principal = request.principal
    assert principal is not None
    if principal.device is not None:
        return ok(app.account.device_view(principal.device))
    return ok(app.account.owner_view(principal.kind))


# -- device parameters


def _param_view(row: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": row[0], "key": row[1], "value": row[2], "sent": bool(row[3])}


def _params_of(app: TargetApp, device: str, sent: bool | None = None) -> list[dict[str, Any]]:
    sql = "SELECT id, key, value, sent FROM params WHERE device = ?"
    args: list[Any] = [device]
    if sent is not None:
        sql += " AND sent = ?"
        args.append(int(sent))
    return [_param_view(r) for r in app.store.rows(sql + " ORDER BY key", args)]


async def get_device_params(app: TargetApp, request: Request) -> Response:
    return ok(_params_of(app, request.device.id, queries.boolean(request.query, "sent_status")))


async def put_device_param(app: TargetApp, request: Request) -> Response:
    device, param = request.device.id, request.params["id"]

    def mark(conn: sqlite3.Connection) -> int:
        return conn.execute(
            "UPDATE params SET sent = 1 WHERE id = ? AND device = ?", (param, device)
        ).rowcount

    if not await app.store.write(mark):
        raise Failure(404, "Parameter not found")
    return ok("Successfully Updated")


async def list_params(app: TargetApp, request: Request) -> Response:
    device = find_device(app, request.params["id"])
    return ok(_params_of(app, device.id, queries.boolean(request.query, "sent_status")))


async def set_params(app: TargetApp, request: Request) -> Response:
    await _store_params(app, find_device(app, request.params["id"]), request.json())
    return ok("Params Successfully Updated")


async def network_set_params(app: TargetApp, request: Request) -> Response:
    """POST /integration/network/{id}/params: the profile's parameter set, by the network [OAS]."""
    await _store_params(app, find_device(app, request.params["id"]), request.json())
    return ok("Device Configuration Parameter Updated")


async def delete_param(app: TargetApp, request: Request) -> Response:
    device, param = find_device(app, request.params["id"]), request.params["param_id"]

    def remove(conn: sqlite3.Connection) -> int:
        return conn.execute(
            "DELETE FROM params WHERE id = ? AND device = ?", (param, device.id)
        ).rowcount

    if not await app.store.write(remove):
        raise Failure(404, "Parameter not found")
    return ok("Successfully Removed")


async def _store_params(app: TargetApp, device: Device, body: Any) -> None:
    items = body if isinstance(body, list) else [body]
    if not items:
        raise records.InvalidData("Invalid params: the array is empty")
    rows = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise records.InvalidData(f"Invalid param {index}: key is required, a string")
        if not isinstance(item.get("value"), str):
            raise records.InvalidData(f"Invalid param {index}: value must be a string")
        param_id = item.get("id")
        if param_id is not None and not records.is_id(param_id):
            raise records.InvalidData(f"Invalid param {index}: id must be a parameter id")
        sent = item.get("sent", False)
        if not isinstance(sent, bool):
            raise records.InvalidData(f"Invalid param {index}: sent must be a boolean")
        rows.append(
            (param_id or records.new_id(), device.id, item["key"], item["value"], int(sent))
        )

    await app.store.write(
        lambda conn: conn.executemany(
            "INSERT OR REPLACE INTO params (id, device, key, value, sent) VALUES (?,?,?,?,?)", rows
        )
    )


# -- network (network token)


def _by_serial(app: TargetApp, serial: str) -> DeviceToken:
    token = app.account.by_serial(serial)
    if token is None:
        raise Failure(404, f"No device with serial number {serial!r}")
    return token


def _check_authorization(app: TargetApp, authorization: str | None) -> None:
    """The profile's authorization key, where a network request names one [C]."""
    if "any-authorization" in app.faults:
        return
    if authorization is not None and authorization != app.account.meta["authorization"]:
        raise Failure(401, "Invalid authorization: no profile has this authorization key")


async def resolve_serial(app: TargetApp, request: Request) -> Response:
    _check_authorization(app, request.params.get("authorization"))
    return ok(_by_serial(app, request.params["serial"]).token)


def _serial_in_body(body: Any) -> str | None:
    """The serial the records name in metadata.serial, the official form [C]: every record that
    names one must name the same."""
    items = body if isinstance(body, list) else [body]
    given = [
        item["metadata"].get("serial")
        for item in items
        if isinstance(item, dict) and isinstance(item.get("metadata"), dict)
    ]
    # its type first: an object or a list is no serial (and cannot go in a set)
    if any(serial is not None and not isinstance(serial, str) for serial in given):
        raise Failure(400, "Invalid data: metadata.serial must be a string")
    named = set(given) - {None}
    if len(named) > 1:
        raise Failure(400, "Invalid data: the records name different metadata.serial values")
    return named.pop() if named else None


async def network_data(app: TargetApp, request: Request) -> Response:
    _check_authorization(app, request.one("authorization_token"))
    body = data_body(request)
    serial = request.one("serial") or _serial_in_body(body)
    if not serial:
        raise Failure(
            400, "Invalid data: name the device by metadata.serial in the records or ?serial="
        )
    if "unknown-serial" in app.faults and app.account.by_serial(serial) is None:
        return ok(f"{len(records.batch(body))} Data Added")
    token = _by_serial(app, serial)
    return await ingest(app, find_device(app, token.device), body)
