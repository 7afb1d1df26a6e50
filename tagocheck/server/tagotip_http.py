"""TagoTiP's HTTP binding on its own port (TagoTipServers §2, docs/tagotip/transports/http):
`POST /v1/tip/{serial}` is a PUSH of the body, `GET ...?variables=a,b` a PULL, `HEAD` a PING,
with `Authorization: TagoTiP <hash>`; `POST /v1/tips` takes a TagoTiP/S envelope.

The answer is the ACK mapped to HTTP: 200 with the count or the variable list as text, 204 for
a PONG, the error code as the text of a 400, 401, 404, 413, 429 or 500 (§2.5, and the HTTP
page's 413). HEAD counts toward the uplink limit on HTTP [C rate-limits].
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, unquote

from tagocheck.server.tagotip_service import TagoTipService
from tagocheck.tagotip import http_binding as binding
from tagocheck.tagotip.envelope import SUITES, max_envelope
from tagocheck.tagotip.frames import Ack, check_serial, check_size
from tagocheck.tagotip.grammar import MAX_FRAME_BYTES, FrameError

PATH = binding.PUSH_PATH
ENVELOPE_PATH = binding.ENVELOPE_PATH
STATUS_OF_ERROR = {**binding.STATUS_OF_ERROR, "invalid_method": 400, "invalid_seq": 400}
"""The binding's table; invalid_method and invalid_seq, which §2.5 does not list, as the 400
of a bad request (HTTP carries no counter, §2.7)."""
MAX_READ = max(MAX_FRAME_BYTES, max_envelope(SUITES[4])) + 1


class TagoTipHttp:
    """The ASGI app of the binding."""

    def __init__(self, service: TagoTipService) -> None:
        self.service = service

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        status, body, content_type = await self.respond(scope, receive)
        headers = [(b"content-length", str(len(body)).encode())]
        if content_type:
            headers.append((b"content-type", content_type))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        head = scope["method"] == "HEAD"
        await send({"type": "http.response.body", "body": b"" if head else body})

    async def respond(self, scope: dict, receive: Callable) -> tuple[int, bytes, bytes | None]:
        method, path = scope["method"], unquote(scope["path"])
        body, too_long = await _read(receive)
        if path == ENVELOPE_PATH:
            if method != "POST":
                return 405, b"", None
            if too_long:
                return 413, b"ACK|ERR|envelope_too_large", b"text/plain"
            answer = await self.service.handle_envelope(body, ping_counts=True)
            if answer.startswith(b"ACK|ERR|"):
                code = answer.decode().rsplit("|", 1)[1]
                return binding.ENVELOPE_FALLBACK_STATUS.get(code, 400), answer, b"text/plain"
            return 200, answer, b"application/octet-stream"
        if not path.startswith(PATH) or method not in ("POST", "GET", "HEAD"):
            return 404, b"", None
        ack = await self._plain(scope, method, path[len(PATH) :], body, too_long)
        return _as_http(ack)

    async def _plain(
        self, scope: dict, method: str, serial: str, body: bytes, too_long: bool
    ) -> Ack:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        scheme, _, auth = headers.get("authorization", "").partition(" ")
        if scheme != binding.AUTH_SCHEME or not self.service.knows(auth.strip()):
            return Ack("ERR", "invalid_token")  # §2.2: a hash no profile has is a 401
        try:
            check_serial(serial)
            if too_long:
                raise FrameError("payload_too_large", "§4.5", "the body is over the limit")
            check_size(body)
            if method == "HEAD":
                return await self.service.handle(
                    "PING", auth.strip(), serial, None, ping_counts=True
                )
            if method == "GET":
                query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
                names = ",".join(query.get("variables", [""])).split(",")
                pull = "[" + ";".join(names) + "]"
                return await self.service.handle("PULL", auth.strip(), serial, pull)
            text = body.decode()
        except FrameError as refused:
            return Ack("ERR", refused.code)
        except UnicodeDecodeError:
            return Ack("ERR", "invalid_payload")
        return await self.service.handle("PUSH", auth.strip(), serial, text.removesuffix("\n"))


def _as_http(ack: Ack) -> tuple[int, bytes, bytes | None]:
    if ack.status == "PONG":
        return binding.PONG_STATUS, b"", None
    if ack.status == "OK":
        return binding.OK_STATUS, (ack.detail or "").encode(), b"text/plain"
    return STATUS_OF_ERROR.get(ack.detail or "", 500), (ack.detail or "").encode(), b"text/plain"


async def _read(receive: Callable) -> tuple[bytes, bool]:
    """The request body up to the largest size the binding takes; True when it was longer
    (the rest is read and dropped, never kept)."""
    chunks, size, too_long = [], 0, False
    while True:
        message = await receive()
        piece = message.get("body", b"")
        size += len(piece)
        if size <= MAX_READ:
            chunks.append(piece)
        else:
            too_long = True
        if not message.get("more_body"):
            return b"".join(chunks), too_long
