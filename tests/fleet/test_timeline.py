"""The per-second timeline: merging processes' samples, and the soak scenario's drift verdict."""

from __future__ import annotations

from tagocheck.fleet.timeline import Sample, Timeline, drift


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


def test_one_stalled_second_does_not_make_a_knee():
    """Seen in a demo run: a single slow commit put one second's p99 at 84 ms in a step whose
    other seconds were at 4 ms, and the step was called the knee."""
    from tagocheck.fleet.capacity import knee, step_from

    quiet = [sample(100.0 + i, p99=4) for i in range(10)]
    stalled = [sample(110.0 + i, p99=84 if i == 5 else 4) for i in range(10)]
    slow = [sample(120.0 + i, p99=90) for i in range(10)]
    steps = [
        step_from(1, 100, 100.0, 110.0, 100, quiet),
        step_from(2, 200, 110.0, 120.0, 100, stalled),
    ]
    assert knee(steps) is None
    steps.append(step_from(3, 300, 120.0, 130.0, 100, slow))
    assert knee(steps)["step"] == 3


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
        waiting.add(sample(float(t), cpu=48.0, cpu_wait=1.0, **behind))
    assert waiting.limit()["limit"] == "target"
