"""A capacity run's steps, held and judged one after another: the ramp's or the search's.

The plan (tagocheck.fleet.search) says how many devices the next step brings; this module holds
each step, measures it from the run's timeline, says what it found (step, bend, knee) and, when
the plan is over, what the capacity is: the bracket and who was the limit at the break, on the
generator's CPU and lateness in the broken step's seconds (tagocheck.fleet.timeline.limit).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent

from tagocheck.fleet.capacity import Step, bend, broke, knee, p99_text, step_from
from tagocheck.fleet.model import Fleet
from tagocheck.fleet.schedule import due_variance_of
from tagocheck.fleet.search import Ramp, Search, answer
from tagocheck.fleet.timeline import Sample, limit
from tagocheck.load.thresholds import settings as threshold_settings

Say = Callable[..., None]

REST_POLL_SECONDS = 0.2
REST_STEPS = 3
"""The longest rest after a broken step, in steps' time."""
LATE_SETTLE_SECONDS = 2.0
"""A distributed run's workers send their samples each second: the step's last ones arrive
this much after it ends."""


def plan_for(steps: int, fleet: int, hold: float, precision: float) -> Ramp | Search:
    """--steps 0: the search; N: the fixed ramp of N steps."""
    if steps == 0:
        return Search(fleet=fleet, hold=hold, precision=precision)
    return Ramp(fleet=fleet, steps=steps)


def stepping_for(
    scenario: str,
    options: Any,
    fleet: Fleet,
    *,
    grow: Callable[[int], None],
    samples: Callable[[], list[Sample]],
    say: Say,
    distributed: bool,
    idle: Callable[[], bool] | None,
) -> Stepping | None:
    """The capacity steps, when the run has any: the capacity scenario's search (--steps 0)
    or ramp, or any fleet scenario's ramp of more than one step."""
    steps = options.steps
    if scenario == "ratelimit" or (scenario != "capacity" and steps <= 1):
        return None
    return Stepping(
        plan_for(steps, len(fleet), options.step_seconds, options.precision),
        fleet,
        options.step_seconds,
        threshold_settings(options),
        grow=grow,
        samples=samples,
        say=say,
        budget=options.search_seconds,
        distributed=distributed,
        idle=idle,
    )


class Stepping:
    """The steps of one run (a web-UI swarm has its own)."""

    def __init__(
        self,
        plan: Ramp | Search,
        fleet: Fleet,
        hold: float,
        thresholds: dict[str, Any],
        *,
        grow: Callable[[int], None],
        samples: Callable[[], list[Sample]],
        say: Say,
        budget: float,
        distributed: bool = False,
        idle: Callable[[], bool] | None = None,
    ) -> None:
        """`idle()`: nothing is in flight now (this process's shard); without it, the
        samples say so a second late."""
        self.plan = plan
        self.fleet = fleet
        self.due_variance = due_variance_of(fleet)
        """How far a span's edges can move its reports (the steps' and the broken one's limit)."""
        self.hold = hold
        self.p99_ms = thresholds.get("p99_ms")
        self.error_rate = thresholds.get("error_rate")
        self.grow = grow
        self.samples = samples
        self.say = say
        self.budget = budget
        self.distributed = distributed
        self.idle = idle
        self.steps: list[Step] = []
        self.stopped_because = ""
        self.began = 0.0

    def broken(self, step: Step) -> bool:
        return bool(broke(step, self.p99_ms, self.error_rate))

    def first(self) -> int:
        return self.plan.first()

    def seconds_left(self) -> float:
        return self.budget - (time.time() - self.began) if self.began else self.budget

    def run(self) -> None:
        """Hold each step the plan gives, then note why the plan ended."""
        self.began = time.time()
        active = self.first()  # the shards started with these
        while True:
            started = time.time()
            gevent.sleep(self.hold)
            if self.distributed:
                gevent.sleep(LATE_SETTLE_SECONDS)
            self._note(active, started)
            following = self.plan.next(self.steps, self.broken, self.seconds_left())
            if following is None:
                break
            if self.broken(self.steps[-1]):
                self._rest()
            self.grow(following)
            active = following
        if isinstance(self.plan, Search):
            self.stopped_because = self.plan.stopped(self.steps, self.broken, self.seconds_left())
            self.say("search", f"search over: {self.stopped_because}")

    def _rest(self) -> None:
        """After a step that broke: every device pauses until nothing is in flight (at most
        REST_STEPS steps' time), so the next step starts on an idle target, not on the broken
        one's queue (it would be judged by the reports the last one left late). A break held
        again to confirm it leaves twice the queue: a rest of one step's time let a 90/s
        target's backlog answer 98.7/s in the step after it."""
        self.grow(0)
        resting = time.time()
        while time.time() - resting < self.hold * REST_STEPS:
            gevent.sleep(REST_POLL_SECONDS)
            if self.idle is not None and self.idle():
                break
            # a distributed run's workers: a whole second sampled with nothing in flight
            if any(s.t > resting + 1 and s.in_flight_peak == 0 for s in self.samples()):
                break
        self.say("rest", f"rested {time.time() - resting:.0f} s for the target to drain")

    def _note(self, active: int, started: float) -> None:
        index = len(self.steps) + 1
        offered = self.fleet.offered_rate(range(active))
        step = step_from(
            index,
            active,
            started,
            started + self.hold,
            offered,
            self.samples(),
            self.due_variance,
        )
        self.steps.append(step)
        verdict = "; ".join(broke(step, self.p99_ms, self.error_rate)) or "held"
        again = self.steps[-2] if len(self.steps) > 1 else None
        if again is not None and again.devices == active:
            verdict += (
                f" (step {again.index} held again: its break is confirmed)"
                if self.broken(step)
                else f" (step {again.index} held again: its break did not show twice, so it "
                "was not the target's and this step stands for it)"
            )
        self.say(
            "step",
            f"{self.plan.label(index)}: {active:,} devices, offered {offered:,.0f}/s, "
            f"achieved {step.achieved:,.0f}/s, {p99_text(step.p99_ms)}: {verdict}",
            step=step.as_dict(),
        )
        bent = bend(self.steps)
        if bent is not None and bent["step"] == index:
            self.say("bend", f"latency bend at step {index}: {bent['why']}", bend=bent)
        found = knee(self.steps, self.p99_ms, self.error_rate)
        if found is not None and found["step"] == index:
            self.say("knee", f"knee at step {index}: {found['why']}", knee=found)

    def summary(self, causes: dict[str, int] | None = None) -> dict[str, Any] | None:
        """steps.json: every step, the knee and bend, the answer with its bracket, and who was
        the limit in the lowest step that broke."""
        if not self.steps:
            return None
        found = answer(self.steps, self.p99_ms, self.error_rate, len(self.fleet))
        best = found["held"]
        broken = found["broke"]
        if broken is not None:
            seconds = [s for s in self.samples() if broken["started"] <= s.t <= broken["ended"]]
            found["limit"] = limit(seconds, causes or {}, due_variance=self.due_variance)
        found["stopped"] = self.stopped_because or None
        interval = self.fleet.config.interval
        found["interval"] = str(interval)
        return {
            **self.plan.describe(),
            "steps": [step.as_dict() for step in self.steps],
            "knee": knee(self.steps, self.p99_ms, self.error_rate),
            "bend": bend(self.steps),
            "highest_good": best,
            "answer": found,
        }
