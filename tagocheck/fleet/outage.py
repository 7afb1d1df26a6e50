"""Outages on the generator's side, and what devices do about them.

During an outage (`--outage START+DURATION`, seconds after the schedule starts) the fleet sends
nothing: every reading that comes due is kept in its device's buffer (`--buffer N` readings; past
N the oldest is dropped, and counted). A device comes back at the outage's end, all together or
each after its own delay (`--reconnect together|jittered:SECONDS`), and sends its buffer as the
backfill policy says (`--backfill burst|paced:RATE|batched:N`), every reading with the time it was
measured. Devices that buffer store and forward: a reading (backfilled or not) stays in the
buffer until the target acknowledges it. One refused with a 429 goes back and is sent again after
the Retry-After the target gave; one that got no answer or a 5xx (once the retry policy is done
with it), after a pause; one refused with another 4xx is given up, and counted. A reading kept
after a refusal is counted with the last outage begun by its time (before the first: apart).

Against a real account nothing is needed from the target: the outage is the devices' link.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from tagocheck.fleet.attempts import BACKFILL_COUNTS
from tagocheck.fleet.bounds import MAX_INTERVAL_SECONDS, FleetConfigError

OUTSIDE = -1
"""The outage index of readings kept after a refusal before the first outage."""
PAUSE_SECONDS = 1.5
"""How long a device waits before sending its buffer again after a failure that was not a 429
(the SDKs' own first wait)."""


@dataclass(frozen=True)
class Outage:
    start: float
    """Seconds after the schedule starts."""
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration

    def __str__(self) -> str:
        return f"{self.start:g}+{self.duration:g}"


def parse_outages(text: str) -> tuple[Outage, ...]:
    """`START+DURATION`, several separated by commas; none overlapping."""
    found = []
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        start, plus, duration = part.partition("+")
        try:
            outage = Outage(float(start), float(duration))
            if not plus or not (
                0 <= outage.start <= MAX_INTERVAL_SECONDS
                and 0 < outage.duration <= MAX_INTERVAL_SECONDS
            ):
                raise ValueError
        except ValueError:
            raise FleetConfigError(
                f"{part!r}: use START+DURATION in seconds after the schedule starts "
                "(30+20: offline from 30 s to 50 s), several separated by commas"
            ) from None
        found.append(outage)
    found.sort(key=lambda o: o.start)
    for before, after in itertools.pairwise(found):
        if after.start < before.end:
            raise FleetConfigError(f"{before} and {after} overlap")
    return tuple(found)


@dataclass(frozen=True)
class Backfill:
    kind: str
    value: float = 0.0
    """paced: readings a second per device; batched: readings per request."""

    @classmethod
    def parse(cls, text: str) -> Backfill:
        raw = str(text).strip()
        if raw == "burst":
            return cls("burst")
        kind, _, number = raw.partition(":")
        try:
            value = float(number)
        except ValueError:
            value = float("nan")
        if kind == "paced" and 0 < value <= 1000:
            return cls("paced", value)
        if kind == "batched" and value == int(value) and 1 <= value <= 1000:
            return cls("batched", int(value))
        raise FleetConfigError(
            f"{raw!r}: burst, paced:RATE (readings a second per device, up to "
            "1,000) or batched:N (readings per request, 1 to 1,000)"
        )

    def __str__(self) -> str:
        return self.kind if self.kind == "burst" else f"{self.kind}:{self.value:g}"

    def plan(self, readings: list, at: float) -> list[tuple[float, list]]:
        """The requests a device sends its buffered `readings` in: (due, readings) each."""
        if self.kind == "batched":
            size = int(self.value)
            return [(at, readings[i : i + size]) for i in range(0, len(readings), size)]
        if self.kind == "paced":
            return [(at + i / self.value, [r]) for i, r in enumerate(readings)]
        return [(at, [r]) for r in readings]


@dataclass(frozen=True)
class Reconnect:
    jitter: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Reconnect:
        raw = str(text).strip()
        if raw == "together":
            return cls(0.0)
        kind, _, number = raw.partition(":")
        try:
            seconds = float(number)
        except ValueError:
            seconds = -1.0
        if kind == "jittered" and 0 < seconds <= MAX_INTERVAL_SECONDS:
            return cls(seconds)
        raise FleetConfigError(
            f"{raw!r}: together, or jittered:SECONDS (each device back after a "
            "random delay of up to SECONDS)"
        )

    def __str__(self) -> str:
        return "together" if not self.jitter else f"jittered:{self.jitter:g}"


class Reading(NamedTuple):
    """One buffered reading; buffers keep them in sequence order."""

    sequence: int
    measured: float
    """When the device measured it (its due time): the record's `time`."""
    outage: int
    unsure: int = 0
    """Attempts at it that may have been stored unacknowledged (no answer, or a 5xx)."""
    first_sent: float = 0.0
    """When a request first carried it; 0: none yet."""


class Backlog:
    """The buffers of one shard's devices across the run's outages.

    Counters by outage index (buffered, requeued, dropped, refused) are handed to the observer
    as they change, so they merge across processes like every other count.
    """

    def __init__(
        self,
        outages: tuple[Outage, ...],
        capacity: int,
        reconnect: Reconnect,
        seed: str,
    ) -> None:
        self.outages = outages
        self.capacity = capacity
        self.reconnect = reconnect
        self.seed = seed
        self.origin = 0.0
        self.buffers: dict[int, list[Reading]] = {}
        self.counts: Counter = Counter()
        """(outage, what) -> readings, since the observer last took them."""
        self.pending = 0
        """Readings buffered or in a backfill request in flight, over every outage."""

    def start_at(self, origin: float) -> None:
        self.origin = origin
        last = self.outages[-1] if self.outages else None
        self._quiet_after = origin + (last.end + self.reconnect.jitter if last else 0.0)

    def back_at(self, device: int, outage: int) -> float:
        """When `device` is back after outage `outage`: its end, plus the device's own delay."""
        end = self.origin + self.outages[outage].end
        if not self.reconnect.jitter:
            return end
        draw = random.Random(f"{self.seed}:{device}:{outage}").random()
        return end + draw * self.reconnect.jitter

    def offline(self, device: int, at: float) -> int | None:
        """The outage `device` is in at `at`, or None when it is online."""
        if at >= self._quiet_after:
            return None
        relative = at - self.origin
        for index, outage in enumerate(self.outages):
            in_span = outage.start <= relative < outage.end + self.reconnect.jitter
            if in_span and (relative < outage.end or at < self.back_at(device, index)):
                return index
        return None

    def latest(self, at: float) -> int:
        """The last outage begun by `at` (-1: none yet): the one a reading refused then is
        counted with."""
        relative = at - self.origin
        begun = [i for i, outage in enumerate(self.outages) if outage.start <= relative]
        return begun[-1] if begun else OUTSIDE

    def keep(self, device: int, reading: Reading, new: str | None = "buffered") -> None:
        """Buffer a reading, the oldest dropped past the capacity. `new`: what a reading not
        pending before is counted as (buffered while offline, or requeued after a send); None:
        pending already."""
        buffer = self.buffers.setdefault(device, [])
        bisect.insort(buffer, reading)
        if new:
            self.counts[(reading.outage, new)] += 1
            self.pending += 1
        if len(buffer) > self.capacity:
            dropped = buffer.pop(0)
            self.counts[(dropped.outage, "dropped")] += 1
            self.pending -= 1

    def take(self, device: int) -> list[Reading]:
        """The device's whole buffer, to send (the readings stay pending until answered)."""
        return self.buffers.pop(device, [])

    def stored(self, readings: Sequence[Reading]) -> None:
        """Acknowledged: no longer pending (counted, with its time, by Attempts.stored_backfill)."""
        self.pending -= len(readings)

    def refused(self, readings: Sequence[Reading]) -> None:
        for reading in readings:
            self.counts[(reading.outage, "refused")] += 1
        self.pending -= len(readings)

    def take_counts(self) -> Counter:
        taken, self.counts = self.counts, Counter()
        return taken


def results(
    outages: tuple[Outage, ...],
    reconnect: Reconnect,
    origin: float,
    counts: dict[int, Counter],
    last_stored: dict[int, float],
    throttled_windows: Callable[[float, float], int],
    ended: float,
) -> list[dict[str, Any]]:
    """Each outage's backfill: what was buffered, dropped, stored and refused, and whether
    (and how long after the outage's end) every buffered reading was in.

    `throttled_windows(since, until)` counts the rate-limit windows with a 429 in that time.
    """
    found = []
    for index, outage in enumerate(outages):
        figures = {name: counts.get(index, Counter()).get(name, 0) for name in BACKFILL_COUNTS}
        end = origin + outage.end
        kept = figures["buffered"] + figures["requeued"]
        waiting = kept - figures["dropped"] - figures["stored"] - figures["refused"]
        last = last_stored.get(index)
        began = origin + outage.start
        drained = waiting == 0 and ended >= end + reconnect.jitter
        until = (last or end) if drained else ended
        found.append(
            {
                "outage": str(outage),
                "started_at": began,
                "ended_at": end,
                "reconnect": str(reconnect),
                "happened": ended > began,
                **figures,
                "waiting": waiting,
                "drained": drained and kept > 0,
                "drained_at": last if drained else None,
                "drain_seconds": max(0.0, last - end) if drained and last else None,
                "throttled_windows": throttled_windows(end, until),
            }
        )
    return found


def spans(found: list[dict[str, Any]], ended: float) -> list[tuple[float, float]]:
    """Each outage from its start until its backlog was in (or the end): seconds in which the
    devices did not offer the target what fell due, so the rates then say nothing of it."""
    return [
        (outage["started_at"], outage["drained_at"] or ended)
        for outage in found
        if outage["happened"]
    ]
