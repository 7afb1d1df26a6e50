"""Rate limits: exactly the plan's figure per window, then 429 as documented until the boundary.

Marked slow: against the cloud each test waits for a fresh calendar minute. Against the embedded
target the window is a few seconds. Requests here do not wait out 429s: the test needs to see them.
"""

from __future__ import annotations

import math
import time

import pytest

from tagocheck import checks, ratelimits

pytestmark = pytest.mark.slow
LIMITS = ratelimits.rate_limits()
# Routes with small limits on every plan, so a window's worth of requests stays cheap.
PROBED = [
    ("GET /device", "GET", "/device", {"amount": 1}, None),
    (
        "GET /data?query=aggregate",
        "GET",
        "/data",
        {"query": "aggregate", "start_date": "1 day"},
        None,
    ),
]


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


@pytest.mark.parametrize("probe", PROBED, ids=[p[0] for p in PROBED])
def test_the_limit_is_exact_and_429_is_documented(fleet, probe):
    label, method, path, params, _ = probe
    route, _, query = label.partition("?")
    limit = LIMITS.per_minute(fleet.target.plan, route, dict([query.split("=")]) if query else {})
    assert limit is not None
    kind = "profile" if route.startswith("GET /device") else "device-full"
    window = fleet.target.window
    fresh_window(window)
    replies = [send(fleet, kind, method, path, params) for _ in range(limit)]
    started_window = math.floor(time.time() / window)
    over = send(fleet, kind, method, path, params)
    throttled = [r.status for r in replies if r.status == 429]
    assert not throttled, f"{label}: {len(throttled)} of the first {limit} requests got 429"
    assert over.verdict.outcome == checks.RATE_LIMITED, (
        f"{label}: request {limit + 1} in one window got HTTP {over.status}, not 429"
    )
    wait = LIMITS.retry_after_from_message(over.body["message"])
    header = over.headers.get(LIMITS.retry_after_header)
    fleet.client.recorder.note(label, "Retry-After header", "sent" if header else "absent")
    next_boundary = (started_window + 1) * window - time.time()
    assert wait is not None and abs(wait - next_boundary) <= 1.5, (
        f"{label}: Retry-After says {wait} s; the next window starts in {next_boundary:.1f} s"
    )
    if header is not None:
        assert int(header) == wait
    time.sleep(max(0.0, next_boundary) + 0.05)
    assert send(fleet, kind, method, path, params).ok, (
        f"{label}: still throttled after the boundary"
    )


def test_a_device_limit_throttles_that_device_only(fleet):
    slow = fleet.device("rpm-limited")
    fleet.profile("PUT", f"/device/{slow.id}", json={"rpm": {"data_input": 2}})
    window = fleet.target.window
    fresh_window(window)
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
    other = fleet.client.request(
        "POST",
        "/data",
        token=fleet.b.token,
        token_kind="device-full",
        json={"variable": "rpm"},
        honour_429=False,
    )
    assert codes[:2] == [200, 200], f"the first 2 of an rpm of 2 were refused: {codes}"
    assert codes[2] == 429, f"the 3rd request over an rpm of 2 got HTTP {codes[2]}"
    assert other.ok, "another device was throttled by this device's limit"
    fleet.remove(slow.id)
