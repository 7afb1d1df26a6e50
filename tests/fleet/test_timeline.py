"""The per-second timeline: merging processes' samples, and the soak scenario's drift verdict."""

from __future__ import annotations

from tagocheck.fleet.schedule import due_variance_of
from tagocheck.fleet.timeline import Sample, Timeline, drift
from tagocheck.judge.exchange import Exchange

from .test_model import fleet


def sample(t: float, p99: float = 5.0, rss: float = 100.0, achieved: float = 100.0, **kw) -> Sample:
    values = dict(
        t=t,
        users=5,
        cpu=20.0,
        offered=100.0,
        achieved=achieved,
        errors=0,
        lateness_p99_ms=1.0,
        corrected_p99_ms=p99,
        service_p99_ms=p99,
        rss_mb=rss,
        responses=int(achieved),  # a second's answers: as many as it achieved, unless told
    )
    return Sample(**{**values, **kw})


def test_samples_of_one_second_from_two_processes_add_up():
    timeline = Timeline()
    timeline.add(sample(100.2, p99=5, cpu=30.0))
    timeline.add(sample(100.7, p99=9, cpu=95.0))
    timeline.add(sample(101.3))
    first, second = timeline.samples
    assert first.t == 100 and first.offered == 200 and first.achieved == 200 and first.users == 10
    assert first.cpu == 95.0 and first.corrected_p99_ms == 9  # the worst process
    assert second.offered == 100


def test_a_steady_run_is_stable_and_a_degrading_one_drifts():
    steady = [sample(float(t)) for t in range(120)]
    assert drift(steady)["verdict"] == "stable"
    degrading = [
        sample(float(t), p99=5 + t, rss=100 + 3 * t, achieved=100 - t / 4) for t in range(120)
    ]
    found = drift(degrading)
    assert found["verdict"] == "drift"
    assert any("p99 grew" in f for f in found["findings"])
    assert any("memory grew" in f for f in found["findings"])
    assert any("offered rate" in f for f in found["findings"])
    assert drift(steady[:8])["verdict"] == "too short"


def test_one_stalled_second_does_not_make_a_bend():
    """Seen in a demo run: a single slow commit put one second's p99 at 84 ms in a step whose
    other seconds were at 4 ms, and the step was called the knee."""
    from tagocheck.fleet.capacity import bend, step_from

    quiet = [sample(100.0 + i, p99=4) for i in range(10)]
    stalled = [sample(110.0 + i, p99=84 if i == 5 else 4) for i in range(10)]
    slow = [sample(120.0 + i, p99=90) for i in range(10)]
    steps = [
        step_from(1, 100, 100.0, 110.0, 100, quiet),
        step_from(2, 200, 110.0, 120.0, 100, stalled),
    ]
    assert bend(steps) is None
    steps.append(step_from(3, 300, 120.0, 130.0, 100, slow))
    assert bend(steps)["step"] == 3


def test_a_generator_starved_of_cpu_by_its_neighbours_is_the_limit():
    """Found with two busy loops beside a run: the generator got half a core, used all of it, fell
    behind, and was called "the target" because its own CPU stayed under 90 %."""
    behind = dict(lateness_p99_ms=2600.0, achieved=15.0)
    starved = Timeline()
    for t in range(20):
        starved.add(sample(float(t), cpu=48.0, cpu_wait=50.0, **behind))
    verdict = starved.limit()
    assert verdict["limit"] == "generator", verdict
    assert "other processes held 50 %" in verdict["why"]
    waiting = Timeline()  # the same lateness with the CPU idle: the target held the connections
    for t in range(20):
        waiting.add(sample(float(t), cpu=48.0, cpu_wait=1.0, in_flight_peak=5, **behind))
    assert waiting.limit()["limit"] == "target"


def test_a_shortfall_a_window_edge_explains_is_no_shortfall():
    """A 5-s web-UI swarm of 70 devices judged one second: 64 of the 70 due answered (every
    report answered, the rest due just past the edge), and the target was called behind."""
    edge = Timeline()
    for t, achieved in ((0, 63.0), (1, 77.0), (2, 64.0)):
        edge.add(sample(float(t), offered=70.0, achieved=achieved, devices=70, in_flight_peak=5))
    verdict = edge.limit()
    assert verdict["limit"] == "none" and not verdict["rate_short"], verdict
    assert "within the 24 reports the edges of 1 judged seconds can shift" in verdict["why"]
    # the same share held for a minute is far past any edge: the target fell short
    minute = Timeline()
    for t in range(60):
        minute.add(sample(float(t), offered=70.0, achieved=64.0, devices=70, in_flight_peak=5))
    verdict = minute.limit()
    assert verdict["limit"] == "target" and verdict["rate_short"], verdict


