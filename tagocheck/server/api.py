"""The target's HTTP API as a plain ASGI application.

It is written against ASGI directly rather than a framework because POST /data is the path the
suite load-tests: a framework's request and routing layers cost more than the work itself. Every
response, including unknown routes (404), wrong methods (405), bad JSON, oversized bodies and
unexpected exceptions (500), is a JSON envelope. Where the facts file marks a conflict, this target
answers with the variant most sources document: failures carry `message` at top level, creates
answer 201, a new device's key is `device_id`, and a new token's expiry is `expire_time`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

from tagocheck.server import queries, records
from tagocheck.server.accounts import (
    DEVICE_TYPES,
    PERMISSIONS,
    Access,
    Account,
    Denial,
    Device,
    DeviceToken,
    Principal,
)
from tagocheck.server.faults import Faults
from tagocheck.server.plans import AGGREGATE, DEVICE_CAPS, DEVICE_LIMIT_KEYS, RateLimiter
from tagocheck.server.store import Store

log = logging.getLogger("tagocheck.server")

# Every header a token may come in, in the order they are read [facts 1].
TOKEN_HEADERS = (
    "device-token",
    "profile-token",
    "account-token",
    "analysis-token",
    "middleware-token",
    "token",
    "authorization",
)
DEFAULT_DEVICE_PAGE = 20
MAX_RPM = 2**62


class Failure(Exception):
    """Ends a request with a failure envelope."""

    def __init__(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


@dataclass
class Response:
    status: int
    body: Any
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def ok(result: Any, status: int = 200) -> Response:
    return Response(status, {"status": True, "result": result})


def failure(
    status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> Response:
    return Response(status, {"status": False, "message": message}, headers or [])


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    secure: bool
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)
    principal: Principal | None = None

    def json(self) -> Any:
        if not self.body:
            raise Failure(400, "Invalid JSON body: the body is empty")
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as error:
            raise Failure(400, f"Invalid JSON body: {error}") from None

    def one(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    @property
    def device(self) -> Device:
        assert self.principal is not None and self.principal.device is not None
        return self.principal.device


_ARRAY_KEY = re.compile(r"^([A-Za-z_]+)\[\d*\]$")


def parse_query(raw: bytes) -> dict[str, list[str]]:
    """A query string as lists of values; `v[]=a` and `v[0]=a` read as `v=a`."""
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        array = _ARRAY_KEY.match(key)
        query.setdefault(array.group(1) if array else key, []).append(value)
    return query


Handler = Callable[["TargetApp", Request], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    access: Access
    handler: Handler

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def segments(self) -> list[str]:
        return self.template.strip("/").split("/")


class TargetApp:
    def __init__(
        self,
        store: Store,
        account: Account,
        limiter: RateLimiter,
        faults: Faults,
        *,
        plan: str,
        tls: bool = False,
        store_data: bool = True,
    ) -> None:
        self.store = store
        self.account = account
        self.limiter = limiter
        self.faults = faults
        self.plan = plan
        self.tls = tls
        self.store_data = store_data
        self.touched: set[str] = set()
        self.capacity_gate = CapacityGate(faults.active.get("capacity") or 0.0)
        self.started = time.monotonic()
        """What span faults (down=START+DURATION) are timed from."""
        self._static = {(r.method, r.template): r for r in ROUTES if "{" not in r.template}
        self._dynamic = [r for r in ROUTES if "{" in r.template]

    async def persist_activity(self) -> None:
        """Write the devices' last input and output times.

        They change on every data request; writing them with each request would double the
        statements on the ingest path, so they are written every second and at shutdown instead.
        """
        devices = self.account.devices
        rows = [
            (d.last_input_ms, d.last_output_ms, d.id)
            for d in (devices.get(i) for i in self.touched)
            if d is not None
        ]
        self.touched = set()
        if rows:
            await self.store.write(
                lambda conn: conn.executemany(
                    "UPDATE devices SET last_input_ms = ?, last_output_ms = ? WHERE id = ?", rows
                )
            )

    async def persist_activity_forever(self, every: float = 1.0) -> None:
        while True:
            await asyncio.sleep(every)
            await self.persist_activity()

    # -- ASGI

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        if self.faults.spans:
            elapsed = time.monotonic() - self.started
            until = self.faults.within("silent", elapsed)
            if until is not None:  # held unanswered to the span's end: clients time out
                await asyncio.sleep(until - elapsed)
            if until is not None or self.faults.within("down", elapsed) is not None:
                await self._send(send, failure(503, "Service unavailable"))
                return
        try:
            response = await self.respond(scope, receive)
        except Exception:
            log.exception("unexpected error")
            response = failure(500, "Internal server error")
        if "slow" in self.faults:
            await asyncio.sleep(self.faults.value("slow"))
        await self._send(send, response)

    async def _send(self, send: Callable, response: Response) -> None:
        status, body = response.status, response.body
        content_type = b"application/json"
        if status >= 400 and "html-errors" in self.faults:
            payload = (
                f"<html><head><title>{status}</title></head>"
                f"<body><h1>Error {status}</h1></body></html>"
            ).encode()
            content_type = b"text/html; charset=utf-8"
        else:
            if status >= 400 and "wrong-status" in self.faults:
                status = 200
            if status < 400 and "bad-envelope" in self.faults and isinstance(body, dict):
                body = {**body, "status": "true"}
            payload = orjson.dumps(body)
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(payload)).encode()),
            *response.headers,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    # -- one request

    async def respond(self, scope: dict, receive: Callable) -> Response:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        raw_query = scope.get("query_string", b"")
        request = Request(
            method=scope["method"],
            path=unquote(scope["path"]),
            query=parse_query(raw_query) if raw_query else {},
            headers=headers,
            secure=scope.get("scheme") == "https",
        )
        try:
            return await self._handle(request, receive)
        except Failure as failed:
            return failure(failed.status, failed.message, failed.headers)
        except records.InvalidData as invalid:
            return failure(400, str(invalid))
        except queries.BadQuery as bad:
            return failure(400, f"Invalid query: {bad}")

    async def _handle(self, request: Request, receive: Callable) -> Response:
        if self.tls and not request.secure and not _ssl_false(request):
            raise Failure(403, "HTTPS required: send _ssl=false to use plain HTTP")
        route = self._route(request)
        request.body = await _read_body(receive, request.headers)
        if self.faults.hits("server-errors"):
            raise Failure(500, "Internal server error")
        principal = self.account.identify(_token(request))
        if isinstance(principal, Denial):
            raise Failure(principal.status, principal.message)
        denied = self.account.authorize(
            principal, route.access, ignore_permission="ignore-permission" in self.faults
        )
        if denied:
            raise Failure(denied.status, denied.message)
        request.principal = principal
        self._count(route, request)
        return await route.handler(self, request)

    def _route(self, request: Request) -> Route:
        path = request.path.rstrip("/") or "/"
        route = self._static.get((request.method, path))
        if route is not None:
            return route
        # A literal path is its own resource (/device/token is no device id): only its methods.
        static_methods = sorted(m for (m, t) in self._static if t == path)
        if static_methods:
            raise Failure(
                405,
                f"Method {request.method} not allowed",
                [(b"allow", ", ".join(static_methods).encode())],
            )
        parts = request.path.strip("/").split("/")
        allowed = []
        for candidate in self._dynamic:
            segments = candidate.segments
            if len(segments) != len(parts):
                continue
            params = {}
            for template, part in zip(segments, parts, strict=True):
                if template.startswith("{"):
                    params[template[1:-1]] = part
                elif template != part:
                    break
            else:
                if candidate.method == request.method:
                    request.params = params
                    return candidate
                allowed.append(candidate.method)
        if allowed:
            methods = ", ".join(sorted(set(allowed)))
            raise Failure(
                405, f"Method {request.method} not allowed", [(b"allow", methods.encode())]
            )
        raise Failure(404, f"Route not found: {request.method} {request.path}")

    def _count(self, route: Route, request: Request) -> None:
        name = route.name
        if name == "GET /data" and request.one("query") == "aggregate":
            name = AGGREGATE
        device, rpm = None, None
        key = DEVICE_LIMIT_KEYS.get(name)
        if key and request.principal and request.principal.device:
            device = request.principal.device
            rpm = device.rpm_input if key == "data_input" else device.rpm_output
        throttled = self.limiter.check(name, device.id if device else None, rpm)
        if throttled:
            raise Failure(
                429, throttled.message, [(b"retry-after", str(throttled.retry_after).encode())]
            )


async def _read_body(receive: Callable, headers: dict[str, str]) -> bytes:
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > records.MAX_BODY_BYTES:
        raise Failure(413, f"Payload too large: at most {records.MAX_BODY_BYTES:,} bytes")
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > records.MAX_BODY_BYTES:
            raise Failure(413, f"Payload too large: at most {records.MAX_BODY_BYTES:,} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _token(request: Request) -> str | None:
    found = {request.headers[h].strip() for h in TOKEN_HEADERS if request.headers.get(h)}
    if len(found) > 1:
        raise Failure(400, "Send exactly one token per request")
    return found.pop() if found else None


def _ssl_false(request: Request) -> bool:
    """`_ssl=false` as a header or a query key [C], read case-insensitively in both places (as
    HTTP reads header names): `_SSL=False` asks for plain HTTP as much as `_ssl=false` does."""
    if request.headers.get("_ssl", "").lower() == "false":
        return True
    return any(
        key.lower() == "_ssl" and any(str(v).lower() == "false" for v in values)
        for key, values in request.query.items()
    )


# -- device data


async def post_data(app: TargetApp, request: Request) -> Response:
    return await _ingest(app, request.device, _data_body(request))


PAYLOAD_VARIABLE = "payload"


def _data_body(request: Request) -> Any:
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


async def _ingest(app: TargetApp, device: Device, body: Any) -> Response:
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
    return ok(f"{added} Data Added")


class CapacityGate:
    """The capacity fault: records are let through at `rate` a second, in arrival order. Past
    the rate each write waits its turn, so latency grows with the queue, as on a saturated
    server (a known capacity for the capacity search to find)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.next_free = 0.0

    async def wait(self, records: int) -> None:
        now = time.monotonic()
        start = max(now, self.next_free)
        self.next_free = start + records / self.rate
        if start > now:
            await asyncio.sleep(start - now)


