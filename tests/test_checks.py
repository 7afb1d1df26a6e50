"""The registry of checks: each one passes a good response and fails the response that breaks it."""

from __future__ import annotations

import pytest
import requests

from tagocheck.judge import checks
from tagocheck.server.launcher import start_target

TOKEN = "2b1f0e8c-5a6d-4c3b-9e7f-0a1b2c3d4e5f"
RECORD = {
    "id": "614387cf68b5840012f1a2b3",
    "device": "6010ea3cb1f2e10012c7a4d1",
    "variable": "temperature",
    "value": 21.5,
    "time": "2021-09-16T17:51:43.672Z",
    "created_at": "2021-09-16T17:51:43.672Z",
}


def test_a_good_success_is_accepted_without_violations():
    verdict = checks.judge("POST", "/data", 200, b'{"status": true, "result": "2 Data Added"}')
    assert verdict.outcome == checks.ACCEPTED and verdict.ok and verdict.route == "POST /data"


def test_html_is_not_an_envelope():
    verdict = checks.judge("GET", "/data", 502, b"<html><h1>Bad Gateway</h1></html>")
    assert verdict.outcome == checks.NOT_ENVELOPE
    assert [v.check for v in verdict.violations] == ["envelope"]


def test_status_as_string_is_not_an_envelope():
    verdict = checks.judge("GET", "/info", 200, {"status": "true", "result": {}})
    assert verdict.outcome == checks.NOT_ENVELOPE
    assert verdict.violations[0].where == "/status"


def test_result_schema_of_the_route_applies():
    bad = checks.judge("GET", "/data", 200, {"status": True, "result": [{**RECORD, "id": "x"}]})
    assert [v.check for v in bad.violations] == ["result"]
    assert bad.violations[0].where == "/result/0/id"
    assert checks.judge("GET", "/data", 200, {"status": True, "result": [RECORD]}).ok


def test_the_query_picks_the_result_schema():
    count = {"status": True, "result": 7}
    assert checks.judge("GET", "/data?query=count", 200, count, query={"query": "count"}).ok
    assert not checks.judge("GET", "/data", 200, count).ok


def test_a_failure_with_http_200_breaks_the_status_check():
    verdict = checks.judge("GET", "/info", 200, {"status": False, "message": "Invalid Token"})
    assert [v.check for v in verdict.violations] == ["status-code"]
    assert verdict.variants["failure-message"] == ["failure-message-top"]


def test_failure_shapes_are_recorded_as_variants():
    nested = checks.judge("GET", "/info", 401, {"status": False, "result": {"message": "No"}})
    assert nested.ok and nested.outcome == checks.REJECTED
    assert nested.variants["failure-message"] == ["failure-message-in-result"]


def test_create_status_and_key_variants_are_recorded_not_violations():
    body = {"status": True, "result": {"deviceID": "6010ea3cb1f2e10012c7a4d1", "token": TOKEN}}
    verdict = checks.judge("POST", "/device", 200, body)
    assert verdict.ok
    assert verdict.variants["success-status"] == ["200"]
    assert verdict.variants["POST /device result"] == ["created-deviceID"]
    other = checks.judge("POST", "/device", 202, body)
    assert other.ok
    assert [(v.severity, v.check) for v in other.minor] == [("deviation", "status-code")]


def test_429_body_and_retry_after_header():
    good = {"status": False, "message": "Too many requests (Retry-After: 12)"}
    verdict = checks.judge("GET", "/info", 429, good, headers={"Retry-After": "12"})
    assert verdict.ok and verdict.outcome == checks.RATE_LIMITED
    wrong_text = checks.judge("GET", "/info", 429, {"status": False, "message": "slow down"})
    assert [v.check for v in wrong_text.violations] == ["too-many-requests"]
    bad_header = checks.judge("GET", "/info", 429, good, headers={"retry-after": "soon"})
    assert [v.where for v in bad_header.violations] == ["Retry-After"]


