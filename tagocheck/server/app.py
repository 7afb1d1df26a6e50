"""The embedded target's ASGI application: faults that hold or garble every answer, routing by
method and path (404 and 405 as JSON envelopes), tokens identified and authorized for the route,
the plan's rate limits counted, then the route's handler (tagocheck.server.api lists them)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from urllib.parse import unquote

import orjson

from tagocheck.server import queries, records
from tagocheck.server.accounts import Account, Denial
from tagocheck.server.faults import Faults
from tagocheck.server.http import (
    Failure,
    Request,
    Response,
    Route,
    failure,
    parse_query,
    read_body,
    ssl_false,
    token_of,
)
from tagocheck.server.plans import AGGREGATE, BACKUPS, DEVICE_LIMIT_KEYS, RateLimiter
from tagocheck.server.store import Store

log = logging.getLogger("tagocheck.server")


class TargetApp:
    def __init__(
        self,
        store: Store,
        account: Account,
        limiter: RateLimiter,
        faults: Faults,
        *,
        plan: str,
        routes: list[Route],
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
        self._static = {(r.method, r.template): r for r in routes if "{" not in r.template}
        self._dynamic = [r for r in routes if "{" in r.template]

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
            try:
                payload = orjson.dumps(body)
            except orjson.JSONEncodeError:  # still an envelope: the client is owed one
                status, payload = 500, orjson.dumps(UNWRITABLE)
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
        if self.tls and not request.secure and not ssl_false(request):
            raise Failure(403, "HTTPS required: send _ssl=false to use plain HTTP")
        route = self._route(request)
        request.body = await read_body(receive, request.headers)
        if self.faults.hits("server-errors"):
            raise Failure(500, "Internal server error")
        principal = self.account.identify(token_of(request))
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
        matching = [(c, params) for c in self._dynamic if (params := _match(c, parts)) is not None]
        # a literal segment outranks a parameter: /device/{id}/chunk/backup is its own resource,
        # not a chunk named "backup", as OpenAPI reads templates
        best = max((_literals(c) for c, _ in matching), default=0)
        matching = [(c, params) for c, params in matching if _literals(c) == best]
        for candidate, params in matching:
            if candidate.method == request.method:
                request.params = params
                return candidate
        if matching:
            methods = ", ".join(sorted({c.method for c, _ in matching}))
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
        if throttled and name in BACKUPS:
            raise Failure(403, "Forbidden - Free plan or rate limit exceeded")
        if throttled:
            raise Failure(
                429, throttled.message, [(b"retry-after", str(throttled.retry_after).encode())]
            )


def _match(route: Route, parts: list[str]) -> dict[str, str] | None:
    """The path parameters if the route's template matches the path's segments."""
    segments = route.segments
    if len(segments) != len(parts):
        return None
    params = {}
    for template, part in zip(segments, parts, strict=True):
        if template.startswith("{"):
            params[template[1:-1]] = part
        elif template != part:
            return None
    return params


def _literals(route: Route) -> int:
    return sum(not segment.startswith("{") for segment in route.segments)


UNWRITABLE = {"status": False, "message": "Internal server error: the answer could not be written"}


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
