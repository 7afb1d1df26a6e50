"""Transport: `_ssl=false` as a header and as a query key, and what plain HTTP without it does."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import requests

from tagocheck import checks


def test_ssl_false_as_header_and_as_query(fleet):
    token = fleet.target.profile_token
    as_header = fleet.client.request(
        "GET", "/info", token=token, token_kind="profile", headers={"_ssl": "false"}
    )
    as_query = fleet.client.request(
        "GET", "/info", token=token, token_kind="profile", params={"_ssl": "false"}
    )
    assert as_header.ok and as_query.ok


def test_plain_http_without_ssl_false_is_recorded(fleet):
    url = fleet.target.info.get("http_url") or fleet.target.url
    parts = urlsplit(url)
    plain = urlunsplit(
        ("http", parts.netloc if parts.scheme == "http" else parts.hostname, "/info", "", "")
    )
    try:
        response = requests.get(plain, headers={"Token": fleet.target.profile_token}, timeout=10)
    except requests.RequestException as error:
        fleet.client.recorder.note(
            "GET /info",
            "plain HTTP without _ssl=false",
            f"connection failed ({type(error).__name__})",
        )
        return
    verdict = checks.judge("GET", "/info", response.status_code, response.content)
    behaviour = (
        "accepted" if verdict.outcome == checks.ACCEPTED else f"refused ({response.status_code})"
    )
    fleet.client.recorder.note("GET /info", "plain HTTP without _ssl=false", behaviour)
    assert verdict.ok, [str(v) for v in verdict.violations]


HEADERS = {
    "Device-Token": "device-full",
    "Profile-Token": "profile",
    "Account-Token": "profile",
    "Analysis-Token": "analysis-no-policy",
    "Middleware-Token": "network",
    "Token": "device-full",
    "token": "profile",
    "Authorization": "device-full",
}


def test_which_token_headers_the_target_honours(fleet):
    honoured = []
    for header, kind in HEADERS.items():
        token = fleet.tokens_for(kind)
        if token is None:
            continue
        reply = fleet.client.request("GET", "/info", token=token, token_kind=kind, header=header)
        fleet.client.recorder.note(
            "GET /info",
            f"token header {header}",
            "honoured" if reply.ok else f"refused ({reply.status})",
        )
        if reply.ok:
            honoured.append(header)
    assert "token" in honoured, "the official SDKs send a lowercase token header; it was refused"


def test_latency_budget(fleet):
    """p95 of a simple authenticated request stays within --latency-budget-ms."""
    import time

    samples = []
    for _ in range(20):
        began = time.perf_counter()
        fleet.client.request("GET", "/info", token=fleet.target.profile_token, token_kind="profile")
        samples.append((time.perf_counter() - began) * 1000)
    p95 = sorted(samples)[int(len(samples) * 0.95) - 1]
    budget = fleet.target.latency_budget_ms
    assert p95 <= budget, f"p95 of GET /info is {p95:.0f} ms; the budget is {budget:.0f} ms"
