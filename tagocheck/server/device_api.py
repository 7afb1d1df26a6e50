"""The target's device routes for a profile token: devices (create, list with filters and
fields, read, edit, delete) and their tokens."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from tagocheck.server import queries, records
from tagocheck.server.accounts import (
    CHUNK_PERIODS,
    DEFAULT_CHUNK_PERIOD,
    DEFAULT_CHUNK_RETENTION,
    DEVICE_TYPES,
    MAX_CHUNK_RETENTION,
    PERMISSIONS,
    Device,
    DeviceToken,
)
from tagocheck.server.app import TargetApp
from tagocheck.server.http import Failure, Request, Response, find_device, ok
from tagocheck.server.plans import DEVICE_CAPS

DEFAULT_DEVICE_PAGE = 20
MAX_RPM = 2**62


# -- devices (profile token)


def _text(body: dict, name: str, *, required: bool = False, what: str = "device") -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise records.InvalidData(f"Invalid {what}: {name} is required")
        return None
    if not isinstance(value, str) or (required and not value):
        shown = "a non-empty string" if required else "a string"
        raise records.InvalidData(f"Invalid {what}: {name} must be {shown}")
    return value


def _tags(body: dict) -> list[dict[str, str]] | None:
    tags = body.get("tags")
    if tags is None:
        return None
    if not isinstance(tags, list) or not all(
        isinstance(t, dict) and isinstance(t.get("key"), str) and isinstance(t.get("value"), str)
        for t in tags
    ):
        raise records.InvalidData("Invalid device: tags must be a list of {key, value}")
    return [{"key": t["key"], "value": t["value"]} for t in tags]


def _rpm(body: dict) -> dict[str, int | None] | None:
    rpm = body.get("rpm")
    if rpm is None:
        return None
    counts = {"data_input": "rpm_input", "data_output": "rpm_output"}
    found: dict[str, int | None] = {}
    for name, column in counts.items():
        value = rpm.get(name) if isinstance(rpm, dict) else False
        if isinstance(value, float) and value.is_integer():  # JSON's 5.0 is the integer 5
            value = int(value)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            raise records.InvalidData(
                "Invalid device: rpm takes data_input and data_output, counts from 0 or null"
            )
        # beyond any count a minute can hold (and SQLite's integers): no soft limit at all
        found[column] = None if value is None else min(value, MAX_RPM)
    return found


def chunk_settings(body: dict, *, required: bool) -> tuple[str, int] | None:
    """An immutable device's chunk_period and chunk_retention [C], checked whenever given; one
    given alone takes the other's default (DEFAULT_CHUNK_*), and `required` needs both."""
    given = [name for name in ("chunk_period", "chunk_retention") if name in body]
    if not given and not required:
        return None
    if len(given) < 2 and required:
        raise records.InvalidData("Invalid device: give chunk_period and chunk_retention")
    # a field given as null is given, and not one of the values: refused, not defaulted
    period = body.get("chunk_period", DEFAULT_CHUNK_PERIOD)
    retention = body.get("chunk_retention", DEFAULT_CHUNK_RETENTION)
    if period not in CHUNK_PERIODS:
        raise records.InvalidData(
            f"Invalid device: chunk_period must be one of {', '.join(CHUNK_PERIODS)}"
        )
    if isinstance(retention, float) and retention.is_integer():
        retention = int(retention)
    if (
        not isinstance(retention, int)
        or isinstance(retention, bool)
        or not 0 <= retention <= MAX_CHUNK_RETENTION
    ):
        raise records.InvalidData(
            f"Invalid device: chunk_retention must be from 0 to {MAX_CHUNK_RETENTION}, whole"
        )
    return period, retention


def save_chunking(conn: sqlite3.Connection, device: Device) -> None:
    conn.execute("DELETE FROM chunking WHERE device = ?", (device.id,))
    if device.chunk_period is not None:
        conn.execute(
            "INSERT INTO chunking VALUES (?, ?, ?)",
            (device.id, device.chunk_period, device.chunk_retention),
        )


