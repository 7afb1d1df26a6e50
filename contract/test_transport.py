"""Transport: `_ssl=false` as a header and as a query key, what plain HTTP without it does, which
token headers the target honours, and the latency budget.

Each probe uses a route the token may call and the target has (GET /info, else another), so a
missing /info is that route's finding, not every header's.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from fleet_setup import fail_with

from tagocheck.judge import checks
from tagocheck.judge.findings import DEVIATION, OBSERVATION

SUBJECTS = ("GET /info",)


def test_ssl_false_as_header_and_as_query(fleet):
    """`_ssl=false` is documented both as a header and as a query key [C]; both are accepted."""
    route, path = fleet.probe_path("profile")
    token = fleet.target.profile_token
    forms = {
        "header": {"headers": {"_ssl": "false"}},
        "query key": {"params": {"_ssl": "false"}},
    }
    refused = []
    for form, extra in forms.items():
        reply = fleet.client.request("GET", path, token=token, token_kind="profile", **extra)
        fleet.recorder.note(
            route, f"_ssl=false as a {form}", "accepted" if reply.verdict.succeeded else "refused"
        )
        if not reply.verdict.succeeded:
            refused.append((form, reply))
    if refused:
        fail_with(
            *(
                fleet.recorder.find(
                    route,
                    "ssl-false",
                    DEVIATION,
                    where=form,
                    expected="_ssl=false is accepted as a header or a query key [C]",
                    observed=f"HTTP {reply.status}: {reply.said}",
                    reproduction=reply.curl,
                )
                for form, reply in refused
            )
        )


def test_plain_http_without_ssl_false_is_recorded(fleet):
    """What plain HTTP without _ssl=false gets is recorded, not judged: no source says [?]."""
    url = fleet.target.info.get("http_url") or fleet.target.url
    parts = urlsplit(url)
    route, path = fleet.probe_path("profile")
    plain = urlunsplit(
        ("http", parts.netloc if parts.scheme == "http" else parts.hostname, path, "", "")
    )
    try:
        response = requests.get(plain, headers={"Token": fleet.target.profile_token}, timeout=10)
    except requests.RequestException as error:
        fleet.recorder.note(
            route, "plain HTTP without _ssl=false", f"connection failed ({type(error).__name__})"
        )
        return
    verdict = checks.judge("GET", path, response.status_code, response.content)
    behaviour = (
        "accepted" if verdict.outcome == checks.ACCEPTED else f"refused ({response.status_code})"
    )
    fleet.recorder.note(route, "plain HTTP without _ssl=false", behaviour)
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
    """The official SDKs send a lowercase `token` header for every token [SDK]; the docs name
    others [X]. Which are honoured is recorded; a lowercase header refused where the same token
    works under another name is a deviation (the SDKs could not talk to this target)."""
    honoured, refused = [], {}
    for header, kind in HEADERS.items():
        token = fleet.tokens_for(kind)
        if token is None:
            continue
        route, path = fleet.probe_path(kind)
        reply = fleet.client.request("GET", path, token=token, token_kind=kind, header=header)
        fleet.recorder.note(
            route,
            f"token header {header}",
            "honoured" if reply.verdict.succeeded else f"refused ({reply.status})",
        )
        (honoured.append(header) if reply.verdict.succeeded else refused.update({header: reply}))
    if "token" in refused and "Profile-Token" in honoured:
        reply = refused["token"]
        fail_with(
            fleet.recorder.find(
                reply.route,
                "token-header",
                DEVIATION,
                where="token",
                expected="the lowercase token header the official SDKs send is honoured [SDK]",
                observed=f"refused (HTTP {reply.status}: {reply.said}) while Profile-Token "
                "worked with the same token",
                reproduction=reply.curl,
            )
        )
    if not honoured:
        fleet.recorder.find(
            "GET /info",
            "token-header",
            OBSERVATION,
            expected="some documented token header is honoured [C]",
            observed="no token header was honoured on the probe routes",
        )


def test_latency_budget(fleet):
    """p95 of a simple authenticated request stays within --latency-budget-ms, the run's own
    threshold [user]."""
    route, path = fleet.probe_path("profile")
    samples = []
    for _ in range(20):
        began = time.perf_counter()
        fleet.client.request("GET", path, token=fleet.target.profile_token, token_kind="profile")
        samples.append((time.perf_counter() - began) * 1000)
    p95 = sorted(samples)[int(len(samples) * 0.95) - 1]
    budget = fleet.target.latency_budget_ms
    if p95 > budget:
        pytest.fail(f"p95 of {route} is {p95:.0f} ms; the budget is {budget:.0f} ms")
