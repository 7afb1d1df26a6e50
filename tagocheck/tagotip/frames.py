"""TagoTiP frames, built and parsed: a client's `METHOD|[!N|]AUTH|SERIAL[|BODY]` and a server's
`ACK|[!N|]STATUS[|DETAIL]` (tago-io/tagotip `TagoTiP.md` §4, §9, §12.1), and the ACK as the MQTT
binding carries it. Bodies are read by tagocheck.tagotip.bodies, the lexical rules live in
tagocheck.tagotip.grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tagocheck.tagotip.bodies import parse_variable_list
from tagocheck.tagotip.grammar import (
    DIGITS,
    ERROR_CODES,
    MAX_COUNTER,
    MAX_FRAME_BYTES,
    MAX_IDENTIFIER,
    FrameError,
    refuse,
    split_unescaped,
)

UPLINK_METHODS = ("PUSH", "PULL", "PING")  # §5.1
ACK_STATUSES = ("OK", "PONG", "CMD", "ERR")  # §5.2
_SERIAL = re.compile(r"[A-Za-z0-9_-]+")  # §14 SERIALCHAR
_AUTH = re.compile(r"[0-9A-Fa-f]{16}")  # §14 auth = 16HEXDIG
_COUNTER = re.compile(r"0|[1-9][0-9]*")  # §14 counter-value: no leading zeros
_DETAIL = re.compile(r"[\x21-\x7b\x7d\x7e]+")  # §14 DETAILCHAR: VCHAR but "|"


# --- frames (§4, §9, §12.1) -----------------------------------------------------------------


@dataclass(frozen=True)
class Uplink:
    """A client's frame (§4.1). `body` is the raw body text (parse it by method)."""

    method: str
    auth: str
    serial: str
    body: str | None = None
    seq: int | None = None

    def text(self) -> str:
        fields = [self.method]
        if self.seq is not None:
            fields.append(f"!{self.seq}")
        fields += [self.auth, self.serial]
        if self.body is not None:
            fields.append(self.body)
        return "|".join(fields)


@dataclass(frozen=True)
class Ack:
    """A server's frame (§4.2, §9)."""

    status: str
    detail: str | None = None
    seq: int | None = None

    def text(self) -> str:
        fields = ["ACK"]
        if self.seq is not None:
            fields.append(f"!{self.seq}")
        fields.append(self.status)
        if self.detail is not None:
            fields.append(self.detail)
        return "|".join(fields)

    @property
    def count(self) -> int | None:
        """The data points a PUSH's OK says were added (§9.1), or None for another ACK."""
        if self.status == "OK" and self.detail is not None and DIGITS.fullmatch(self.detail):
            return int(self.detail)
        return None


def _strip_terminator(text: str) -> str:
    # §3: on message transports the trailing LF is optional; a receiver takes both
    return text[:-1] if text.endswith("\n") else text


def check_size(frame: str | bytes, limit: int = MAX_FRAME_BYTES) -> None:
    """§4.5: a frame over the limit in UTF-8 bytes (its LF not counted) is refused."""
    data = frame.encode() if isinstance(frame, str) else frame
    if data.endswith(b"\n"):
        data = data[:-1]
    if len(data) > limit:
        raise FrameError("payload_too_large", "§4.5", f"{len(data)} bytes, over {limit}")
    if b"\x00" in data:
        raise refuse("§1.3", "a NUL byte in the frame")


def parse_counter(raw: str, rule: str = "§10.1") -> int:
    """`!N` (§10.3), its decimal counter a 32-bit unsigned integer without leading zeros."""
    if not raw.startswith("!") or not _COUNTER.fullmatch(raw[1:]):
        raise refuse(rule, f"counter {raw!r} is not ! and a decimal without leading zeros")
    value = int(raw[1:])
    if value > MAX_COUNTER:
        raise refuse(rule, f"counter {value} over 2**32 - 1")
    return value


