"""The run second by second, and who was the limit: the generator or the target.

Each second every load-generating process notes how many reports were due and how many went out,
how late they went out, their latency, errors, its own CPU (used, and waited for) and memory.
The timeline puts the processes' samples of one second together: rates and errors add up; CPU,
memory and p99s are those of the worst process (a p99 cannot be merged exactly from p99s; the
worst is an upper bound, and the exact run-wide percentiles are in the merged HDR histograms). If
a generator cannot keep up (it runs or waits for a CPU over 90 % of the time, lateness grows),
the run says the generator was the limit, so a slow generator is never reported as a slow target.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

CPU_LIMIT = 90.0
STARVED_PCT = 20.0
"""Waiting this much of a second for a CPU says the machine, not the process, was short of it."""
LATE_MS = 100.0


OUTCOME_FIELDS = {
    "accepted": "accepted",
    "rate-limited": "rate_limited",
    "rejected": "rejected",
    "server-error": "server_error",
    "transport-error": "transport_error",
    "not-envelope": "not_envelope",
}
"""checks' outcome classes, and the Sample field counting each per second."""
PERCENTILES = (50, 95, 99, 99.9)


@dataclass(frozen=True)
class Sample:
    t: float
    users: int
    """Locust users: gateways, connections."""
    cpu: float
    """The process's CPU use, in % of one core."""
    offered: float
    """Reports due per second."""
    achieved: float
    """Answers per second."""
    errors: int
    lateness_p99_ms: float
    corrected_p99_ms: float
    service_p99_ms: float
    rss_mb: float = 0.0
    """The generating process's resident memory."""
    devices: int = 0
    """Devices reporting."""
    accepted: int = 0
    rate_limited: int = 0
    rejected: int = 0
    server_error: int = 0
    transport_error: int = 0
    not_envelope: int = 0
    corrected_p50_ms: float = 0.0
    corrected_p95_ms: float = 0.0
    corrected_p999_ms: float = 0.0
    service_p50_ms: float = 0.0
    service_p95_ms: float = 0.0
    service_p999_ms: float = 0.0
    cpu_wait: float = 0.0
    """How long the process was ready to run but waited for a CPU others held, in % of the
    second: a generator starved by its neighbours uses little CPU, yet cannot keep up."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sample:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def percentiles_ms(seconds: list[float]) -> dict[str, float]:
    """p50, p95, p99 and p99.9 of one second's values, in ms, keyed p50 ... p999."""
    if not seconds:
        return {f"p{str(p).replace('.', '')}": 0.0 for p in PERCENTILES}
    ordered = sorted(seconds)
    last = len(ordered) - 1
    return {
        f"p{str(p).replace('.', '')}": ordered[min(last, int(len(ordered) * p / 100))] * 1000
        for p in PERCENTILES
    }


ADDED = ("users", "offered", "achieved", "errors", "rss_mb", "devices", *OUTCOME_FIELDS.values())
WORST = (
    "cpu",
    "cpu_wait",
    "lateness_p99_ms",
    "corrected_p50_ms",
    "corrected_p95_ms",
    "corrected_p99_ms",
    "corrected_p999_ms",
    "service_p50_ms",
    "service_p95_ms",
    "service_p99_ms",
    "service_p999_ms",
)


def ramped_up(samples: list[Sample]) -> list[Sample]:
    """The samples after the first seconds of ramp-up (all of them in a run that short)."""
    return samples[2:] or samples


def combine(second: int, samples: list[Sample]) -> Sample:
    """One second of the whole generator from its processes' samples of that second."""
    if len(samples) == 1:
        return samples[0]
    values: dict[str, Any] = {"t": float(second)}
    for name in ADDED:
        values[name] = sum(getattr(s, name) for s in samples)
    for name in WORST:
        values[name] = max(getattr(s, name) for s in samples)
    return Sample(**values)


