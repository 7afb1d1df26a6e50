"""Retry policies as the official clients retry, and the follow-up of each answer."""

from __future__ import annotations

import pytest

from tagocheck.fleet.attempts import Attempts
from tagocheck.fleet.model import Fleet, FleetConfig, FleetConfigError, Interval
from tagocheck.fleet.outage import Backfill, Backlog, Outage, Reconnect, parse_outages
from tagocheck.fleet.resend import DeviceWork
from tagocheck.fleet.retry import RetryPolicy
from tagocheck.fleet.schedule import Schedule
from tagocheck.judge import checks
from tagocheck.wire import transport

TIMEOUT = transport.no_answer_within(60)


def verdict(status: int) -> checks.Verdict:
    if status == 0:
        return checks.Verdict(None, 0, checks.TRANSPORT_ERROR)
    if status == 429:
        return checks.Verdict("POST /data", 429, checks.RATE_LIMITED)
    if status >= 500:
        return checks.Verdict("POST /data", status, checks.SERVER_ERROR)
    if status >= 400:
        return checks.Verdict("POST /data", status, checks.REJECTED)
    return checks.Verdict("POST /data", status, checks.ACCEPTED, succeeded=True, added=1)


def test_sdk_js_waits_doubling_and_retries_5xx_timeouts_and_network_errors_never_a_4xx():
    policy = RetryPolicy.parse("sdk-js")
    assert policy.tries == 5
    assert [policy.wait_after(n) for n in range(1, 5)] == [1.5, 3.0, 6.0, 12.0]
    assert policy.wait_after(6) == 30.0  # the cap
    assert policy.retries(checks.SERVER_ERROR, 503, None)
    assert policy.retries(checks.NOT_ENVELOPE, 502, None)  # an HTML 502 as well
    assert policy.retries(checks.TRANSPORT_ERROR, 0, TIMEOUT)
    assert policy.retries(checks.TRANSPORT_ERROR, 0, transport.RESET)
    for status, outcome in (
        (429, checks.RATE_LIMITED),
        (400, checks.REJECTED),
        (401, checks.REJECTED),
    ):
        assert not policy.retries(outcome, status, None)


def test_sdk_py_retries_only_a_connection_that_could_not_be_made():
    policy = RetryPolicy.parse("sdk-py")
    assert policy.tries == 5 and [policy.wait_after(n) for n in (1, 2, 4)] == [1.5] * 3
    assert policy.retries(checks.TRANSPORT_ERROR, 0, transport.REFUSED)
    assert not policy.retries(checks.TRANSPORT_ERROR, 0, TIMEOUT)  # the SDK raises instead
    assert not policy.retries(checks.SERVER_ERROR, 500, None)  # a JSON 5xx is returned
    assert not policy.retries(checks.RATE_LIMITED, 429, None)


def test_custom_policies_and_what_is_refused():
    fixed = RetryPolicy.parse("fixed:2")
    assert fixed.tries == 5 and fixed.wait_after(3) == 2.0
    assert RetryPolicy.parse("fixed:0.5:3").tries == 3
    exp = RetryPolicy.parse("exp:0.1:1:10")
    assert [exp.wait_after(n) for n in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.8, 1.0]
    assert not RetryPolicy.parse("none").retrying
    for bad in ("sdk", "fixed", "fixed:-1", "fixed:1:0", "fixed:1:2.5", "exp:2:1:3", "exp:1:2"):
        with pytest.raises(FleetConfigError):
            RetryPolicy.parse(bad)


def work(retry: str = "none", outage: str = "", buffer: int = 100, backfill: str = "burst"):
    config = FleetConfig(
        2,
        Interval.parse("1"),
        jitter=0.0,
        retry=retry,
        outage=outage,
        buffer=buffer,
        backfill=backfill,
    )
    fleet = Fleet(config, ["t0", "t1"])
    tally = Attempts()
    backlog = (
        Backlog(config.outages, buffer, Reconnect.parse("together"), "seed")
        if config.outages
        else None
    )
    found = DeviceWork(
        Schedule(fleet, range(2), 0.0),
        config.retry_policy,
        backlog,
        config.backfill_policy,
        lambda: tally,
        frozenset({"0", "1"}),
        lambda sequence: f"g.{sequence}",
    )
    found.start_at(1000.0)
    return found, tally


def answer(found, report, status, at, retry_after=5.0):
    cause = TIMEOUT if status == 0 else None
    found.answered(report, verdict(status), cause, at, at + 0.01, lambda: retry_after)


