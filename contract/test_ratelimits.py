"""Rate limits: exactly the plan's figure per window, then 429 as documented until the boundary.

Marked slow: against the cloud each test waits for a fresh calendar minute. Against the embedded
target the window is a few seconds. Requests here do not wait out 429s: the test needs to see them.

They judge only what they saw: a burst that did not fit in one window (a slow path, a slow
machine) is sent again concurrently, and if it still does not fit, the limit is "not judged", never
failed. With --plan none no limit is expected: what the target does is an observation.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fleet_setup import fail_with

from tagocheck.judge import checks
from tagocheck.judge.findings import OBSERVATION, VIOLATION
from tagocheck.spec import ratelimits

pytestmark = pytest.mark.slow
LIMITS = ratelimits.rate_limits()
# Routes with small limits on every plan, so a window's worth of requests stays cheap.
PROBED = [
    ("GET /device", "GET", "/device", {"amount": 1}),
    ("GET /data?query=aggregate", "GET", "/data", {"query": "aggregate", "start_date": "1 day"}),
]
UNPLANNED_BURST = 101
"""Requests sent in one window to a target with no plan: above every plan's limit on GET /device
except Scale's (500), enough to see whether there is any limit at all."""
CONCURRENCY = 8


def fresh_window(window: float) -> None:
    """Sleep to just after the next window boundary: the test's burst must have the window to
    itself, since requests earlier in the current one (other tests') count too."""
    now = time.time()
    time.sleep(math.ceil(now / window) * window - now + 0.05)


def send(fleet, kind: str, method: str, path: str, params):
    token = fleet.target.profile_token if kind == "profile" else fleet.a.token
    return fleet.client.request(
        method, path, token=token, token_kind=kind, params=params, honour_429=False
    )


def burst(fleet, count: int, request, concurrent: bool):
    """`count` requests from the start of a fresh window, and whether they all fell in it."""
    window = fleet.target.window
    fresh_window(window)
    began = time.time()
    if concurrent:
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            replies = list(pool.map(lambda _: request(), range(count)))
    else:
        replies = [request() for _ in range(count)]
    ended = time.time()
    fitted = math.floor(began / window) == math.floor(ended / window)
    return replies, began, ended, fitted


@pytest.mark.parametrize("probe", PROBED, ids=[p[0] for p in PROBED])
def test_the_limit_is_exact_and_429_is_documented(fleet, probe):
    """Within one window exactly the plan's limit is accepted, the next request gets the
    documented 429 pointing at the next window, and the route works after it (facts 5) [C]."""
    label, method, path, params = probe
    route, _, query = label.partition("?")
    kind = "profile" if route.startswith("GET /device") else "device-full"
    window = fleet.target.window
    recorder = fleet.recorder

    def request():
        return send(fleet, kind, method, path, params)

    if not fleet.target.has_plan:
        replies, *_ = burst(fleet, UNPLANNED_BURST, request, concurrent=True)
        first = next((i for i, r in enumerate(replies) if r.status == 429), None)
        seen = (
            f"no limit seen: {UNPLANNED_BURST} requests in one window all answered without 429"
            if first is None
            else f"429 from request {first + 1} of {UNPLANNED_BURST} in one window"
        )
        recorder.find(
            route,
            "rate-limit seen",
            OBSERVATION,
            expected="no plan given (--plan none): no limit expected [?]",
            observed=seen,
        )
        return
    limit = LIMITS.per_minute(fleet.target.plan, route, dict([query.split("=")]) if query else {})
    assert limit is not None
    replies, began, ended, fitted = burst(fleet, limit + 1, request, concurrent=False)
    if not fitted:
        replies, began, ended, fitted = burst(fleet, limit + 1, request, concurrent=True)
    if not fitted:
        pytest.skip(
            f"not judged: the burst of {limit + 1} took {ended - began:.1f} s, longer than "
            f"the {window:g}-s window, also sent {CONCURRENCY} at a time"
        )
    # Concurrent requests may be answered in any order: the limit is judged by counts.
    throttled = [r for r in replies if r.status == 429]
    others = [r for r in replies if r.status != 429]
    if len(throttled) > 1:
        fail_with(
            recorder.find(
                label,
                "rate-limit",
                VIOLATION,
                where="early",
                expected=f"{limit} requests per window on the {fleet.target.plan} plan [C]",
                observed=f"{len(throttled)} of {limit + 1} requests in one window got 429 "
                f"({limit + 1 - len(throttled)} accepted)",
                reproduction=throttled[0].curl,
            )
        )
    if not throttled:
        fail_with(
            recorder.find(
                label,
                "rate-limit",
                VIOLATION,
                where="absent",
                expected=f"{limit} requests per window on the {fleet.target.plan} plan, "
                "then 429 [C]",
                observed=f"no rate limiting: {limit + 1} requests in one window all answered "
                f"(HTTP {sorted({r.status for r in others})})",
                reproduction=others[-1].curl,
            )
        )
    over = throttled[0]
    assert over.verdict.outcome == checks.RATE_LIMITED
    wait = LIMITS.retry_after_from_message(over.body["message"])
    header = over.headers.get(LIMITS.retry_after_header)
    recorder.note(label, "Retry-After header", "sent" if header else "absent")
    next_boundary = (math.floor(ended / window) + 1) * window - time.time()
    assert wait is not None and abs(wait - next_boundary) <= 1.5, (
        f"{label}: Retry-After says {wait} s; the next window starts in {next_boundary:.1f} s"
    )
    if header is not None:
        assert int(header) == wait
    time.sleep(max(0.0, next_boundary) + 0.05)
    assert request().verdict.succeeded, f"{label}: still throttled after the boundary"


@pytest.mark.subjects("POST /data")
def test_a_device_limit_throttles_that_device_only(fleet):
    """A device's rpm throttles that device, and no other: per-device limits are the data
    routes' soft limits (facts 5) [C]."""
    if not fleet.target.has_plan:
        pytest.skip("not judged: with --plan none no per-device limit is expected")
    slow = fleet.device("rpm-limited")
    try:
        fleet.profile("PUT", f"/device/{slow.id}", json={"rpm": {"data_input": 2}})
        window = fleet.target.window
        fresh_window(window)
        began = time.time()
        codes = [
            fleet.client.request(
                "POST",
                "/data",
                token=slow.token,
                token_kind="device-full",
                json={"variable": "rpm"},
                honour_429=False,
            ).status
            for _ in range(3)
        ]
        if math.floor(began / window) != math.floor(time.time() / window):
            pytest.skip(f"not judged: 3 requests took longer than the {window:g}-s window")
        other = fleet.client.request(
            "POST",
            "/data",
            token=fleet.b.token,
            token_kind="device-full",
            json={"variable": "rpm"},
            honour_429=False,
        )
        assert all(200 <= c < 300 for c in codes[:2]), f"the first 2 of an rpm of 2: {codes}"
        assert codes[2] == 429, f"the 3rd request over an rpm of 2 got HTTP {codes[2]}"
        assert other.verdict.succeeded, "another device was throttled by this device's limit"
    finally:
        fleet.remove(slow.id)
