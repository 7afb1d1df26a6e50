"""A device's data as the profile sees it (Profile-Token): its records (/device/{id}/data), their
amount, emptying it, converting its storage type, an immutable device's chunks, and backups to the
target's files with restores from them [OAS, SDK]."""

from __future__ import annotations

import sqlite3
from typing import Any

from tagocheck.server import backups, chunks, records
from tagocheck.server.accounts import DEFAULT_CHUNK_PERIOD, Device
from tagocheck.server.app import TargetApp
from tagocheck.server.data_api import edit_data, ingest, read_data, remove_data
from tagocheck.server.device_api import chunk_settings, save_chunking
from tagocheck.server.http import Failure, Request, Response, find_device, ok
from tagocheck.server.store import DATA_COLUMNS

BACKUP_REFUSED = "Forbidden - Free plan or rate limit exceeded"
"""The documented refusal of a backup on the Free plan or past its limit [C]."""
CONVERTIBLE = ("mutable", "immutable")


def _device(app: TargetApp, request: Request) -> Device:
    return find_device(app, request.params["id"])


async def get_device_data(app: TargetApp, request: Request) -> Response:
    return await read_data(app, request, _device(app, request))


async def post_device_data(app: TargetApp, request: Request) -> Response:
    return await ingest(app, _device(app, request), request.json())


async def put_device_data(app: TargetApp, request: Request) -> Response:
    return await edit_data(app, request, _device(app, request))


async def delete_device_data(app: TargetApp, request: Request) -> Response:
    return await remove_data(app, request, _device(app, request))


def _amount(app: TargetApp, device: Device) -> int:
    return app.store.rows("SELECT COUNT(*) FROM data WHERE device = ?", (device.key,))[0][0]


async def data_amount(app: TargetApp, request: Request) -> Response:
    return ok(_amount(app, _device(app, request)))


async def empty_device(app: TargetApp, request: Request) -> Response:
    device = _device(app, request)
    await app.store.write(
        lambda conn: conn.execute("DELETE FROM data WHERE device = ?", (device.key,))
    )
    return ok("Data Successfully Removed")


def _body(request: Request) -> dict[str, Any]:
    body = request.json() if request.body else {}
    if not isinstance(body, dict):
        raise records.InvalidData("Invalid body: send an object")
    return body


async def convert_device(app: TargetApp, request: Request) -> Response:
    """Mutable to immutable or back, or new chunk settings: only for an empty, disabled device
    [OAS: 'The device must be empty' and 'must be disabled before being converted']."""
    device, body = _device(app, request), _body(request)
    kind = body.get("type")
    if kind not in CONVERTIBLE:
        raise records.InvalidData(f"Invalid convert: type must be one of {', '.join(CONVERTIBLE)}")
    chunking = chunk_settings(body, required=kind == "immutable")
    # the device's state, not the request, is wrong: a conflict (409), as PUT /data on an
    # immutable device; the status TagoIO answers is not documented [?]
    if device.active:
        raise Failure(409, "The device must be disabled before being converted")
    if _amount(app, device):
        raise Failure(409, "The device must be empty before being converted")
    device.type = kind
    device.chunk_period, device.chunk_retention = chunking or (None, None)
    device.updated_ms = records.now_ms()

    def save(conn: sqlite3.Connection) -> None:
        conn.execute(f"INSERT OR REPLACE INTO devices VALUES ({','.join('?' * 15)})", device.row())
        save_chunking(conn, device)

    await app.store.write(save)
    return ok("Device type/chunk was converted")


# -- chunks (immutable devices)


def _immutable(app: TargetApp, request: Request) -> tuple[Device, str]:
    device = _device(app, request)
    if device.type != "immutable":  # the device's state: a conflict, as above
        raise Failure(409, "Only immutable devices keep their data in chunks")
    return device, device.chunk_period or DEFAULT_CHUNK_PERIOD


def _chunk(chunk_id: Any, period: str) -> chunks.Chunk:
    """The chunk an id names: 400 if it is no chunk id, 404 if no chunk of this device's."""
    try:
        chunk = chunks.parse_chunk_id(chunk_id, period) if isinstance(chunk_id, str) else None
    except ValueError:
        chunk = None
    else:
        if chunk is None:
            raise Failure(404, f"Chunk not found: {chunk_id} is not a {period} chunk")
    if chunk is None:
        raise Failure(400, "Invalid chunk: a chunk id is <first second>_<last second>")
    return chunk