def test_a_5xx_is_retried_after_the_policys_wait_and_a_4xx_is_given_up_at_once():
    found, tally = work("sdk-js")
    first = found.pop_one(1001.0)
    answer(found, first, 500, 1001.0)
    again = None
    while again is None or again.attempt == 1:
        again = found.pop_one(1003.0)
    assert again.attempt == 2 and again.sequence == first.sequence and again.unsure == 1
    assert again.due == pytest.approx(1001.01 + 1.5)
    answer(found, again, 200, 1003.0)
    assert tally.retries == tally.retried == 1
    assert tally.resent["0" if first.device == 0 else "1"][f"g.{first.sequence}"] == 1
    other, tally_before = found.pop_one(1004.0), tally.retries
    answer(found, other, 429, 1004.0)
    assert not [r for r in (found.pop_one(1100.0) for _ in range(400)) if r and r.attempt > 1]
    assert tally.retries == tally_before and tally.given_up["not retried"] == 1


def next_retry(found, now):
    """The first retry due by `now` (the schedule's own reports passed over)."""
    return next(r for r in iter(lambda: found.pop_one(now), None) if r.attempt > 1)


def test_tries_run_out_and_the_report_is_given_up():
    found, tally = work("fixed:0.1:3")
    report = found.pop_one(1001.0)
    answer(found, report, 503, 1001.0)
    second = next_retry(found, 1001.2)
    answer(found, second, 0, 1001.2)  # no answer: unsure too
    third = next_retry(found, 1001.4)
    assert (second.attempt, third.attempt, third.unsure) == (2, 3, 2)
    answer(found, third, 503, 1001.4)
    assert tally.given_up == {"tries": 1} and tally.retries == 2
    assert not any(r.attempt > 1 for r in iter(lambda: found.pop_one(1010.0), None))


def test_readings_due_in_an_outage_are_buffered_and_backfilled_with_their_time_after_it():
    found, tally = work(outage="2+3")
    sent = []
    for now in [1000.0 + i / 10 for i in range(0, 80)]:
        while (report := found.pop_one(now)) is not None:
            sent.append((now, report))
    offline = [r for now, r in sent if not r.readings and 1002.0 <= r.due < 1005.0]
    assert not offline  # nothing went out while offline
    backfill = [(now, r) for now, r in sent if r.readings]
    assert len(backfill) == 6 and all(now >= 1005.0 for now, _ in backfill)  # 3 s x 2 devices
    assert all(r.readings[0].measured == r.measured for _, r in backfill)
    assert all(1002.0 <= r.measured < 1005.0 for _, r in backfill)
    assert found.backlog.pending == 6
    for now, report in backfill:
        answer(found, report, 200, now)
    assert found.backlog.pending == 0 and tally.backfill[0]["stored"] == 6
    assert sum(len(groups) for groups in tally.measured.values()) == 6  # traced: times kept


def test_a_full_buffer_drops_its_oldest_reading_and_counts_it():
    found, _ = work(outage="0+5", buffer=2)
    for now in [1000.0 + i / 10 for i in range(0, 50)]:
        assert found.pop_one(now) is None
    counts = found.backlog.take_counts()
    assert counts[(0, "buffered")] == 10 and counts[(0, "dropped")] == 6
    kept = found.backlog.buffers[0]
    assert [r.sequence for r in kept] == [3, 4]  # the newest two


def test_a_throttled_backfill_goes_back_to_the_buffer_until_retry_after():
    found, tally = work(outage="0+2", backfill="batched:10")
    reports = []
    for now in [1000.0 + i / 10 for i in range(0, 25)]:
        while (report := found.pop_one(now)) is not None:
            reports.append(report)
    assert len(reports) == 2 and all(len(r.readings) == 2 for r in reports)  # one batch each
    answer(found, reports[0], 429, 1002.5, retry_after=3.0)
    assert tally.backfill[0]["throttled"] == 1 and found.backlog.pending == 4
    assert found.pop_one(1004.0) is None or found.pop_one(1004.0).readings == ()
    later = [r for r in iter(lambda: found.pop_one(1006.0), None) if r.readings]
    assert len(later) == 1 and later[0].first_sent  # sent again: not a first attempt


def test_backfill_policies_plan_their_requests():
    readings = list(range(5))
    assert Backfill.parse("burst").plan(readings, 10.0) == [(10.0, [i]) for i in readings]
    assert Backfill.parse("batched:2").plan(readings, 10.0) == [
        (10.0, [0, 1]),
        (10.0, [2, 3]),
        (10.0, [4]),
    ]
    assert [due for due, _ in Backfill.parse("paced:2").plan(readings, 10.0)] == [
        10.0,
        10.5,
        11.0,
        11.5,
        12.0,
    ]
    assert parse_outages("30+20, 100+5") == (Outage(30, 20), Outage(100, 5))
    for bad in ("30", "30+0", "x+1", "10+10,15+1"):
        with pytest.raises(FleetConfigError):
            parse_outages(bad)
    jittered = Backlog((Outage(0, 10),), 5, Reconnect.parse("jittered:4"), "s")
    jittered.start_at(0.0)
    backs = {jittered.back_at(d, 0) for d in range(50)}
    assert all(10.0 <= b < 14.0 for b in backs) and len(backs) == 50
