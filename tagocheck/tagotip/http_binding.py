"""TagoTiP's HTTP binding as data (TagoTipServers §2, docs/tagotip/transports/http): where an
uplink goes, how it is authorised, and which HTTP status carries each ACK.

One table for everyone who speaks the binding: the embedded target answers by it, the contract
suite and the load runs' judge read answers by it.
"""

from __future__ import annotations

from urllib.parse import quote

PUSH_PATH = "/v1/tip/"
"""`POST /v1/tip/{serial}` is a PUSH of the body; GET a PULL, HEAD a PING (§2.2)."""
ENVELOPE_PATH = "/v1/tips"
"""`POST /v1/tips` takes a TagoTiP/S envelope (§2.9)."""
AUTH_SCHEME = "TagoTiP"
"""`Authorization: TagoTiP <hash>` (§2.3)."""

STATUS_OF_ERROR = {
    "invalid_payload": 400,
    "invalid_token": 401,
    "device_not_found": 404,
    "variable_not_found": 404,
    "payload_too_large": 413,
    "rate_limited": 429,
    "server_error": 500,
}
"""§2.5's table, and the HTTP page's 413 for payload_too_large [C]."""
OK_STATUS = 200
"""An OK: the count (PUSH) or the variable list (PULL) as the body's text (§2.5)."""
PONG_STATUS = 204
ENVELOPE_FALLBACK_STATUS = {
    "auth_failed": 400,
    "unsupported_version": 400,
    "unsupported_cipher": 400,
    "envelope_too_large": 413,
}
"""§2.9: what `POST /v1/tips` answers in plaintext when it cannot open the envelope; an
envelope it opens is answered 200 with a sealed ACK, whatever the ACK says [C]."""


def status_of(status: str, detail: str | None) -> int:
    """The HTTP status an ACK is carried with: OK 200, PONG 204, an error by the table (500
    for a code it does not list)."""
    if status == "PONG":
        return PONG_STATUS
    if status == "OK":
        return OK_STATUS
    return STATUS_OF_ERROR.get(detail or "", 500)


def sealed_status_of(status: str, detail: str | None) -> int:
    """What a TagoTiP/S answer means, in the binding's statuses: a plaintext fallback by §2.9's
    table, a sealed ACK as the plain one would be carried (so an opened ERR|rate_limited
    counts as a 429 although it came in a 200)."""
    if status == "ERR" and detail in ENVELOPE_FALLBACK_STATUS:
        return ENVELOPE_FALLBACK_STATUS[detail]
    return status_of(status, detail)


def push_path(serial: str) -> str:
    return PUSH_PATH + quote(serial, safe="")


def authorization(auth_hash: str) -> dict[str, str]:
    """The header an uplink is authorised with."""
    return {"Authorization": f"{AUTH_SCHEME} {auth_hash}"}
