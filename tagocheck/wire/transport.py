"""Why a request got no HTTP answer, in words a user can act on.

Every client the suite uses (geventhttpclient in the load runs, requests in set-up and the
contract suite) wraps the operating system's reason in exceptions of its own: requests' one
`ConnectionError` stands for a refused port, a reset and a garbage answer alike. The cause a
user needs ("connection refused", "no answer within 10 s") is found by walking the chain of
causes down to the first one that names it.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

REFUSED = "connection refused"
RESET = "connection reset by peer"
CLOSED = "connection closed without an answer"
NOT_HTTP = "not HTTP"
TLS = "TLS verification failed (set REQUESTS_CA_BUNDLE to the target's CA certificate)"
NO_HOST = "host name not found"

_NOT_HTTP_NAMES = (
    "HTTPParseError",
    "HTTPProtocolViolationError",
    "BadStatusLine",
    "LineTooLong",
    "InvalidChunkLength",
    "ProtocolError",
    "InvalidHeader",
)
_CLOSED_NAMES = ("RemoteDisconnected", "IncompleteRead", "HTTPConnectionClosed")


def no_answer_within(seconds: float | None) -> str:
    return f"no answer within {seconds:g} s" if seconds else "no answer in time"


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, then what it wraps: causes, contexts, urllib3's `reason`, exceptions in args."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (
            current.__cause__,
            current.__context__,
            getattr(current, "reason", None),
            *current.args,
        ):
            if isinstance(inner, BaseException):
                pending.append(inner)


def cause(error: BaseException, timeout: float | None = None) -> str:
    """The most specific reason `error` names; `timeout` is the one the request was given."""
    names = []
    for found in _chain(error):
        name = type(found).__name__
        names.append(name)
        if isinstance(found, ConnectionRefusedError):
            return REFUSED
        if isinstance(found, ConnectionResetError):
            return RESET
        if isinstance(found, ssl.SSLCertVerificationError):
            return TLS
        if isinstance(found, socket.gaierror):
            return NO_HOST
        if isinstance(found, TimeoutError | socket.timeout) or name in ("Timeout", "ReadTimeout"):
            return no_answer_within(timeout)
        if name in _NOT_HTTP_NAMES:
            return NOT_HTTP
        if isinstance(found, BrokenPipeError | ConnectionAbortedError | EOFError):
            return CLOSED
        if name in _CLOSED_NAMES:
            return CLOSED
    text = str(error).lower()
    if "refused" in text:
        return REFUSED
    if "reset by peer" in text:
        return RESET
    if "timed out" in text or "timeout" in text:
        return no_answer_within(timeout)
    return names[0] if names else "unknown error"


SSL_FALSE_HINT = "pass --ssl-false to send _ssl=false, as TagoIO asks of plain-HTTP clients"


def asks_for_ssl_false(status: int, message: str | None) -> bool:
    """A refusal of plain HTTP (TagoIO's 403 "send _ssl=false"), not of the token: the words say
    HTTPS or _ssl, so the user is told to send the opt-in rather than to check a good token."""
    said = (message or "").lower()
    return status == 403 and any(word in said for word in ("_ssl", "https", "ssl"))