def _flag(body: dict, name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise records.InvalidData(f"Invalid device: {name} must be a boolean")
    return value


async def create_device(app: TargetApp, request: Request) -> Response:
    body = request.json()
    if not isinstance(body, dict):
        raise records.InvalidData("Invalid device: send an object")
    cap = DEVICE_CAPS[app.plan]
    if cap is not None and len(app.account.devices) >= cap:
        raise Failure(400, f"Device limit reached: the {app.plan} plan allows {cap} devices")
    kind = body.get("type", "immutable")
    if not isinstance(kind, str) or kind not in DEVICE_TYPES:
        raise records.InvalidData(f"Invalid device: type must be one of {', '.join(DEVICE_TYPES)}")
    chunking = chunk_settings(body, required=False)  # checked whatever the type; kept if immutable
    now = records.now_ms()
    device = Device(
        key=app.account.next_device_key(),
        id=records.new_id(),
        name=_text(body, "name", required=True),
        description=_text(body, "description"),
        type=kind,
        active=_flag(body, "active", True),
        visible=_flag(body, "visible", True),
        tags=_tags(body) or [],
        serie_number=_text(body, "serie_number"),
        created_ms=now,
        updated_ms=now,
        **(_rpm(body) or {}),
    )
    if chunking and kind == "immutable":
        device.chunk_period, device.chunk_retention = chunking
    token = app.account.new_device_token(device.id, "full", "Default", None, device.serie_number)

    def insert(conn: sqlite3.Connection) -> None:
        conn.execute(f"INSERT INTO devices VALUES ({','.join('?' * 15)})", device.row())
        conn.execute(f"INSERT INTO tokens VALUES ({','.join('?' * 7)})", token.row())
        save_chunking(conn, device)

    await app.store.write(insert)
    app.account.devices[device.id] = device
    app.account.device_ids[device.key] = device.id
    app.account.tokens[token.token] = token
    app.account.serials_changed()
    return ok({"device_id": device.id, "bucket_id": device.id, "token": token.token}, 201)


def _page(request: Request, default_amount: int) -> tuple[int, int]:
    page = _positive(request, "page", 1)
    amount = _positive(request, "amount", default_amount)
    return page, amount


def _positive(request: Request, name: str, default: int) -> int:
    raw = request.one(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise Failure(400, f"Invalid query: {name} must be a whole number from 1")
    return int(raw)


def _fields(request: Request, item: dict[str, Any], key: str) -> dict[str, Any]:
    """The fields asked for, and always the item's key (a device's id, a token)."""
    wanted = [f for value in request.query.get("fields", ()) for f in value.split(",") if f]
    if not wanted:
        return item
    return {k: v for k, v in item.items() if k in wanted or k == key}


_FILTER_KEY = re.compile(r"^filter\[([a-z_]+)\](?:\[(\d+)\]\[(key|value)\])?$")
DEVICE_ORDER = (
    "name",
    "created_at",
    "updated_at",
    "last_input",
    "last_output",
    "visible",
    "active",
)
TOKEN_ORDER = ("name", "created_at", "expire_time", "permission")


def _matches(view: dict[str, Any], filters: dict[str, str], tags: dict) -> bool:
    for name, wanted in filters.items():
        actual = view.get(name)
        if isinstance(actual, bool):
            actual = str(actual).lower()
        pattern = "^" + ".*".join(re.escape(p) for p in wanted.split("*")) + "$"
        if actual is None or not re.match(pattern, str(actual), re.IGNORECASE):
            return False
    wanted_tags = [tag for tag in tags.values() if "key" in tag and "value" in tag]
    return all(tag in (view.get("tags") or []) for tag in wanted_tags)


def _listing(
    request: Request, views: list[dict[str, Any]], order_fields: tuple[str, ...], key: str
) -> Response:
    """One page of a list route: filter[field]=value (a * matches any text), filter[tags][i]
    [key|value], orderBy=field,asc|desc, page and amount, fields [C]."""
    page, amount = _page(request, DEFAULT_DEVICE_PAGE)
    filters: dict[str, str] = {}
    tags: dict[str, dict[str, str]] = {}
    for name, values in request.query.items():
        found = _FILTER_KEY.match(name)
        if found and found.group(2) is not None and found.group(1) == "tags":
            tags.setdefault(found.group(2), {})[found.group(3)] = values[-1]
        elif found and found.group(2) is None:
            filters[found.group(1)] = values[-1]
    chosen = [view for view in views if _matches(view, filters, tags)]
    order = request.one("orderBy")
    field_name, comma, direction = (order if order is not None else order_fields[0]).partition(",")
    if field_name not in order_fields or (comma and direction not in ("asc", "desc")):
        raise Failure(
            400, f"Invalid query: orderBy takes field,asc|desc with a field of {order_fields}"
        )
    chosen.sort(
        key=lambda v: (v.get(field_name) is None, str(v.get(field_name))),
        reverse=direction == "desc",
    )
    window = chosen[(page - 1) * amount : page * amount]
    return ok([_fields(request, view, key) for view in window])


async def list_devices(app: TargetApp, request: Request) -> Response:
    queries.boolean(request.query, "resolveBucketName")
    views = [app.account.device_view(d) for d in app.account.devices.values()]
    return _listing(request, views, DEVICE_ORDER, "id")


async def get_device(app: TargetApp, request: Request) -> Response:
    return ok(app.account.device_view(find_device(app, request.params["id"])))


async def edit_device(app: TargetApp, request: Request) -> Response:
    device = find_device(app, request.params["id"])
    body = request.json()
    if not isinstance(body, dict):
        raise records.InvalidData("Invalid device: send an object")
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = _text(body, "name", required=True)
    if "description" in body:
        changes["description"] = _text(body, "description")
    for flag in ("active", "visible"):
        if flag in body:
            changes[flag] = _flag(body, flag, True)
    if "tags" in body:
        changes["tags"] = _tags(body) or []
    if "serie_number" in body:
        changes["serie_number"] = _text(body, "serie_number")
    changes.update(_rpm(body) or {})
    updated = Device(**{**device.__dict__, **changes, "updated_ms": records.now_ms()})
    await app.store.write(
        lambda conn: conn.execute(
            f"INSERT OR REPLACE INTO devices VALUES ({','.join('?' * 15)})", updated.row()
        )
    )
    device.__dict__.update(updated.__dict__)
    app.account.serials_changed()
    return ok("Successfully Updated")


async def delete_device(app: TargetApp, request: Request) -> Response:
    device = find_device(app, request.params["id"])

    def remove(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM data WHERE device = ?", (device.key,))
        for table, column in (
            ("tokens", "device"),
            ("params", "device"),
            ("chunking", "device"),
            ("devices", "id"),
        ):
            conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (device.id,))

    await app.store.write(remove)
    app.account.devices.pop(device.id, None)
    app.account.device_ids.pop(device.key, None)
    for token in [t for t, found in app.account.tokens.items() if found.device == device.id]:
        del app.account.tokens[token]
    app.account.serials_changed()
    return ok("Successfully Removed")


# -- device tokens (profile token)


def _expiry(raw: Any) -> int | None:
    if raw is None or raw == "never":
        return None
    if isinstance(raw, str):
        moment = records.parse_moment_ms(raw, records.now_ms(), future=True)
        if moment is not None:
            return moment
    raise records.InvalidData(
        "Invalid token: expire_time must be never, a date, or such as '1 day'"
    )


async def create_token(app: TargetApp, request: Request) -> Response:
    body = request.json()
    if not isinstance(body, dict):
        raise records.InvalidData("Invalid token: send an object")
    device_id = body.get("device")
    if not records.is_id(device_id):
        raise records.InvalidData("Invalid token: device must be a device id")
    device = find_device(app, device_id)
    permission = body.get("permission", "full")
    if not isinstance(permission, str) or permission not in PERMISSIONS:
        raise records.InvalidData(
            f"Invalid token: permission must be one of {', '.join(PERMISSIONS)}"
        )
    name = _text(body, "name", what="token") or "Token"
    serial = _text(body, "serie_number", what="token")
    token = app.account.new_device_token(
        device.id, permission, name, _expiry(body.get("expire_time")), serial
    )
    await app.store.write(
        lambda conn: conn.execute(f"INSERT INTO tokens VALUES ({','.join('?' * 7)})", token.row())
    )
    app.account.tokens[token.token] = token
    app.account.serials_changed()
    view = app.account.token_view(token)
    return ok({k: view[k] for k in ("token", "permission", "expire_time")}, 201)


async def list_tokens(app: TargetApp, request: Request) -> Response:
    device = find_device(app, request.params["device_id"])
    mine: list[DeviceToken] = sorted(
        (t for t in app.account.tokens.values() if t.device == device.id),
        key=lambda t: t.created_ms,
    )
    return _listing(request, [app.account.token_view(t) for t in mine], TOKEN_ORDER, "token")


async def delete_token(app: TargetApp, request: Request) -> Response:
    token = request.params["token"]
    if token not in app.account.tokens:
        raise Failure(404, "Token not found")
    await app.store.write(lambda conn: conn.execute("DELETE FROM tokens WHERE token = ?", (token,)))
    app.account.tokens.pop(token, None)
    app.account.serials_changed()
    return ok("Token Successfully Removed")