def test_server_errors_are_classified():
    verdict = checks.judge("GET", "/info", 503, {"status": False, "message": "down"})
    assert verdict.outcome == checks.SERVER_ERROR and verdict.ok


def test_tokens_never_reach_a_violation_message():
    body = {"status": True, "result": {"device_id": TOKEN, "token": TOKEN}}
    verdict = checks.judge("POST", "/device", 201, body)
    assert verdict.violations
    assert all(TOKEN not in str(v) for v in verdict.violations)


@pytest.mark.parametrize(
    ("fault", "check"),
    [("bad-envelope", "envelope"), ("html-errors", "envelope"), ("wrong-status", "status-code")],
)
def test_checks_catch_the_faulty_target(tmp_path, fault, check):
    with start_target(tmp_path, "--plan", "unlimited", "--fault", fault) as target:
        token = target.profile_token if fault == "bad-envelope" else "wrong-token"
        response = requests.get(target.url + "/info", headers={"Token": token}, timeout=10)
        verdict = checks.judge("GET", "/info", response.status_code, response.content)
        assert check in [v.check for v in verdict.violations]


def test_checks_pass_the_healthy_target(tmp_path):
    with start_target(tmp_path, "--plan", "unlimited") as target:
        for token in (target.profile_token, "wrong-token"):
            response = requests.get(target.url + "/info", headers={"Token": token}, timeout=10)
            verdict = checks.judge(
                "GET", "/info", response.status_code, response.content, token_kind="profile"
            )
            assert verdict.ok, verdict.violations


RECORD = {
    "id": "6010ea3cb1f2e10012c7a4d1",
    "device": "6010ea3cb1f2e10012c7a4d1",
    "variable": "temp",
    "time": "2024-03-01T00:00:00.000Z",
}


def graded(method, path, status, body, query=None):
    verdict = checks.judge(method, path, status, body, query=query)
    return [(v.severity, v.check, v.where) for v in verdict.findings]


def test_each_check_has_its_severity():
    """Rules the docs state are violations; forms they only show are deviations; what they leave
    open is an observation, named by key."""
    assert graded("GET", "/data", 200, {"status": True, "result": [{**RECORD, "x": 1}]}) == [
        ("observation", "result", "/result/0/x")
    ]
    assert graded("GET", "/data", 200, {"status": True, "result": [], "extra": 1}) == [
        ("observation", "envelope", "/extra")
    ]
    assert graded("POST", "/data", 200, {"status": True, "result": "1 data added"}) == [
        ("deviation", "result", "/result")
    ]
    assert graded("DELETE", "/device/6010ea3cb1f2e10012c7a4d1", 200, {"status": True}) == [
        ("deviation", "result", "/result")
    ]
    assert graded("GET", "/data", 200, {"status": True}) == [("violation", "result", "/result")]
    assert graded("GET", "/data", 400, {"status": False, "result": "bad"}) == [
        ("deviation", "envelope", "/")
    ]
    assert graded("GET", "/data", 200, {"status": False, "message": "no"}) == [
        ("violation", "status-code", "/status")
    ]
    assert graded("GET", "/data", 404, {"status": False, "message": "route not found"}) == [
        ("violation", "route-absent", "/")
    ]
    assert (
        graded(
            "GET",
            "/device/6010ea3cb1f2e10012c7a4d1",
            404,
            {"status": False, "message": "Device not found"},
        )
        == []
    )
    assert graded(
        "GET", "/data", 200, {"status": True, "result": [{**RECORD, "value": {"a": 1}}]}
    ) == [("violation", "result", "/result/0/value")]


def test_a_failure_keeps_the_targets_own_explanation():
    body = {
        "status": False,
        "message": "Error on Query String parameters",
        "field_errors": {"fields": ["Expected array, received string"]},
    }
    verdict = checks.judge("GET", "/device", 400, body)
    assert verdict.message == "Error on Query String parameters"
    assert verdict.said == (
        'Error on Query String parameters [{"field_errors":{"fields":["Expected array, '
        'received string"]}}]'
    )
