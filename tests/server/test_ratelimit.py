"""Hard limits per profile and route in clock-aligned windows, and per-device soft limits."""

from __future__ import annotations

import math
import time

from tagocheck.server.plans import PLANS, RateLimiter

from .conftest import Client


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_exactly_the_limit_is_accepted_then_429_until_the_boundary():
    clock = Clock(1_000_000 * 60 + 9.25)  # 9.25 s into a calendar minute
    limiter = RateLimiter("free", 60, clock=clock)
    assert all(limiter.check("GET /info") is None for _ in range(60))
    throttled = limiter.check("GET /info")
    assert throttled is not None and throttled.retry_after == 51
    assert throttled.message == "Too many requests (Retry-After: 51)"
    clock.now += 50.7  # still inside the window
    assert limiter.check("GET /info") is not None
    clock.now = 1_000_001 * 60  # the next minute
    assert limiter.check("GET /info") is None


def test_routes_are_counted_separately_and_unlisted_routes_are_free():
    limiter = RateLimiter("free", 60, clock=Clock(120.0))
    for _ in range(60):
        limiter.check("PUT /data")
    assert limiter.check("PUT /data") is not None
    assert limiter.check("DELETE /data") is None
    assert all(limiter.check("GET /device/params") is None for _ in range(1000))


def test_plans_carry_the_documented_figures():
    assert PLANS["free"]["POST /data"] == 250
    assert PLANS["starter"]["GET /info"] == 5000
    assert PLANS["scale"]["GET /data?query=aggregate"] == 100
    assert PLANS["unlimited"] == {}


def test_device_soft_limit_is_per_device_and_capped_by_the_hard_limit():
    limiter = RateLimiter("free", 60, clock=Clock(60.0))
    assert all(limiter.check("POST /data", "dev-a", 3) is None for _ in range(3))
    assert limiter.check("POST /data", "dev-a", 3) is not None
    assert limiter.check("POST /data", "dev-b", 3) is None
    capped = RateLimiter("free", 60, clock=Clock(60.0))
    for _ in range(250):
        capped.check("POST /data", "dev-c", 10_000)
    assert capped.check("POST /data", "dev-c", 10_000) is not None


def test_early_and_disabled():
    early = RateLimiter("free", 60, early=True, clock=Clock(0.5))
    assert all(early.check("GET /info") is None for _ in range(30))
    assert early.check("GET /info") is not None
    off = RateLimiter("free", 60, enabled=False, clock=Clock(0.5))
    assert all(off.check("GET /info") is None for _ in range(500))


def wait_for_fresh_window(seconds: float) -> None:
    now = time.time()
    time.sleep(math.ceil(now / seconds) * seconds - now + 0.02)


def test_over_http_429_body_and_retry_after_then_recovery(start):
    window = 2.0
    client = Client(start("--plan", "free", "--rate-window-seconds", str(window)))
    token = client.target.profile_token
    wait_for_fresh_window(window)
    statuses = [client.call("GET", "/info", token).status_code for _ in range(60)]
    over = client.call("GET", "/info", token)
    assert statuses == [200] * 60
    assert over.status_code == 429
    seconds = int(over.headers["Retry-After"])
    assert 1 <= seconds <= 2
    assert over.json() == {
        "status": False,
        "message": f"Too many requests (Retry-After: {seconds})",
    }
    time.sleep(seconds + 0.05)
    assert client.call("GET", "/info", token).status_code == 200


def test_over_http_a_device_rpm_throttles_that_device_only(start):
    client = Client(start("--plan", "free", "--rate-window-seconds", "600"))
    slow = client.device("slow")
    other = client.device("other")
    client.profile("PUT", f"/device/{slow['device_id']}", json={"rpm": {"data_input": 2}})
    codes = [
        client.call("POST", "/data", slow["token"], json={"variable": "v"}).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    assert client.call("POST", "/data", other["token"], json={"variable": "v"}).status_code == 200
