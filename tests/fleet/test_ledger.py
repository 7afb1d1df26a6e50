"""The rate-limit ledger finds early throttling and enforcement leaks, and merges across workers."""

from __future__ import annotations

from tagocheck.fleet.ledger import PROFILE, Ledger
from tagocheck.judge.exchange import Exchange


def limits(scope: str, route: str) -> int | None:
    if scope == PROFILE:
        return {"POST /data": 5}.get(route)
    return 2 if route == "POST /data" else None


STATUS = {"accepted": 200, "rate-limited": 429, "rejected": 400}


def fill(ledger: Ledger, start: float, outcomes: list[str], device: str | None = None) -> None:
    for i, outcome in enumerate(outcomes):
        t = start + 0.1 + i * 0.01
        ledger.record("POST /data", t, t + 0.002, STATUS[outcome], device)


def test_a_compliant_window_has_no_findings():
    ledger = Ledger(60)
    fill(ledger, 600, ["accepted"] * 5 + ["rate-limited"] * 3)
    assert ledger.findings(limits) == []


def test_early_throttling_is_found():
    ledger = Ledger(60)
    fill(ledger, 600, ["accepted"] * 3 + ["rate-limited"])
    (finding,) = ledger.findings(limits)
    assert (finding.kind, finding.accepted, finding.throttled, finding.limit) == (
        "early-throttle",
        3,
        1,
        5,
    )
    assert finding.window_start == 600


def test_a_leak_is_found():
    ledger = Ledger(60)
    fill(ledger, 600, ["accepted"] * 7)
    (finding,) = ledger.findings(limits)
    assert finding.kind == "leak" and finding.accepted == 7


def test_device_scope_uses_the_device_limit():
    ledger = Ledger(60)
    fill(ledger, 600, ["accepted"] * 3, device="d1")
    fill(ledger, 600, ["accepted"], device="d2")
    found = {(f.scope, f.kind) for f in ledger.findings(limits)}
    assert found == {("device:d1", "leak")}


def test_windows_are_aligned_to_the_clock():
    ledger = Ledger(60)
    fill(ledger, 659.0, ["accepted"] * 3)  # 659.1, 659.11, 659.12: still the 600 window
    ledger.record("POST /data", 660.2, 660.21, 200)
    starts = sorted({index for (_, _, index) in ledger.windows})
    assert starts == [10, 11]


def test_requests_near_a_boundary_are_marked():
    ledger = Ledger(60)
    ledger.record("POST /data", 659.95, 660.05, 200)  # a 100 ms round trip over it
    (window,) = [w for (s, _, _), w in ledger.windows.items() if s == PROFILE]
    assert window.near_boundary == 1


def test_ledgers_merge_and_round_trip_through_json():
    one, two = Ledger(60), Ledger(60)
    fill(one, 600, ["accepted"] * 3)
    fill(two, 600, ["accepted"] * 3)
    one.merge(Ledger.from_json(two.to_json()))
    (finding,) = one.findings(limits)
    assert finding.kind == "leak" and finding.accepted == 6


def test_a_429_is_a_throttle_whatever_its_body():
    """Found by the report's faulty run: a target answering 429 with an HTML page was counted as
    letting the request through, and its early throttling showed as a leak."""
    from tagocheck.fleet.observe import FleetObserver

    observer = FleetObserver(60)
    for i in range(4):
        observer.observe(
            Exchange(
                method="POST",
                path="/data",
                status=429 if i == 3 else 200,
                body=b"<html>429</html>" if i == 3 else b'{"status":true,"result":"1 Data Added"}',
                due=600.1 + i / 100,
                sent_at=600.1 + i / 100,
                answered_at=600.102 + i / 100,
            )
        )
    (finding,) = observer.ledger.findings(limits)
    assert (finding.kind, finding.accepted, finding.throttled) == ("early-throttle", 3, 1)


def test_requests_at_a_boundary_are_not_held_against_the_target():
    """A request sent just before a boundary may be counted by the target in the next window:
    that window, one short of the limit by our count and throttled, is not an early throttle."""
    ledger = Ledger(60)
    ledger.record("POST /data", 659.997, 659.9995, 200)  # ours in window 10, near 660
    fill(ledger, 660, ["accepted"] * 4 + ["rate-limited"])  # window 11: 4 + 1 throttled
    assert [f.kind for f in ledger.findings(limits)] == []
    fill(ledger, 900, ["accepted"] * 3 + ["rate-limited"])  # far from any boundary: found
    assert [f.kind for f in ledger.findings(limits)] == ["early-throttle"]


def test_a_device_throttled_at_a_boundary_is_not_held_against_the_profile():
    """Found by CI: a device one short of its rpm by our count (its other request counted by the
    target in the next window) is rightly throttled, and the profile's window did not throttle
    early; that 429 explains the profile's, as it does when the device's count is exact."""
    ledger = Ledger(60)
    ledger.record("POST /data", 659.997, 660.0005, 200, "d1")  # counted in 600 or 660
    fill(ledger, 660, ["accepted", "rate-limited"], device="d1")  # ours: 1 accepted of 2
    assert [f.kind for f in ledger.findings(limits)] == []
    fill(ledger, 900, ["accepted", "rate-limited"], device="d2")  # 1 of 2, far from boundaries
    assert {(f.scope, f.kind) for f in ledger.findings(limits)} == {
        ("device:d2", "early-throttle"),
        ("profile", "early-throttle"),
    }


