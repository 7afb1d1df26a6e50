"""TagoTiP's answers, over any binding and sealed or not, judged into the same verdict as a
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
from dataclasses import replace
from functools import lru_cache
from typing import NamedTuple

from tagocheck.judge.checks import (
    ACCEPTED,
    DEVIATION,
    NOT_ENVELOPE,
    RATE_LIMITED,
    REJECTED,
    SERVER_ERROR,
    Verdict,
    Violation,
)
from tagocheck.tagotip import bindings
from tagocheck.tagotip import http_binding as binding
from tagocheck.tagotip.frames import Ack, parse_ack, parse_ack_payload
from tagocheck.tagotip.grammar import ERROR_CODES, FrameError

ROUTE = f"POST {binding.PUSH_PATH}{{serial}}"
MQTT_ROUTE = "PUBLISH $tip/{serial}/push"
MQTT_RULE = "TagoTiP §9 and TagoTipServers §3.3: [!N|]STATUS[|DETAIL], an OK's count [C]"
UDP_ROUTE = "DATAGRAM PUSH|{serial}"
UDP_RULE = "TagoTiP §4.2, §9 and transports/udp: ACK|[!N|]STATUS[|DETAIL], an OK's count [C]"
TCP_ROUTE = "TCP PUSH|{serial}"
TCP_RULE = "TagoTipServers §4, transports/tcp: ACK|[!N|]STATUS[|DETAIL] a line, an OK's count [C]"
RULE = "TagoTipServers §2.5: an OK's count as text, or the error code with its status [C]"
SEALED_RULE = "TagoTiPs §7, §9: a sealed ACK the device's key opens, or a plaintext fallback [C]"
SEALED_HTTP_RULE = "TagoTipServers §2.9: 200 with a sealed ACK, a fallback's own status [C]"
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


class AckForm(NamedTuple):
    """How a binding other than HTTP carries a PUSH's ACK: how it is read, the route it is
    counted under, where it came (for a finding's text), and the violation of its rule (each
    written out, so its rule's source label shows where it is made)."""

    parse: Callable[[bytes], Ack]
    route: str
    where: str
    broken: Callable[[str], Violation]


ACK_FORMS = {
    bindings.MQTT: AckForm(
        parse_ack_payload,
        MQTT_ROUTE,
        "the ack topic",
        lambda why: Violation("tagotip-ack", "payload", why, expected=MQTT_RULE),
    ),
    bindings.UDP: AckForm(
        parse_ack,
        UDP_ROUTE,
        "the answer datagram",
        lambda why: Violation("tagotip-ack", "payload", why, expected=UDP_RULE),
    ),
    bindings.TCP: AckForm(
        parse_ack,
        TCP_ROUTE,
        "the answer line",
        lambda why: Violation("tagotip-ack", "payload", why, expected=TCP_RULE),
    ),
}
"""By binding: the ack topic's payload (`!N|OK|3`), a whole ACK frame in a datagram or a line
(`ACK|!N|OK|3`)."""


@lru_cache(maxsize=4096)
def judge_ack(carrier: str, answer: bytes) -> Verdict:
    """The verdict on one PUSH's ACK over `carrier` (a key of ACK_FORMS), with the status the
    HTTP binding's table gives it, so it is counted as an HTTP answer is."""
    form = ACK_FORMS[carrier]
    return _judge_ack(answer, form.parse, form.route, form.where, form.broken)


@lru_cache(maxsize=1024)
def judge_sealed(frame: bytes, route: str, carried_by: int = 0) -> Verdict:
    """The verdict on one sealed PUSH's answer, on any binding: `frame` is the whole ACK the
    answer opened to with the device's key (`ACK|!N|OK|3`) or the plaintext fallback as it came
    (`ACK|ERR|auth_failed`); what did not open is no ACK, and named. `carried_by` is the HTTP
    status it came with over POST /v1/tips (0 elsewhere): see _carried."""
    bare = frame.decode("utf-8", "replace")
    if carried_by and binding.STATUS_OF_ERROR.get(bare) == carried_by:  # §2.5's form, not §2.9's
        why = (
            f"HTTP {carried_by} with the bare code {bare!r}: the plain binding's form (§2.5) "
            "where POST /v1/tips answers an ACK (§2.9)"
        )
        minor = Violation("tagotip-ack", "body", why, DEVIATION, expected=SEALED_HTTP_RULE)
        return Verdict(route, carried_by, _outcome(carried_by), minor=[minor], message=bare)
    verdict = _judge_ack(
        frame,
        parse_ack,
        route,
        "the answer, opened with the device's key,",
        lambda why: Violation("tagotip-ack", "payload", why, expected=SEALED_RULE),
        binding.sealed_status_of,
    )
    if not carried_by or verdict.outcome == NOT_ENVELOPE:
        return verdict
    return _carried(verdict, frame, carried_by)


def _carried(verdict: Verdict, frame: bytes, carried_by: int) -> Verdict:
    """The HTTP status a TagoTiP/S answer came in, against §2.9: 200 for a sealed ACK, a
    fallback's own (400, 413). The frame does not say whether it came sealed, so a fallback's
    code in a 200 passes (it may have been sealed); an error code in the plain binding's status
    for it (a 429 for rate_limited, refused before the envelope was opened) is the plain
    binding's form, a deviation; any other status a violation."""
    detail = verdict.message if verdict.outcome != ACCEPTED else None
    expected = binding.ENVELOPE_FALLBACK_STATUS.get(detail or "", binding.OK_STATUS)
    if carried_by in (expected, binding.OK_STATUS if detail else None):
        return verdict
    why = f"HTTP {carried_by} carried {frame[:40]!r}: POST /v1/tips answers it with {expected}"
    if detail and binding.STATUS_OF_ERROR.get(detail) == carried_by:
        minor = Violation("tagotip-ack", "status", why, DEVIATION, expected=SEALED_HTTP_RULE)
        return replace(verdict, minor=[*verdict.minor, minor])
    violation = Violation("tagotip-ack", "status", why, expected=SEALED_HTTP_RULE)
    return replace(verdict, violations=[*verdict.violations, violation], message=why)


def _judge_ack(
    raw: bytes,
    parse: Callable[[bytes], Ack],
    route: str,
    where: str,
    broken: Callable[[str], Violation],
    status_of: Callable[[str, str | None], int] = binding.status_of,
) -> Verdict:
    """An ACK read by `parse` into its verdict, its meaning in the HTTP binding's statuses by
    `status_of`; `broken(why)` is the binding's violation (its rule, labelled, stated where the
    binding is)."""
    try:
        ack = parse(raw)
    except (FrameError, UnicodeDecodeError) as refused:
        why = f"{where} carried {raw[:60]!r}: {refused}"
        return Verdict(route, 0, NOT_ENVELOPE, [broken(why)], message=why)
    status = status_of(ack.status, ack.detail)
    if ack.status == "OK" and ack.detail is not None and _COUNT.fullmatch(ack.detail):
        return Verdict(route, status, ACCEPTED, added=int(ack.detail), succeeded=True)
    if ack.status == "ERR":
        return Verdict(route, status, _outcome(status), message=ack.detail)
    why = f"{ack.status}|{ack.detail} to a PUSH: an OK with the count, or an error"
    return Verdict(route, status, NOT_ENVELOPE, [broken(why)], message=why)