class Timeline:
    """Samples from one or more processes, by second; written to `path` as the run goes."""

    def __init__(self, path: Path | None = None) -> None:
        self.by_second: dict[int, list[Sample]] = defaultdict(list)
        self.path = path
        self.written_before = 0

    def add(self, sample: Sample) -> None:
        self.by_second[int(sample.t)].append(sample)

    @property
    def samples(self) -> list[Sample]:
        return [combine(second, group) for second, group in sorted(self.by_second.items())]

    def flush(self, before: float) -> None:
        """Append the seconds before `before` not yet written (later ones may still get samples
        from other processes)."""
        if self.path is None:
            return
        seconds = [s for s in sorted(self.by_second) if self.written_before <= s < before]
        if not seconds:
            return
        with self.path.open("a") as log:
            for second in seconds:
                log.write(json.dumps(combine(second, self.by_second[second]).as_dict()) + "\n")
        self.written_before = max(self.written_before, int(before))

    def rewrite(self) -> None:
        """The whole timeline once more, with every late sample in its place."""
        if self.path is not None:
            self.path.write_text("".join(json.dumps(s.as_dict()) + "\n" for s in self.samples))

    def limit(self) -> dict[str, Any]:
        """Which side limited the run, and the evidence."""
        samples = self.samples
        steady = ramped_up(samples)
        if not steady:
            return {"limit": "unknown", "why": "no samples"}
        # a second in which the process ran or waited for a CPU nearly all the time: it wanted
        # more CPU than it got, whether it used a whole core or its neighbours held the cores
        busy = sum(s.cpu + s.cpu_wait >= CPU_LIMIT for s in steady) / len(steady)
        waited = statistics.median(s.cpu_wait for s in steady)
        third = max(1, len(steady) // 3)
        early = statistics.median(s.lateness_p99_ms for s in steady[:third])
        late = statistics.median(s.lateness_p99_ms for s in steady[-third:])
        offered = sum(s.offered for s in steady)
        achieved = sum(s.achieved for s in steady)
        ratio = achieved / offered if offered else 1.0
        evidence = {
            "generator_cpu_busy_share": round(busy, 3),
            "generator_cpu_wait_pct_median": round(waited, 1),
            "lateness_p99_ms_first_third": round(early, 1),
            "lateness_p99_ms_last_third": round(late, 1),
            "achieved_over_offered": round(ratio, 4),
        }
        if busy > 0.2:
            starved = (
                f" (it waited for a CPU other processes held {waited:.0f} % of the time: "
                "its machine was short of CPU)"
                if waited >= STARVED_PCT
                else ""
            )
            why = (
                f"the generator needed a whole core in {busy:.0%} of seconds{starved}; "
                f"schedule lateness p99 went from {early:.0f} to {late:.0f} ms"
            )
            return {"limit": "generator", "why": why, **evidence}
        if (late > LATE_MS and late > 2 * early) or ratio < 0.95:
            why = (
                f"the generator had CPU to spare, yet reports went out up to {late:.0f} ms late "
                f"and {ratio:.1%} of the offered rate was answered: the target's answers held "
                "the connections (more users would tell whether it can take more)"
            )
            return {"limit": "target", "why": why, **evidence}
        return {"limit": "none", "why": "the target kept up with the offered load", **evidence}


def drift(samples: list[Sample]) -> dict[str, Any]:
    """How the end of a long run compares with its start: the soak scenario's question.

    The first and last fifths of the steady part (the first 10 % left out as warm-up) are
    compared: corrected p99, the share of the offered rate answered, errors per second, and the
    generator's memory.
    """
    steady = samples[max(2, len(samples) // 10) :]
    if len(steady) < 10:
        return {"verdict": "too short", "seconds": len(steady)}
    fifth = len(steady) // 5
    first, last = steady[:fifth], steady[-fifth:]

    def describe(part: list[Sample]) -> dict[str, float]:
        offered = sum(s.offered for s in part)
        return {
            "corrected_p99_ms": statistics.median(s.corrected_p99_ms for s in part),
            "achieved_over_offered": sum(s.achieved for s in part) / offered if offered else 1.0,
            "errors_per_second": sum(s.errors for s in part) / len(part),
            "rss_mb": statistics.median(s.rss_mb for s in part),
        }

    start, end = describe(first), describe(last)
    p99_ratio = end["corrected_p99_ms"] / max(start["corrected_p99_ms"], 1.0)
    findings = []
    if p99_ratio > 2 and end["corrected_p99_ms"] > 50:
        findings.append(f"p99 grew {p99_ratio:.1f}x")
    if end["achieved_over_offered"] < start["achieved_over_offered"] - 0.02:
        findings.append("less of the offered rate answered at the end")
    if end["errors_per_second"] > max(1.0, 2 * start["errors_per_second"]):
        findings.append("more errors at the end")
    if end["rss_mb"] > 1.5 * max(start["rss_mb"], 1.0) + 50:
        findings.append("the generator's memory grew")
    return {
        "verdict": "drift" if findings else "stable",
        "findings": findings,
        "seconds": len(steady),
        "start": start,
        "end": end,
        "p99_ratio": round(p99_ratio, 3),
    }
