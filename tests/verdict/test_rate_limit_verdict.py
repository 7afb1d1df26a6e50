"""The ratelimit scenario's verdict counts the limits it judged against those it set out to
probe: a limit never judged is named in the headline, never folded into "held"."""

from __future__ import annotations

from pathlib import Path

from tagocheck.fleet.probes import BESIDE_UPLINKS
from tagocheck.report import verdict
from tagocheck.report.rundata import RunData


def row(route: str, windows: int, under: int, scope: str = "profile") -> dict:
    enforced = windows - under
    return {
        "scope": scope,
        "route": route,
        "limit": 250,
        "windows": windows,
        "enforced": enforced,
        "under": under,
        "early-throttle": 0,
        "leak": 0,
        "max_accepted": 250 if enforced else 120,
        "sent": 375 * windows,
        "throttled": 125 * enforced,
    }


def ratelimit_run(rows: list[dict], probes: list[dict]) -> RunData:
    config = {
        "scenario": "ratelimit",
        "rate_window_seconds": 2.0,
        "probes": probes,
        "probe_requests_per_second": 128.0,
        "probe_window_groups": 6,
    }
    summary = {
        "ended": {"how": "completed"},
        "rate_limit_enforcement": rows,
        "rate_limit_findings": [],
        "outcomes": {"POST /data": {"accepted": 500, "rate-limited": 250}},
    }
    return RunData(Path("run"), config=config, summary=summary)


def probe(route: str, group: int, device: int | None = None) -> dict:
    return {"route": route, "limit": 250, "device": device, "group": group}


PLANNED = [
    probe("POST /data", 0),
    probe("GET /data", 1),
    probe("GET /info", 2),
    probe("POST /data", 3, device=1),
    probe(BESIDE_UPLINKS, 4),  # held to no limit of its own: never "not judged"
]


def test_every_limit_judged_is_the_all_clear():
    rows = [
        row("POST /data", 2, 1),
        row("GET /data", 2, 0),
        row("GET /info", 1, 0),
        row("POST /data", 1, 0, "device:1"),
    ]
    found = verdict.judge(ratelimit_run(rows, PLANNED))
    assert found.good and not found.caveats, found
    assert found.headline == (
        "Rate limits held as the plan says: 4 of 4 limits judged in 5 windows, every one enforced."
    )


def test_limits_not_judged_are_named_with_why_and_never_called_held():
    # GET /data driven but never past its limit; GET /info and device 1's never reached
    rows = [row("POST /data", 2, 0), row("GET /data", 2, 2)]
    found = verdict.judge(ratelimit_run(rows, PLANNED))
    assert found.headline.startswith("Rate limits held as the plan says: 1 of 4 limits judged")
    under, unreached = found.caveats
    assert "(GET /data)" in under and "sent short of the 128 requests/s asked" in under
    assert "(GET /info, POST /data (device 1))" in unreached and "(12 s)" in unreached
    assert "but 1 limit got fewer requests than the limit" in found.headline
    assert "Rate limits: 1 of 4 limits judged in 2 windows" in found.facts[0]


def test_nothing_judged_is_a_finding_not_an_all_clear():
    found = verdict.judge(ratelimit_run([row("POST /data", 3, 3)], PLANNED))
    assert found.outcome == verdict.FINDINGS
    assert found.headline.startswith("No rate limit was judged: all 3 windows")


def test_requests_not_sent_in_their_window_are_a_fact_with_their_denominator():
    late = {**row("POST /data", 2, 0), "late": 40}
    device = {**row("POST /data", 1, 0, "device:1"), "late": 5}  # the profile's 40 hold these
    found = verdict.judge(ratelimit_run([late, device], PLANNED[:1] + PLANNED[3:4]))
    assert found.good, found
    assert any(f.startswith("40 of 790 probe requests due were not sent") for f in found.facts)
