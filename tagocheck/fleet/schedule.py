"""The open-model schedule: every report is due at its own time, whatever happened before.

A closed loop (send, wait for the answer, sleep) sends less when the target slows down and so
hides the slowdown (coordinated omission). Here each device's reports are due at
`start + phase + k * interval` plus jitter; a report that goes out late is still measured from the
time it was due, and how late it went out is recorded as schedule lateness.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import math
import random
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple, TypeVar

from tagocheck.fleet.model import Fleet
from tagocheck.fleet.timeline import DueVariance

T = TypeVar("T")


class Report(NamedTuple):
    """One report of one device (a tuple: made for every request, so it must be cheap)."""

    device: int
    due: float
    """When this attempt should be sent (the intended time, for corrected latency)."""
    sequence: int
    attempt: int = 1
    measured: float = 0.0
    """When the device measured the reading (its first due time); 0: `due`."""
    first_sent: float = 0.0
    """When the first attempt went out; 0: this is the first."""
    unsure: int = 0
    """Earlier attempts that may have been stored unacknowledged (no answer, or a 5xx)."""
    readings: tuple = ()
    """A backfill request's buffered readings (tagocheck.fleet.outage.Reading); () for a
    reading sent as it comes due."""


def in_order(previous: float, jittered: float) -> float:
    """When a device's next report is due: a device sends its reports in order, so jitter wider
    than half the interval must not put the next one before this one (it would be "late" the
    moment it was scheduled)."""
    return max(previous, jittered)


class Schedule:
    """Due reports of some of a fleet's devices, earliest first."""

    def __init__(self, fleet: Fleet, devices: Iterable[int], start: float, seed: int = 0) -> None:
        self.fleet = fleet
        self.jitter = fleet.config.jitter
        # Not random.Random(seed): the fleet drew its phases from Random(config.seed), and the same
        # seed would make every device's jitter a function of its phase.
        self.rng = random.Random(f"jitter:{fleet.config.seed}:{seed}")
        # (due, device, nominal, sequence): nominal is the jitter-free time, so jitter never drifts.
        self.heap: list[tuple[float, int, float, int]] = []
        # Heap times are relative to origin, so a big schedule can be built before the run and
        # started in an instant with start_at(): building a million devices' takes seconds,
        # and reports due meanwhile would all go out late.
        self.origin = 0.0
        self.resume: dict[int, int] = {}
        """A retired device's next sequence: brought back, it goes on where it stopped (a
        sequence names a report's records, so it is never reused)."""
        self.add(devices, start)

    def start_at(self, origin: float) -> None:
        """Move the whole schedule so that what was due at 0 is due at `origin`."""
        self.origin = origin

    def add(self, devices: Iterable[int], start: float) -> None:
        """Bring more devices in: each first reports at start + its phase (+ jitter).

        The first report is the device's first at or after `start` as if the fleet had been
        running all along: clamping reports that jitter puts before `start` would make a burst,
        and leaving jitter off the first ones would make the rate uneven one interval later.
        """
        phases, intervals = self.fleet.phases, self.fleet.intervals
        start -= self.origin
        for device in devices:
            # from the report before (its jitter may bring it after start) to the first one due
            nominal = start + phases[device] - (intervals[device] if self.jitter else 0.0)
            due = self._jittered(nominal)
            while due < start:
                nominal += intervals[device]
                due = self._jittered(nominal)
            self.heap.append((due, device, nominal, self.resume.pop(device, 0)))
        heapq.heapify(self.heap)

    def retire(self, ceiling: int) -> None:
        """Devices `ceiling` and above stop reporting (a capacity search stepping down); what
        they already sent is still answered and counted."""
        kept = []
        for entry in self.heap:
            if entry[1] < ceiling:
                kept.append(entry)
            else:
                self.resume[entry[1]] = entry[3]
        heapq.heapify(kept)
        self.heap = kept

    def __len__(self) -> int:
        return len(self.heap)

    def _jittered(self, nominal: float) -> float:
        return nominal + self.rng.uniform(-self.jitter, self.jitter) if self.jitter else nominal

    def next_due(self) -> float | None:
        return self.origin + self.heap[0][0] if self.heap else None

    def pop_one(self, now: float) -> Report | None:
        """The earliest report due by `now`, the device rescheduled for its next; or None."""
        heap = self.heap
        if not heap or heap[0][0] > now - self.origin:
            return None
        when, device, nominal, sequence = heap[0]
        following = nominal + self.fleet.intervals[device]
        due = in_order(when, self._jittered(following))
        heapq.heapreplace(heap, (due, device, following, sequence + 1))
        return Report(device, self.origin + when, sequence)

    def pop_due(self, now: float, limit: int | None = None) -> list[Report]:
        """Every report due by `now` (at most `limit`), each device rescheduled for its next."""
        return due_by(self.pop_one, now, limit)