def _cap_groups(sent: list[Any], cap: int) -> None:
    """The group-cap fault: a server with a lower group limit than the documented 100."""
    for index, raw in enumerate(sent):
        group = raw.get("group", raw.get("serie")) if isinstance(raw, dict) else None
        if isinstance(group, str) and len(group) > cap:
            raise Failure(400, f"Invalid data: item {index}: group is longer than {cap} characters")


async def get_data(app: TargetApp, request: Request) -> Response:
    scope = None if "cross-device" in app.faults else request.device.key
    now = records.now_ms()
    selection = queries.select(request.query, scope, now)
    request.device.last_output_ms = now
    app.touched.add(request.device.id)
    return ok(queries.run(selection, app.store.rows, app.account.device_ids))


async def put_data(app: TargetApp, request: Request) -> Response:
    device = request.device
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
    device = request.device
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
    device = _device(app, request.params["id"])
    return ok(_params_of(app, device.id, queries.boolean(request.query, "sent_status")))


async def set_params(app: TargetApp, request: Request) -> Response:
    device = _device(app, request.params["id"])
    body = request.json()
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
    return ok("Params Successfully Updated")


# -- devices (profile token)


def _device(app: TargetApp, device_id: str) -> Device:
    device = app.account.devices.get(device_id)
    if device is None:
        raise Failure(404, "Device not found")
    return device


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
    token = app.account.new_device_token(device.id, "full", "Default", None, device.serie_number)

    def insert(conn: sqlite3.Connection) -> None:
        conn.execute(f"INSERT INTO devices VALUES ({','.join('?' * 15)})", device.row())
        conn.execute(f"INSERT INTO tokens VALUES ({','.join('?' * 7)})", token.row())

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
    return ok(app.account.device_view(_device(app, request.params["id"])))


