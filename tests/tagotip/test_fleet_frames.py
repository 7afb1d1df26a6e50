"""A fleet's report as a TagoTiP frame, and the judge of the binding's answers: every profile's
readings survive the frame (written as the body's objects write it, parsed back to the same
records, groups and times), and every answer the binding's table allows is read as its outcome
while anything else is a violation."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagocheck.fleet.payloads import PROFILES
from tagocheck.fleet.tip_payloads import push_body, push_text
from tagocheck.judge import checks
from tagocheck.judge.tagotip_answers import (
    UDP_ROUTE,
    judge_ack,
    judge_push,
    judge_sealed,
)
from tagocheck.tagotip import bindings, http_binding
from tagocheck.tagotip.bodies import parse_push_body
from tagocheck.tagotip.grammar import ERROR_CODES

CARRIED = [name for name in PROFILES if name != "random"]  # random is refused on TagoTiP


@pytest.mark.parametrize("profile", CARRIED)
@given(
    seed=st.integers(0, 2**32),
    device=st.integers(0, 10**6),
    readings=st.lists(st.tuples(st.integers(0, 10**6), st.none() | st.integers(0, 2**41)),
                      min_size=1, max_size=3),
    count=st.integers(1, 30),
)  # fmt: skip
def test_a_report_s_readings_parse_back_from_its_frame(profile, seed, device, readings, count):
    rng = random.Random(seed)
    sent = [
        (f"tc1a2b3c_1_{sequence}", measured, PROFILES[profile](rng, device, sequence, count))
        for sequence, measured in readings
    ]
    frame = push_text(sent)  # what the fleet sends, written without the objects
    assert frame == push_body(sent).text()
    parsed = parse_push_body(frame)
    points = parsed.points()
    expected = [(g, m, r) for g, m, records in sent for r in records]
    assert len(points) == len(expected)
    for point, (group, measured, record) in zip(points, expected, strict=True):
        assert (point.name, point.group, point.time) == (record["variable"], group, measured)
        assert point.value == record["value"]
        assert point.unit == (record.get("unit") or None)
        place = record.get("location")
        if place is not None:
            assert (point.location.lat, point.location.lng) == (place["lat"], place["lng"])
        assert point.metadata == {k: str(v) for k, v in (record.get("metadata") or {}).items()}


def test_the_binding_s_answers_are_read_as_their_outcomes():
    ok = judge_push(200, b"3")
    assert (ok.outcome, ok.added, ok.succeeded, ok.violations) == (checks.ACCEPTED, 3, True, [])
    for code, status in http_binding.STATUS_OF_ERROR.items():
        verdict = judge_push(status, code.encode())
        assert not verdict.violations, (code, verdict.violations)
        assert verdict.message == code
        expected = {429: checks.RATE_LIMITED, 500: checks.SERVER_ERROR}.get(status, checks.REJECTED)
        assert verdict.outcome == expected


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, b'{"status": true}', checks.NOT_ENVELOPE),  # a REST answer, not a count
        (200, b"03", checks.NOT_ENVELOPE),  # no leading zeros
        (201, b"3", checks.NOT_ENVELOPE),
        (400, b"<html>bad</html>", checks.REJECTED),
        (400, b"rate_limited", checks.RATE_LIMITED),  # the code says it; the status is wrong
        (500, b"device_not_found", checks.SERVER_ERROR),
    ],
)
def test_an_answer_outside_the_binding_s_table_is_a_violation(status, body, outcome):
    verdict = judge_push(status, body)
    assert verdict.outcome == outcome
    assert [v.check for v in verdict.violations] == ["tagotip-ack"]
    assert verdict.violations[0].label == "C"
    assert verdict.added is None


def test_every_code_the_table_names_is_a_code_of_the_specification():
    assert set(http_binding.STATUS_OF_ERROR) <= set(ERROR_CODES)


def test_an_ack_from_the_ack_topic_is_read_as_the_http_binding_would_count_it():
    ok = judge_ack(bindings.MQTT, b"!7|OK|2")
    assert (ok.outcome, ok.added, ok.status, ok.violations) == (checks.ACCEPTED, 2, 200, [])
    throttled = judge_ack(bindings.MQTT, b"!8|ERR|rate_limited")
    assert (throttled.outcome, throttled.status) == (checks.RATE_LIMITED, 429)
    refused = judge_ack(bindings.MQTT, b"!9|ERR|device_not_found")
    assert (refused.outcome, refused.status, refused.message) == (
        checks.REJECTED,
        404,
        "device_not_found",
    )
    for broken in (b"garbage", b"!9|OK|[a:=1]", b"!9|ERR|no_such_code"):
        verdict = judge_ack(bindings.MQTT, broken)
        assert verdict.outcome == checks.NOT_ENVELOPE, broken
        assert [v.check for v in verdict.violations] == ["tagotip-ack"]


def test_an_ack_datagram_is_read_as_the_ack_topics_are_and_a_bare_payload_is_not_one():
    """Over UDP the answer is a whole ACK frame (`ACK|!N|...`, TagoTiP §4.2): counted as the
    ack topic's payloads are; the ack topic's form, without `ACK|`, is no answer there."""
    ok = judge_ack(bindings.UDP, b"ACK|!7|OK|2")
    assert (ok.outcome, ok.added, ok.status, ok.route) == (checks.ACCEPTED, 2, 200, UDP_ROUTE)
    throttled = judge_ack(bindings.UDP, b"ACK|!8|ERR|rate_limited\n")
    assert (throttled.outcome, throttled.status) == (checks.RATE_LIMITED, 429)
    for broken in (b"!7|OK|2", b"ACK|!9|OK|[a:=1]", b"\xff\xfe"):
        verdict = judge_ack(bindings.UDP, broken)
        assert verdict.outcome == checks.NOT_ENVELOPE, broken
        assert [(v.check, v.label) for v in verdict.violations] == [("tagotip-ack", "C")]


def test_a_sealed_answer_is_read_by_what_it_means_and_over_http_by_its_status_too():
    """An opened sealed ACK counts as the plain one would (a sealed ERR|rate_limited is a 429
    though POST /v1/tips carries it in a 200, TagoTipServers §2.9); a plaintext fallback by
    §2.9's own table; and over HTTP a status that is not the one §2.9 gives is a violation."""
    route = "POST /v1/tips"
    ok = judge_sealed(b"ACK|OK|2", route, 200)
    assert (ok.outcome, ok.added, ok.status, ok.route, ok.violations) == (
        checks.ACCEPTED, 2, 200, route, [],
    )  # fmt: skip
    throttled = judge_sealed(b"ACK|ERR|rate_limited", route, 200)
    assert (throttled.outcome, throttled.status, throttled.violations) == (
        checks.RATE_LIMITED, 429, [],
    )  # fmt: skip
    fallback = judge_sealed(b"ACK|ERR|auth_failed", route, 400)
    assert (fallback.outcome, fallback.status, fallback.violations) == (
        checks.REJECTED, 400, [],
    )  # fmt: skip
    assert judge_sealed(b"ACK|ERR|envelope_too_large", route, 413).violations == []
    for frame, carried_by in ((b"ACK|OK|2", 201), (b"ACK|ERR|auth_failed", 401)):
        verdict = judge_sealed(frame, route, carried_by)
        assert [(v.check, v.where) for v in verdict.violations] == [("tagotip-ack", "status")]
    # refused before the envelope was opened, in the plain binding's form (§2.5): a deviation
    for frame in (b"ACK|ERR|rate_limited", b"rate_limited"):
        early = judge_sealed(frame, route, 429)
        assert (early.outcome, early.status, early.violations) == (checks.RATE_LIMITED, 429, [])
        assert [(v.check, v.severity) for v in early.minor] == [("tagotip-ack", "deviation")]
    assert judge_sealed(b"ACK|ERR|auth_failed", "PUBLISH $tips/{serial}/push").violations == []
    for unopened in (b"\x00\x01sealed-with-another-key", b"ACK|OK|[a:=1]"):
        verdict = judge_sealed(unopened, route, 200)
        assert verdict.outcome == checks.NOT_ENVELOPE, unopened
        assert [(v.check, v.label) for v in verdict.violations] == [("tagotip-ack", "C")]