def due_by(pop_one: Callable[[float], T | None], now: float, limit: int | None) -> list[T]:
    """Everything `pop_one` gives that is due by `now`, at most `limit`: a schedule's batch, built
    on the pop_one the load runs call, so a test of the batch tests what runs."""
    due: list[T] = []
    while limit is None or len(due) < limit:
        item = pop_one(now)
        if item is None:
            break
        due.append(item)
    return due


def due_variance(fleet: Fleet, devices: Sequence[int] | range, seconds: float) -> float:
    """The variance of how many reports `devices` make due in `seconds` at a random place,
    summed over the devices (their phases and jitter are drawn apart; due_count_variance).
    Devices that share an interval share its figure."""
    by_interval = Counter(fleet.intervals[i] for i in devices)
    jitter = fleet.config.jitter
    return math.fsum(
        count * due_count_variance(interval, jitter, seconds)
        for interval, count in by_interval.items()
    )


def due_variance_of(fleet: Fleet) -> DueVariance:
    """The fleet's DueVariance: the figure for its first `devices` devices (a step's, a run's)."""
    return lambda devices, seconds: due_variance(fleet, range(devices), seconds)


def due_count_variance(interval: float, jitter: float, seconds: float) -> float:
    """The variance of how many reports one device makes due in a span of `seconds` at a random
    place against its phase, each report moved by its own uniform jitter of +- `jitter`.

    Its reports are a stationary point process of rate 1/interval, so the variance is
    E[N] - E[N]^2 + E[N(N-1)], the last the sum over every lag n != 0 of the chance that two
    reports n apart both fall in the span: 2/interval times the sum over n >= 1 of
    E[(seconds - n * interval - T)+], T the difference of two jitters (triangular on
    +-2 * jitter; `_ramp_mean` integrates it). Without jitter this is q(1 - q) for q the
    fraction of an interval the span cuts (none over whole intervals); 2-s reports with 0.5-s
    jitter over 8 s spread by 1/6 a device. Jitter past half the interval is held back to keep
    the reports in order (in_order), so they are no longer independent draws: that case is
    measured on the schedule's own rule instead (`_in_order_count_variance`)."""
    if jitter > interval / 2:
        return _in_order_count_variance(float(f"{interval:.2g}"), jitter, seconds)
    mean = seconds / interval
    pairs = 0.0
    n = 1
    while n * interval < seconds + 2 * jitter:
        pairs += _ramp_mean(seconds - n * interval, 2 * jitter)
        n += 1
    return max(mean - mean * mean + 2 * pairs / interval, 0.0)


def _ramp_mean(c: float, width: float) -> float:
    """E[(c - T)+] for T triangular on [-width, width] (the difference of two uniform draws on
    +-width/2): c+ without spread, a cubic where the triangle straddles c."""
    if c <= -width:
        return 0.0
    if c >= width:
        return c
    if c <= 0:
        return (c + width) ** 3 / (6 * width * width)
    return c + (width - c) ** 3 / (6 * width * width)


IN_ORDER_SPANS = 4_000
"""Disjoint spans' worth of one device's schedule the variance with wide jitter is measured on:
its sampling error is about 2 % (400 spans' was 7 %, and read 0.69 a device for 0.5 +- 0.5 s
where the schedule spreads by 0.75); tens of milliseconds a figure, cached."""


@functools.lru_cache(maxsize=1024)
def _in_order_count_variance(interval: float, jitter: float, seconds: float) -> float:
    """The variance of one device's due reports in `seconds` with jitter wider than half its
    interval, measured: its reports laid out by in_order over IN_ORDER_SPANS spans (at most
    200,000 reports, unless ten spans take more) and counted in twice as many spans at random
    places. Seeded by its arguments, so a run's verdict does not change between readings."""
    rng = random.Random(f"due-variance:{interval}:{jitter}:{seconds}")
    lead = 2 * jitter + interval
    laid_out = min(IN_ORDER_SPANS * max(seconds, interval), 200_000 * interval)
    total = lead + max(laid_out, 10 * seconds)  # a span far longer than the cap still fits
    dues: list[float] = []
    due, nominal = -math.inf, 0.0
    while nominal < total + jitter:
        due = in_order(due, nominal + rng.uniform(-jitter, jitter))
        dues.append(due)
        nominal += interval
    room = total - lead - seconds
    counts = []
    for _ in range(2 * IN_ORDER_SPANS):
        start = lead + rng.random() * room
        counts.append(bisect.bisect_left(dues, start + seconds) - bisect.bisect_left(dues, start))
    return statistics.variance(counts)
