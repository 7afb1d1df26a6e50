"""Which load each capacity step offers: a fixed ramp, or a search for the highest that holds.

A fixed ramp (`--steps N`) brings the fleet in over N equal steps and stops after the first that
broke. A search does not depend on the user's guess of where the limit is: it doubles the
devices reporting until a step breaks (or the whole fleet held), then bisects between the
highest step that held and the lowest that broke until the bracket is narrower than the
precision (5 % of the load held, unless told) or the time budget would be passed by one more
step. A step that broke is held once more before the break is believed: the repeat decides.
Where the lowest broken step fell behind, the rate it did answer is the target's
throughput, measured: the next step goes there (kept inside the bracket) rather than to the
middle, which closes a bracket in a step or two instead of halving it four times. Both are
judged by the same rule (tagocheck.fleet.capacity.broke and held), and both only propose
device counts: the coordinator holds each step and measures it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tagocheck.fleet.capacity import Step, bracket, broke, repeating, standing

GROWTH = 2
"""A search's step up while no step broke: doubling finds a limit k times the start in log2(k)
steps."""
PRECISION = 0.05
FIRST_SHARE = 16
"""A search starts with 1/16 of the fleet: four doublings from the whole of it."""

Judge = Callable[[Step], bool]
"""Whether a step broke (see tagocheck.fleet.capacity.broke with the run's thresholds)."""


@dataclass(frozen=True)
class Ramp:
    """The fixed ramp: `steps` equal steps of the fleet, stopping after the first that broke
    (and broke again when held a second time: a break is confirmed before it ends the ramp)."""

    fleet: int
    steps: int

    def first(self) -> int:
        return self._devices(1)

    def _devices(self, step: int) -> int:
        return max(1, round(self.fleet * step / self.steps))

    def next(self, done: list[Step], broken: Judge, seconds_left: float) -> int | None:
        """The next step's devices; None: the ramp is over (its last step, or a step broke)."""
        again = repeating(done, broken)
        if again is not None:
            return again.devices
        counted = standing(done)
        if len(counted) >= self.steps or any(broken(step) for step in counted):
            return None
        return self._devices(len(counted) + 1)

    def label(self, index: int) -> str:
        return f"step {index}/{self.steps}"

    def describe(self) -> dict[str, Any]:
        return {"mode": "ramp", "steps": self.steps}


@dataclass(frozen=True)
class Search:
    """Doubling then bisecting, between `first` devices and the whole `fleet`, each step held
    `hold` seconds, until the bracket is within `precision` or the next step would not end in
    the time left. A step that broke is held once more before the bracket moves: the repeat
    decides (see tagocheck.fleet.capacity.repeating)."""

    fleet: int
    hold: float
    precision: float = PRECISION
    first_devices: int = 0
    """0: the fleet's 1/FIRST_SHARE."""

    def first(self) -> int:
        return self.first_devices or max(1, self.fleet // FIRST_SHARE)

    def next(self, done: list[Step], broken: Judge, seconds_left: float) -> int | None:
        """The next step's devices; None: the search is over (see stopped())."""
        return self._next(done, broken, seconds_left)[0]

    def stopped(self, done: list[Step], broken: Judge, seconds_left: float) -> str:
        """Why the search ended (or would end now), for a person."""
        return self._next(done, broken, seconds_left)[1]

    def _next(self, done: list[Step], broken: Judge, seconds_left: float) -> tuple[int | None, str]:
        if not done:
            return self.first(), ""
        again = repeating(done, broken)
        if again is not None:
            if seconds_left < self.hold:
                return None, (
                    "the time budget (--search-seconds) is spent, with the break at "
                    f"{again.devices:,} devices not yet confirmed"
                )
            return again.devices, ""
        done = standing(done)
        low, high = _bracket_devices(done, broken)
        if high is None:  # nothing broke: grow
            if low is not None and low >= self.fleet:
                return None, f"the whole fleet ({self.fleet:,} devices) held: its limit is higher"
            following = min(self.fleet, max(low or 0, done[-1].devices) * GROWTH)
        else:
            floor = low or 0
            if high - floor <= 1:
                return None, "the bracket is one device wide"
            if low is not None and high - low <= self.precision * low:
                return None, f"the bracket is within {self.precision:.0%}"
            following = self._inside(floor, high, _estimate(done, broken, high))
            if following <= floor or following >= high:
                return None, "the bracket is one device wide"
        if seconds_left < self.hold:
            return None, "the time budget (--search-seconds) is spent"
        return following, ""

    def _inside(self, floor: int, high: int, estimate: float | None) -> int:
        """The next step inside the bracket: its middle; or, when the lowest broken step fell
        behind, what it did answer (the target's throughput, measured) kept inside the
        bracket and at least the precision above the step that held: that step then holds or
        closes the bracket, where a middle would only halve it."""
        if floor == 0:
            return max(1, round(estimate)) if estimate else max(1, high // GROWTH)
        middle = (floor + high) // 2
        if estimate is None:
            return middle
        lowest = math.ceil(floor * (1 + self.precision))
        return max(min(round(estimate), middle), min(lowest, middle))

    def label(self, index: int) -> str:
        return f"step {index} (search)"

    def describe(self) -> dict[str, Any]:
        return {"mode": "search", "precision": self.precision, "hold_seconds": self.hold}


def _estimate(done: list[Step], broken: Judge, high: int) -> float | None:
    """Devices the target kept up with, from the lowest broken step's answered rate, when that
    step fell behind (a step broken by its p99 or errors alone says nothing of throughput)."""
    step = next(s for s in done if s.devices == high and broken(s))
    if not step.offered or not step.fell_short:
        return None
    return step.devices * step.achieved / step.offered


def _bracket_devices(done: list[Step], broken: Judge) -> tuple[int | None, int | None]:
    """Devices of the highest step that held below the lowest that broke, and of that one."""
    failed = [s.devices for s in done if broken(s)]
    high = min(failed) if failed else None
    good = [s.devices for s in done if not broken(s) and (high is None or s.devices < high)]
    return (max(good) if good else None), high


def answer(
    steps: list[Step], p99_ms: float | None, error_rate: float | None, fleet: int
) -> dict[str, Any]:
    """The capacity found, with its uncertainty: the bracket's two ends (devices and reports/s)
    and its width as a share of the load held. `above` (no step broke) means the answer is a
    floor: the target took the most the fleet could offer."""
    held_step, broken_step = bracket(steps, p99_ms, error_rate)
    found: dict[str, Any] = {
        "held": held_step.as_dict() if held_step else None,
        "broke": broken_step.as_dict() if broken_step else None,
        # the break showed twice: the broken step repeated one at its load that broke too
        "confirmed": broken_step is not None
        and any(
            s.devices == broken_step.devices
            and s.index < broken_step.index
            and broke(s, p99_ms, error_rate)
            for s in steps
        ),
        "above": broken_step is None,
        "fleet": fleet,
    }
    if held_step is not None and broken_step is not None:
        found["width"] = (broken_step.devices - held_step.devices) / held_step.devices
    if broken_step is not None:
        found["why"] = "; ".join(broke(broken_step, p99_ms, error_rate))
    return found
