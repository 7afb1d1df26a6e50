"""The target's HTTP layer: requests, JSON-envelope responses, failures, routes and tokens.

Plain ASGI rather than a framework (tagocheck.server.app): POST /data is the path the suite
load-tests, and a framework's request and routing layers cost more than the work itself.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from tagocheck.server import records
from tagocheck.server.accounts import Access, Device, Principal

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


Handler = Callable[[Any, Request], Awaitable[Response]]
"""A route's handler: (the TargetApp, the request) -> its response."""


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


async def read_body(receive: Callable, headers: dict[str, str]) -> bytes:
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


def token_of(request: Request) -> str | None:
    found = {request.headers[h].strip() for h in TOKEN_HEADERS if request.headers.get(h)}
    if len(found) > 1:
        raise Failure(400, "Send exactly one token per request")
    return found.pop() if found else None


def ssl_false(request: Request) -> bool:
    """`_ssl=false` as a header or a query key [C], read case-insensitively in both places (as
    HTTP reads header names): `_SSL=False` asks for plain HTTP as much as `_ssl=false` does."""
    if request.headers.get("_ssl", "").lower() == "false":
        return True
    return any(
        key.lower() == "_ssl" and any(str(v).lower() == "false" for v in values)
        for key, values in request.query.items()
    )


def find_device(app: Any, device_id: str) -> Device:
    """The device a path names, or 404."""
    device = app.account.devices.get(device_id)
    if device is None:
        raise Failure(404, "Device not found")
    return device