def test_the_runs_limit_takes_its_edge_slack_from_the_fleet_and_each_unbroken_span():
    """70 devices every second without jitter, judged over whole seconds, make exactly 70 due
    each: 66 answered a second for 3 judged seconds is 12 short, which the bound for random
    phases (24) forgave. An outage left out of the judged seconds cuts them into spans whose
    edges each count."""
    capped = Timeline()
    for t in range(5):  # taken a little more than a second apart, as a process's are
        taken = 1_796_497_926.688 + 1.0012 * t
        capped.add(sample(taken, offered=70.0, achieved=66.0, devices=70, in_flight_peak=5))
    assert not capped.limit()["rate_short"]  # the bound alone forgives it
    exact = capped.limit(due_variance=due_variance_of(fleet(70, "1", jitter=0.0)))
    assert exact["rate_short"] and exact["limit"] == "target", exact
    assert exact["rate_slack_reports"] == 0
    halves = capped.limit(due_variance=due_variance_of(fleet(70, "2", jitter=0.0)))
    assert halves["rate_slack_reports"] == round(4 * (70 * 0.25) ** 0.5)  # 3 s: 1.5 intervals
    seen = []
    capped.limit(due_variance=lambda devices, seconds: seen.append(seconds) or 0.0)
    assert seen == [3]
    seen.clear()
    third = capped.samples[3].t
    capped.limit(apart=[(third, third)], due_variance=lambda d, s: seen.append(s) or 0.0)
    assert seen == [1, 1]  # seconds 2 and 4: second 3 was the outage


def test_reports_late_while_gateways_are_free_is_the_generator_not_none():
    """bench/fleet_scale under CPU contention: lateness p99 4,743 ms, achieved/offered 1.03
    (catch-up), and the verdict said "none"."""
    late = Timeline()
    for t in range(20):
        late.add(sample(float(t), lateness_p99_ms=4743.0, achieved=103.0, in_flight_peak=1))
    verdict = late.limit()
    assert verdict["limit"] == "generator", verdict
    assert "could not keep its schedule" in verdict["why"]


def outcomes(t: float, accepted: int = 100, transport: int = 0, server: int = 0) -> Sample:
    failed = transport + server
    return sample(
        t,
        achieved=float(accepted),
        responses=accepted + failed,
        errors=failed,
        transport_error=transport,
        server_error=server,
        accepted=accepted,
    )


def test_a_target_that_dies_mid_run_stopped_answering_and_when():
    """The embedded target killed 10 s into a 30-s run read "the target kept up"."""
    run = Timeline()
    for t in range(1000, 1010):
        run.add(outcomes(float(t)))
    for t in range(1010, 1030):
        run.add(outcomes(float(t), accepted=0, transport=100))
    causes = {"transport: connection refused": 2000, "500: x": 3}
    verdict = run.limit(causes, silence=(1009.5, 2000))
    assert verdict["limit"] == "target" and verdict["kind"] == "stopped"
    assert verdict["stopped_at"] == 1009.5
    assert verdict["why"] == "the target stopped answering at 00:16:49 UTC (connection refused)"
    healthy = Timeline()
    for t in range(1000, 1030):
        healthy.add(outcomes(float(t)))
    healthy.add(outcomes(1030.0, accepted=0, transport=2))  # two refusals at the end: no death
    assert healthy.limit(causes, silence=(1029.9, 2))["limit"] == "none"


def test_silence_is_the_transport_errors_after_the_last_answer_whatever_the_merge_order():
    from tagocheck.fleet.observe import FleetObserver

    def observer(*events):
        seen = FleetObserver(60.0)
        for at, error in events:
            seen.observe(
                Exchange(
                    method="POST",
                    path="/data",
                    status=0 if error else 200,
                    body=b"" if error else b'{"status":true,"result":"1 Data Added"}',
                    due=at,
                    sent_at=at,
                    answered_at=at,
                    transport_error="connection refused" if error else None,
                )
            )
        return seen

    early = observer((1.0, False), (2.0, True), (3.0, False))  # a refusal, then answers again
    late = observer((4.0, False), (5.0, True), (6.0, True), (7.0, True))
    assert early.silence() is None and late.silence() == (5.0, 3)
    for first, second in ((early, late), (late, early)):
        merged = FleetObserver(60.0)
        merged.merge(first)
        merged.merge(second)
        assert merged.silence() == (5.0, 3)


def test_a_failing_target_is_never_called_keeping_up():
    run = Timeline()
    for t in range(30):
        run.add(outcomes(float(t), accepted=50, server=50))
    verdict = run.limit({"server-error 500: boom": 1500})
    assert verdict["limit"] == "target" and verdict["kind"] == "failing"
    assert "50.0% of the reports" in verdict["why"] and "server-error 500: boom" in verdict["why"]


def test_catch_up_above_the_offered_rate_is_not_the_baseline_of_answered_less():
    """-u 50 -r 50 -t 20s --devices 2000 --interval 5 read "The run drifted: less of the offered
    rate answered at the end" after a start that answered 103 % (catch-up)."""
    run = [sample(float(t), achieved=103.0 if t < 30 else 100.0) for t in range(120)]
    assert drift(run)["verdict"] == "stable", drift(run)
    worse = [sample(float(t), achieved=100.0 if t < 60 else 90.0) for t in range(120)]
    assert drift(worse)["verdict"] == "drift"
