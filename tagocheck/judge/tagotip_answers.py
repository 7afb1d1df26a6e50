"""TagoTiP's answers, over the HTTP binding or the MQTT one, judged into the same verdict as a
REST answer.

A fleet on `--via tagotip-http` is counted, paced and reconciled like one on POST /data, so its
answers become the same outcomes (accepted, rate-limited, rejected, server-error, and not an ACK
where a REST answer would be no envelope) with `added` the OK's count. Only the binding's own
table is the rule (tagocheck.tagotip.http_binding): an answer outside it is a violation of
TagoTipServers §2.5.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from tagocheck.judge.checks import (
    ACCEPTED,
    NOT_ENVELOPE,
    RATE_LIMITED,
    REJECTED,
    SERVER_ERROR,
    Verdict,
    Violation,
)
from tagocheck.tagotip import http_binding as binding
from tagocheck.tagotip.frames import Ack, parse_ack, parse_ack_payload
from tagocheck.tagotip.grammar import ERROR_CODES, FrameError

ROUTE = f"POST {binding.PUSH_PATH}{{serial}}"
MQTT_ROUTE = "PUBLISH $tip/{serial}/push"
MQTT_RULE = "TagoTiP §9 and TagoTipServers §3.3: [!N|]STATUS[|DETAIL], an OK's count [C]"
UDP_ROUTE = "DATAGRAM PUSH|{serial}"
UDP_RULE = "TagoTiP §4.2, §9 and transports/udp: ACK|[!N|]STATUS[|DETAIL], an OK's count [C]"
RULE = "TagoTipServers §2.5: an OK's count as text, or the error code with its status [C]"
_COUNT = re.compile(r"0|[1-9][0-9]*")


def _outcome(status: int) -> str:
    if status == 429:
        return RATE_LIMITED
    if status >= 500:
        return SERVER_ERROR
    return REJECTED


@lru_cache(maxsize=1024)
def judge_push(status: int, body: bytes) -> Verdict:
    """The verdict on one PUSH's answer (small bodies: a run sees a few answers many times;
    callers treat it as read-only)."""
    text = body.decode("utf-8", "replace")
    shown = text[:60]
    if status == binding.OK_STATUS:
        if _COUNT.fullmatch(text):
            return Verdict(ROUTE, status, ACCEPTED, added=int(text), succeeded=True)
        why = f"200 with body {shown!r}, not the count of data points added"
        return Verdict(
            ROUTE, status, NOT_ENVELOPE, [Violation("tagotip-ack", "body", why, expected=RULE)],
            message=why,
        )  # fmt: skip
    if status < 400:
        why = f"HTTP {status} to a PUSH: the binding answers 200 or an error code"
        violation = Violation("tagotip-ack", "status", why, expected=RULE)
        return Verdict(ROUTE, status, NOT_ENVELOPE, [violation], message=why)
    outcome = _outcome(status)
    if text not in ERROR_CODES:
        why = f"HTTP {status} with body {shown!r}, not a TagoTiP error code"
        violation = Violation("tagotip-ack", "body", why, expected=RULE)
        return Verdict(ROUTE, status, outcome, [violation], message=why)
    expected = binding.STATUS_OF_ERROR.get(text)
    violations = []
    if expected is not None and expected != status:
        why = f"{text} came with HTTP {status}, not {expected}"
        violations.append(Violation("tagotip-ack", "status", why, expected=RULE))
        if text == "rate_limited":  # the code says what it is, whatever status carried it
            outcome = RATE_LIMITED
    return Verdict(ROUTE, status, outcome, violations, message=text)


@lru_cache(maxsize=1024)
def judge_mqtt(payload: bytes) -> Verdict:
    """The verdict on one PUSH's ACK from the ack topic (`!N|OK|3`, `!N|ERR|rate_limited`),
    with the status the HTTP binding's table gives it, so it is counted as an HTTP answer is."""
    return _judge_ack(
        payload,
        parse_ack_payload,
        MQTT_ROUTE,
        "the ack topic",
        lambda why: Violation("tagotip-ack", "payload", why, expected=MQTT_RULE),
    )


@lru_cache(maxsize=1024)
def judge_udp(datagram: bytes) -> Verdict:
    """The verdict on one PUSH's ACK datagram (`ACK|!N|OK|3`), counted as the MQTT one is."""
    return _judge_ack(
        datagram,
        parse_ack,
        UDP_ROUTE,
        "the answer datagram",
        lambda why: Violation("tagotip-ack", "payload", why, expected=UDP_RULE),
    )


def _judge_ack(
    raw: bytes,
    parse: Callable[[bytes], Ack],
    route: str,
    where: str,
    broken: Callable[[str], Violation],
) -> Verdict:
    """An ACK read by `parse` into its verdict; `broken(why)` is the binding's violation (its
    rule, labelled, stated where the binding is)."""
    try:
        ack = parse(raw)
    except (FrameError, UnicodeDecodeError) as refused:
        why = f"{where} carried {raw[:60]!r}: {refused}"
        return Verdict(route, 0, NOT_ENVELOPE, [broken(why)], message=why)
    status = binding.status_of(ack.status, ack.detail)
    if ack.status == "OK" and ack.detail is not None and _COUNT.fullmatch(ack.detail):
        return Verdict(route, status, ACCEPTED, added=int(ack.detail), succeeded=True)
    if ack.status == "ERR":
        return Verdict(route, status, _outcome(status), message=ack.detail)
    why = f"{ack.status}|{ack.detail} to a PUSH: an OK with the count, or an error"
    return Verdict(route, status, NOT_ENVELOPE, [broken(why)], message=why)
