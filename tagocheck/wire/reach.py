"""Whether a target can be used at all, asked once before anything else, by every entry point
(`tagocheck capacity`, the load runs' coordinator, the contract suite): a wrong address, a
server that is not TagoIO, a refused token or TLS without its CA stops the run in one line that
says which, instead of failing every request after it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import requests

from tagocheck.wire import transport
from tagocheck.wire.client import TagoClient

PROBE_TIMEOUT = 15.0
SAY_WAITING_AFTER = 2.0
"""Seconds of silence before the user is told what is being waited for."""


class Unreachable(Exception):
    """The target cannot be used; the message is the one line the user sees."""


def check_url(url: str) -> str:
    """The base URL without a trailing slash, or Unreachable when it cannot be one."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise Unreachable(f"the URL {url!r} lacks http:// or https://")
    if not parts.hostname:
        raise Unreachable(f"the URL {url!r} names no host")
    return url.strip().rstrip("/")


def probe(
    url: str,
    token: str | None,
    kind: str = "profile",
    *,
    verify: bool | str = True,
    ssl_false: bool = False,
    timeout: float = PROBE_TIMEOUT,
    say: Callable[[str], None] = print,
) -> None:
    """One GET /info (GET /device when a server has no /info), judged: Unreachable names what
    is wrong. A wait longer than a moment is said while it lasts."""
    url = check_url(url)
    client = TagoClient(url, verify=verify, timeout=timeout, ssl_false=ssl_false)
    waiting = threading.Timer(
        SAY_WAITING_AFTER,
        lambda: say(f"waiting for {url} to answer GET /info (up to {timeout:g} s) ..."),
    )
    waiting.daemon = True
    waiting.start()
    try:
        for path in ("/info", "/device"):
            reply = client.request(
                "GET", path, token=token, token_kind=kind, check=False, honour_429=False
            )
            if reply.status != 404:
                break
    except requests.RequestException as error:
        said = transport.cause(error, timeout)
        if said == transport.TLS:
            said = "TLS verification failed: give --ca-cert with the target's CA certificate"
        raise Unreachable(f"cannot reach {url}: {said}") from None
    finally:
        waiting.cancel()
    if transport.asks_for_ssl_false(reply.status, reply.message):
        raise Unreachable(f"{url} refused plain HTTP ({reply.message}); {transport.SSL_FALSE_HINT}")
    if not (isinstance(reply.body, dict) and "status" in reply.body):
        # only what is no TagoIO answer at all: a broken envelope is a finding for the run
        raise Unreachable(
            f"{url} does not answer like a TagoIO API (HTTP {reply.status}, "
            f"{reply.headers.get('content-type') or 'no content type'})"
        )
    if reply.status in (401, 403):
        said = f": {reply.message}" if reply.message else ""
        raise Unreachable(f"{url} refused the {kind} token (HTTP {reply.status}{said})")
    if 400 <= reply.status < 500 and reply.status not in (404, 429):
        # a 5xx is not refused: a failing target is what the run is there to measure
        raise Unreachable(f"{url} answered GET /info with HTTP {reply.status}")