async def list_chunks(app: TargetApp, request: Request) -> Response:
    device, period = _immutable(app, request)
    days = app.store.rows(
        f"SELECT time_ms / {chunks.DAY_MS}, COUNT(*) FROM data WHERE device = ? GROUP BY 1",
        (device.key,),
    )
    return ok([chunk.view(amount) for chunk, amount in chunks.chunks(days, period)])


async def delete_chunk(app: TargetApp, request: Request) -> Response:
    device, period = _immutable(app, request)
    chunk = _chunk(request.params["chunk_id"], period)
    await app.store.write(
        lambda conn: conn.execute(
            "DELETE FROM data WHERE device = ? AND time_ms >= ? AND time_ms < ?",
            (device.key, chunk.first_ms, chunk.end_ms),
        )
    )
    return ok(f"Chunk {chunk.id} deleted")


# -- backups and restores (the target's files)


def _backups_allowed(app: TargetApp) -> None:
    if app.plan == "free":  # no backups on Free [C]
        raise Failure(403, BACKUP_REFUSED)


async def _write_file(
    app: TargetApp, address: str, rows: list[tuple[Any, ...]], headers: Any
) -> None:
    if not isinstance(headers, bool):
        raise records.InvalidData("Invalid backup: headers must be a boolean")
    content = backups.to_csv(rows, headers)
    await app.store.write(
        lambda conn: conn.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?)", (address, content, records.now_ms())
        )
    )


def _given(body: dict[str, Any], name: str, default: Any) -> Any:
    """A body field; null is not given (the Python SDK sends `"headers": null` when not told)."""
    found = body.get(name)
    return default if found is None else found


def _template(body: dict[str, Any], default: str) -> str:
    template = _given(body, "file_address", default)
    if not isinstance(template, str):
        raise records.InvalidData("Invalid backup: file_address must be a string")
    return template


async def backup_data(app: TargetApp, request: Request) -> Response:
    _backups_allowed(app)
    device, body = _device(app, request), _body(request)
    address = backups.file_address(
        _template(body, "/device/$DEVICE$/$TIMESTAMP$"),
        device=device.id,
        timestamp=str(records.now_ms()),
    )
    rows = app.store.rows(
        f"SELECT {DATA_COLUMNS} FROM data WHERE device = ? ORDER BY time_ms, seq", (device.key,)
    )
    await _write_file(app, address, rows, _given(body, "headers", True))
    return ok({"file_address": address})


async def backup_chunk(app: TargetApp, request: Request) -> Response:
    _backups_allowed(app)
    body = _body(request)
    device, period = _immutable(app, request)
    chunk = _chunk(body.get("chunk_id"), period)
    first, last = chunk.dates()
    address = backups.file_address(
        _template(body, "/device/$DEVICE$/$FROM$_$TO$"),
        device=device.id,
        **{"from": first, "to": last},
    )
    rows = app.store.rows(
        f"SELECT {DATA_COLUMNS} FROM data WHERE device = ? AND time_ms >= ? AND time_ms < ? "
        "ORDER BY time_ms, seq",
        (device.key, chunk.first_ms, chunk.end_ms),
    )
    await _write_file(app, address, rows, _given(body, "headers", True))
    return ok({"chunk_id": chunk.id, "file_address": address})


async def restore_data(app: TargetApp, request: Request) -> Response:
    """Read a backup back into the device. TagoIO queues the import [OAS: 'added to the queue'];
    this target has stored every record before it answers, which a client polling for them
    cannot tell apart."""
    device, body = _device(app, request), _body(request)
    address = body.get("file_address")
    if not isinstance(address, str):
        raise records.InvalidData("Invalid restore: file_address is required, a string")
    found = app.store.rows("SELECT content FROM files WHERE address = ?", (address.lstrip("/"),))
    if not found:
        raise Failure(404, f"File not found: {address}")
    restored = backups.from_csv(found[0][0])
    if restored:
        await ingest(app, device, restored)
    return ok("Data import added to the queue successfully!")