async def edit_device(app: TargetApp, request: Request) -> Response:
    device = _device(app, request.params["id"])
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
    device = _device(app, request.params["id"])

    def remove(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM data WHERE device = ?", (device.key,))
        for table, column in (("tokens", "device"), ("params", "device"), ("devices", "id")):
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
    device = _device(app, device_id)
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
    device = _device(app, request.params["device_id"])
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
    named = {
        item["metadata"].get("serial")
        for item in items
        if isinstance(item, dict) and isinstance(item.get("metadata"), dict)
    } - {None}
    if len(named) > 1:
        raise Failure(400, "Invalid data: the records name different metadata.serial values")
    serial = named.pop() if named else None
    if serial is not None and not isinstance(serial, str):
        raise Failure(400, "Invalid data: metadata.serial must be a string")
    return serial


async def network_data(app: TargetApp, request: Request) -> Response:
    _check_authorization(app, request.one("authorization_token"))
    body = _data_body(request)
    serial = request.one("serial") or _serial_in_body(body)
    if not serial:
        raise Failure(
            400, "Invalid data: name the device by metadata.serial in the records or ?serial="
        )
    if "unknown-serial" in app.faults and app.account.by_serial(serial) is None:
        return ok(f"{len(records.batch(body))} Data Added")
    token = _by_serial(app, serial)
    return await _ingest(app, _device(app, token.device), body)


ROUTES = [
    Route("POST", "/data", Access.DEVICE_SEND, post_data),
    Route("GET", "/data", Access.DEVICE_READ, get_data),
    Route("PUT", "/data", Access.DEVICE_EDIT, put_data),
    Route("DELETE", "/data", Access.DEVICE_EDIT, delete_data),
    Route("GET", "/info", Access.ANY_TOKEN, get_info),
    Route("GET", "/device/params", Access.DEVICE_READ, get_device_params),
    Route("PUT", "/device/params/{id}", Access.DEVICE_EDIT, put_device_param),
    Route("POST", "/device", Access.PROFILE, create_device),
    Route("GET", "/device", Access.PROFILE, list_devices),
    Route("GET", "/device/{id}", Access.PROFILE, get_device),
    Route("PUT", "/device/{id}", Access.PROFILE, edit_device),
    Route("DELETE", "/device/{id}", Access.PROFILE, delete_device),
    Route("GET", "/device/{id}/params", Access.PROFILE, list_params),
    Route("POST", "/device/{id}/params", Access.PROFILE, set_params),
    Route("POST", "/device/token", Access.PROFILE, create_token),
    Route("GET", "/device/token/{device_id}", Access.PROFILE, list_tokens),
    Route("DELETE", "/device/token/{token}", Access.PROFILE, delete_token),
    Route("GET", "/integration/network/resolve/{serial}", Access.NETWORK, resolve_serial),
    Route(
        "GET",
        "/integration/network/resolve/{serial}/{authorization}",
        Access.NETWORK,
        resolve_serial,
    ),
    Route("POST", "/integration/network/data", Access.NETWORK, network_data),
]
