"""What retries and backfill cost: attempts per report, reports given up, the time from a
report's first attempt to its final answer, and each outage's buffered readings.

A FleetObserver counts exchanges, one per attempt; this tally counts reports, so the extra load
retries add (attempts beside first attempts) and what devices gave up on are told apart from what
the target was asked. It merges across processes as the observer does.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from hdrh.histogram import HdrHistogram

MAX_MICROS = 3_600_000_000

BACKFILL_COUNTS = (
    "buffered",
    "requeued",
    "dropped",
    "stored",
    "refused",
    "requests",
    "throttled",
)
"""Per outage: readings buffered while offline, readings kept after a send that was not
acknowledged (sent as they came due, then refused with a 429 or failed), readings dropped by a
full buffer, acknowledged, refused for good (a 4xx other than 429); backfill requests sent;
requests answered 429 whose readings went back to the buffer."""


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_MICROS, 3)


class Attempts:
    def __init__(self) -> None:
        self.first = 0
        """First attempts: one per report."""
        self.retries = 0
        """Attempts after the first."""
        self.finals = 0
        """Reports that got their final answer (the rest were still being tried at the stop)."""
        self.retried = 0
        """Reports that needed more than one attempt (counted at their final answer)."""
        self.given_up: Counter = Counter()
        """Reports whose final attempt failed, by why the client stopped: `tries` (the policy's
        attempts were used up) or `not retried` (the policy does not retry that answer)."""
        self.to_final = _histogram()
        """From a report's first attempt to its final answer, whatever it was."""
        self.resent: dict[str, dict[str, int]] = defaultdict(dict)
        """Traced devices: report group -> attempts that may have been stored unacknowledged,
        for the reports that were sent again after one (integrity tells their duplicates apart)."""
        self.measured: dict[str, dict[str, float]] = defaultdict(dict)
        """Traced devices: report group -> the time a backfilled reading was measured."""
        self.backfill: dict[int, Counter] = defaultdict(Counter)
        """Outage index -> BACKFILL_COUNTS."""
        self.backfill_last: dict[int, float] = {}
        """Outage index -> when its last buffered reading was acknowledged."""

    def final(self, sent_before: bool, first_sent: float, answered_at: float) -> None:
        """A report's final answer; `sent_before`: this was not its first attempt."""
        self.finals += 1
        if sent_before:
            self.retried += 1
        self.to_final.record_value(_micros(answered_at - first_sent))

    def stored_backfill(self, outage: int, readings: int, at: float) -> None:
        self.backfill[outage]["stored"] += readings
        if at > self.backfill_last.get(outage, 0.0):
            self.backfill_last[outage] = at

    def add_backlog(self, counts: Counter) -> None:
        for (outage, what), n in counts.items():
            self.backfill[outage][what] += n

    def merge(self, other: Attempts) -> None:
        self.first += other.first
        self.retries += other.retries
        self.retried += other.retried
        self.finals += other.finals
        self.given_up.update(other.given_up)
        self.to_final.add(other.to_final)
        for device, groups in other.resent.items():
            self.resent[device].update(groups)
        for device, groups in other.measured.items():
            self.measured[device].update(groups)
        for outage, counts in other.backfill.items():
            self.backfill[outage].update(counts)
        for outage, at in other.backfill_last.items():
            self.backfill_last[outage] = max(at, self.backfill_last.get(outage, 0.0))

    def to_wire(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "retries": self.retries,
            "retried": self.retried,
            "finals": self.finals,
            "given_up": dict(self.given_up),
            "to_final": self.to_final.encode().decode(),
            "resent": dict(self.resent),
            "measured": dict(self.measured),
            "backfill": {str(k): dict(v) for k, v in self.backfill.items()},
            "backfill_last": {str(k): v for k, v in self.backfill_last.items()},
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Attempts:
        found = cls()
        found.first, found.retries, found.retried = data["first"], data["retries"], data["retried"]
        found.finals = data["finals"]
        found.given_up.update(data["given_up"])
        found.to_final.decode_and_add(data["to_final"])
        for device, groups in data["resent"].items():
            found.resent[device].update(groups)
        for device, groups in data["measured"].items():
            found.measured[device].update(groups)
        for outage, counts in data["backfill"].items():
            found.backfill[int(outage)].update(counts)
        found.backfill_last = {int(k): v for k, v in data["backfill_last"].items()}
        return found

    def throttled(self) -> int:
        """Backfill requests answered 429 so far: the plan holding a backfill back, not failed
        reports (their readings go back to the buffer and are sent again)."""
        return sum(counts.get("throttled", 0) for counts in self.backfill.values())

    def summary(self) -> dict[str, Any]:
        """The run's retry figures (what reports cost in attempts)."""
        attempts = self.first + self.retries

        def ms(p: float) -> float:
            return self.to_final.get_value_at_percentile(p) / 1000

        return {
            "reports": self.first,
            "attempts": attempts,
            "retries": self.retries,
            "amplification": attempts / self.first if self.first else None,
            "reports_retried": self.retried,
            "unfinished": self.first - self.finals,
            "given_up": sum(self.given_up.values()),
            "given_up_by_why": dict(self.given_up),
            "first_to_final_ms": {f"p{p:g}": ms(p) for p in (50, 95, 99, 99.9)},
            "first_to_final_max_ms": self.to_final.get_max_value() / 1000,
        }


def _micros(seconds: float) -> int:
    return min(MAX_MICROS, max(1, int(seconds * 1_000_000)))