def test_a_429_where_a_shared_window_was_full_is_that_limit_enforced_not_early():
    """Found on a busy machine: a target counting network uplinks in POST /data's window too
    (the sharing the run found) throttled the uplinks once POST /data had filled that window;
    judged on the network route's own limit alone, that looked early."""

    def shared_limits(scope: str, route: str) -> int | None:
        return {"POST /data": 5, "network": 4}.get(route) if scope == PROFILE else None

    def window(ledger: Ledger, network_accepted: int) -> None:
        fill(ledger, 600, ["accepted"] * (5 - network_accepted))
        for i, status in enumerate([200] * network_accepted + [429, 429]):
            t = 600.5 + i * 0.01
            ledger.record("network", t, t + 0.002, status)

    alone, shared, not_full = Ledger(60), Ledger(60), Ledger(60)
    for ledger in (alone, shared, not_full):
        window(ledger, 2)
    shared.also_limited_by["network"] = (5, ("POST /data", "network"))
    # 3 + 4 sent there: a shared window of 8 could not have been full
    not_full.also_limited_by["network"] = (8, ("POST /data", "network"))
    assert [f.kind for f in alone.findings(shared_limits)] == ["early-throttle"]
    assert shared.findings(shared_limits) == []
    assert [f.kind for f in not_full.findings(shared_limits)] == ["early-throttle"]


def test_a_429_a_round_trip_after_a_full_window_is_that_window_s():
    """Found on a busy machine: the window before was full; one 429 whose round trip spanned
    the boundary was put in the next window by its midpoint, far below the limit there."""

    def spanning(ledger: Ledger, sent_at: float, answered_at: float) -> None:
        fill(ledger, 600, ["accepted"] * 5 + ["rate-limited"])  # the 600 window is full
        ledger.record("POST /data", sent_at, answered_at, 429)
        fill(ledger, 660, ["accepted"] * 2)

    across, inside, after_one_not_full = Ledger(60), Ledger(60), Ledger(60)
    spanning(across, 659.99, 660.2)  # sent in the full window, midpoint in the next
    spanning(inside, 660.5, 660.6)  # sent and answered well inside the next window
    fill(after_one_not_full, 600, ["accepted"] * 2)
    after_one_not_full.record("POST /data", 659.99, 660.2, 429)
    assert across.findings(limits) == []
    assert [(f.kind, f.window_start) for f in inside.findings(limits)] == [("early-throttle", 660)]
    found = after_one_not_full.findings(limits)
    assert [(f.kind, f.window_start) for f in found] == [("early-throttle", 660)]


def test_a_window_that_reached_its_limit_and_sent_no_more_is_not_judged():
    """A device sending exactly its rpm to a target with no rate limit had its windows called
    "enforced": nothing went past the limit, so nothing showed it enforced."""
    ledger = Ledger(60)
    fill(ledger, 600, ["accepted"] * 2, device="0")
    fill(ledger, 660, ["accepted"] * 2 + ["rate-limited"], device="0")
    (row,) = [r for r in ledger.enforcement(limits) if r["scope"] == "device:0"]
    assert (row["enforced"], row["under"]) == (1, 1), row


def test_requests_the_target_counts_in_a_window_are_its_count_whatever_the_label():
    """POST /data's window in the target holds what the run sent beside the network's uplinks
    too (counted_with): 3 of those and 2 of POST /data's own fill a limit of 5, and the 429
    after them is the limit enforced, not an early throttle (CI: such requests, sent late into
    POST /data's window, made it look early)."""
    ledger = Ledger(60)
    for i in range(3):
        ledger.record("beside", 600.1 + i * 0.01, 600.102 + i * 0.01, 200)
    fill(ledger, 600.5, ["accepted"] * 2 + ["rate-limited"])
    assert [f.kind for f in ledger.findings(limits)] == ["early-throttle"]  # apart, it looks early
    ledger.counted_with["POST /data"] = {"beside"}
    assert ledger.findings(limits) == []
    (row,) = [r for r in ledger.enforcement(limits) if r["route"] == "POST /data"]
    assert row["enforced"] == 1
    assert (row["max_accepted"], row["max_counted"]) == (2, 5)  # the target's count: both


def test_a_request_not_sent_in_its_window_is_counted_late_and_survives_a_merge():
    ledger = Ledger(60)
    ledger.record_late("POST /data", 630.0, device="d1")
    ledger.record_late("POST /data", 640.0)
    merged = Ledger(60)
    merged.merge(Ledger.from_json(ledger.to_json()))
    assert merged.windows[(PROFILE, "POST /data", 10)].late == 2
    assert merged.windows[("device:d1", "POST /data", 10)].late == 1
    (row,) = [r for r in merged.enforcement(limits) if r["scope"] == PROFILE]
    assert (row["late"], row["under"], row["sent"]) == (2, 1, 0)  # nothing sent: not judged