def echoed_counter(data: bytes, field: int) -> int | None:
    """The uplink's `!N` when its `field`-th `|`-separated field is one (1 in a raw frame,
    `PUSH|!N|...`; 0 in an MQTT payload, `!N|BODY`), read from the head alone: an ACK refusing
    the rest (too large, not UTF-8, unparsable) still echoes it, as §9.5 says it MUST."""
    fields = data[: 8 + 12 * (field + 1)].split(b"|")
    if len(fields) <= field + 1 or not fields[field].startswith(b"!"):
        return None
    try:
        return parse_counter(fields[field].decode("ascii"))
    except (FrameError, UnicodeDecodeError):
        return None


def check_serial(serial: str) -> str:
    if not _SERIAL.fullmatch(serial):
        raise refuse("§14", f"serial {serial[:40]!r} is not letters, digits, - and _")
    if len(serial) > MAX_IDENTIFIER:
        raise refuse("§4.5.1", f"serial of {len(serial)} bytes, over {MAX_IDENTIFIER}")
    return serial


def parse_uplink(frame: str | bytes) -> Uplink:
    """A client's frame (§12.1): its size, fields, method, counter, auth and serial checked.

    The body is left raw: `parse_push_body` or `parse_pull_body` reads it."""
    check_size(frame)
    try:
        text = frame.decode() if isinstance(frame, bytes) else frame
    except UnicodeDecodeError as broken:
        raise refuse("§1.3", "a frame that is not UTF-8") from broken
    fields = split_unescaped(_strip_terminator(text), "|")
    method = fields[0]
    if method not in UPLINK_METHODS:
        code = "invalid_method"
        raise FrameError(code, "§5.1", f"method {method[:20]!r} is not PUSH, PULL or PING")
    seq = None
    if len(fields) > 1 and fields[1].startswith("!"):
        seq = parse_counter(fields[1])
        fields = [method, *fields[2:]]
    expected = 3 if method == "PING" else 4
    if len(fields) != expected:
        raise refuse("§12.1", f"{method} takes {expected} fields besides !N, not {len(fields)}")
    if not _AUTH.fullmatch(fields[1]):
        raise FrameError("invalid_token", "§4.1", "AUTH is not 16 hex characters")
    serial = check_serial(fields[2])
    body = fields[3] if method != "PING" else None
    return Uplink(method, fields[1].lower(), serial, body, seq)


def parse_ack(frame: str | bytes) -> Ack:
    """A server's frame (§12.1 step 3, §14 ack-frame): well-formed, or FrameError."""
    text = frame.decode() if isinstance(frame, bytes) else frame
    fields = split_unescaped(_strip_terminator(text), "|")
    if fields[0] != "ACK":
        raise refuse("§4.2", f"{text[:30]!r} does not start with ACK")
    seq = None
    if len(fields) > 1 and fields[1].startswith("!"):
        seq = parse_counter(fields[1], "§9.5")
        fields = ["ACK", *fields[2:]]
    if len(fields) not in (2, 3):
        raise refuse("§12.1", f"an ACK of {len(fields)} fields besides !N")
    status = fields[1]
    detail = fields[2] if len(fields) == 3 else None
    return _checked_ack(Ack(status, detail, seq))


def _checked_ack(ack: Ack) -> Ack:
    if ack.status not in ACK_STATUSES:
        raise refuse("§9.1", f"status {ack.status!r} is not OK, PONG, CMD or ERR")
    if ack.status == "ERR" and ack.detail not in ERROR_CODES:
        raise refuse("§9.2", f"error code {ack.detail!r} is none of §9.2's")
    if ack.status == "PONG" and ack.detail is not None:
        raise refuse("§9.1", "a PONG with a detail")
    detail = ack.detail
    if detail is not None and not detail.startswith("[") and not _DETAIL.fullmatch(detail):
        raise refuse("§14", f"detail {ack.detail[:30]!r} has characters no detail has")
    if ack.status == "OK" and ack.detail is not None and ack.detail.startswith("["):
        parse_variable_list(ack.detail)
    return ack


def parse_ack_payload(payload: str | bytes) -> Ack:
    """An ACK as the MQTT binding's ack topic carries it (TagoTipServers §3.3): no `ACK|`."""
    text = payload.decode() if isinstance(payload, bytes) else payload
    return parse_ack("ACK|" + text)


def ack_payload(ack: Ack) -> str:
    """`ack` as the MQTT binding's ack topic carries it: `[!N|]STATUS[|DETAIL]`."""
    return ack.text().removeprefix("ACK|")
