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
from tagocheck.tagotip.frames import parse_ack_payload
from tagocheck.tagotip.grammar import ERROR_CODES, FrameError

ROUTE = f"POST {binding.PUSH_PATH}{{serial}}"
MQTT_ROUTE = "PUBLISH $tip/{serial}/push"
MQTT_RULE = "TagoTiP §9 and TagoTipServers §3.3: [!N|]STATUS[|DETAIL], an OK's count [C]"
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
    try:
        ack = parse_ack_payload(payload)
    except (FrameError, UnicodeDecodeError) as refused:
        why = f"the ack topic carried {payload[:60]!r}: {refused}"
        violation = Violation("tagotip-ack", "payload", why, expected=MQTT_RULE)
        return Verdict(MQTT_ROUTE, 0, NOT_ENVELOPE, [violation], message=why)
    status = binding.status_of(ack.status, ack.detail)
    if ack.status == "OK" and ack.detail is not None and _COUNT.fullmatch(ack.detail):
        return Verdict(MQTT_ROUTE, status, ACCEPTED, added=int(ack.detail), succeeded=True)
    if ack.status == "ERR":
        return Verdict(MQTT_ROUTE, status, _outcome(status), message=ack.detail)
    why = f"{ack.status}|{ack.detail} to a PUSH: an OK with the count, or an error"
    violation = Violation("tagotip-ack", "payload", why, expected=MQTT_RULE)
    return Verdict(MQTT_ROUTE, status, NOT_ENVELOPE, [violation], message=why)
