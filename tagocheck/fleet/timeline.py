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
import math
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from tagocheck.wire import transport

CPU_LIMIT = 90.0
STARVED_PCT = 20.0
"""Waiting this much of a second for a CPU says the machine, not the process, was short of it."""
LATE_MS = 100.0
FAILING = 0.01
"""More than this share of failed outcomes: the target is failing, whatever else is true."""
FOLLOWS = 0.95
"""Answered below this share of the offered rate: something fell short."""
HELD = 0.9
"""Gateways awaiting answers at once, as a share of them: the target holds the connections."""


DueVariance = Callable[[int, int], float]
"""The variance of how many reports the first `devices` devices make due in `seconds` at a
random place (tagocheck.fleet.schedule.due_variance on the run's fleet)."""


def edge_slack(devices: int, variance: float | None = None) -> float:
    """How far the reports due in a span can fall from the nominal rate times its length, by
    where `devices` devices' reports happen to fall against the span's edges alone.

    Each device's count in the span is the nominal one rounded up or down (a Bernoulli draw on
    its random phase, jitter moving the edge reports too), so the sum spreads by the root of
    `variance` (DueVariance): four of those. Unknown, it is bounded at half a device, and a
    device's count at a report either way (both hold while jitter is at most half an
    interval). A 3-s step of 50 devices at 2 s judges one second of 25 reports due on average:
    21 of them is that spread, not a target falling behind (a CI run called it a knee)."""
    if variance is None:
        return min(float(devices), 4 * math.sqrt(devices / 2))
    return 4 * math.sqrt(variance)


def falls_short(offered: float, achieved: float, slack: float) -> bool:
    """Whether `achieved` reports answered in a span fall short of the `offered` ones (the
    nominal rate times the span): below FOLLOWS of them, by more than `slack` (edge_slack)."""
    return achieved < FOLLOWS * offered and offered - achieved > slack


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
    """Reports answered per second: accepted, with an answer that conforms to the contract."""
    errors: int
    """Reports that got any other outcome in the second (transport errors, non-envelopes, 5xx,
    rejections, 429s, answers that broke the contract)."""
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
    responses: int = 0
    """Reports that got an outcome in the second, answered or not (errors included)."""
    in_flight_peak: int = 0
    """The most reports awaiting an answer at once: near the user count, every gateway was
    held by the target."""
    retries: int = 0
    """Attempts after a report's first in the second: the load retries add (responses
    counts every attempt)."""
    backlog: int = 0
    """Readings waiting in devices' buffers, or in backfill requests awaiting an answer."""
    throttled: int = 0
    """Answers in the second that were throttling by design: 429s to an outage's backfill, whose
    readings go back to the buffer and are sent again. Counted in `errors` (the answer was no
    success), never as failed reports (capacity steps and the error rate leave them out)."""
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


ADDED = (
    "users",
    "offered",
    "achieved",
    "errors",
    "responses",
    "in_flight_peak",
    "rss_mb",
    "devices",
    "retries",
    "backlog",
    "throttled",
    *OUTCOME_FIELDS.values(),
)
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

    def limit(
        self,
        causes: Mapping[str, int] | None = None,
        silence: tuple[float, int] | None = None,
        *,
        probing: bool = False,
        expected_errors: int = 0,
        apart: list[tuple[float, float]] = (),
        due_variance: DueVariance | None = None,
    ) -> dict[str, Any]:
        """Which side limited the run, and the evidence; `causes` are the run's failure reasons
        with their counts, `silence` the observer's (see FleetObserver.silence)."""
        return limit(
            self.samples,
            causes or {},
            silence,
            probing=probing,
            expected_errors=expected_errors,
            apart=apart,
            due_variance=due_variance,
        )


def _judged_variance(
    judged: list[Sample], devices: int, due_variance: DueVariance | None
) -> float | None:
    """The variance of the reports due in the judged seconds: each unbroken run of them is a
    span of its own (an outage left out cuts one in two). A sample's t is when it was taken,
    about a second after the one before (1.0012 s apart in a CI run, which an exact step of 1
    cut into one-second spans, so a slack of 14 for 5 devices hid a slow target)."""
    if due_variance is None:
        return None
    runs: list[int] = []
    for i, second in enumerate(judged):
        if i and second.t - judged[i - 1].t < 1.5:
            runs[-1] += 1
        else:
            runs.append(1)
    return math.fsum(due_variance(devices, seconds) for seconds in runs)


SILENT_REPORTS = 3
"""Transport errors in a row, with no answer after them, that say the target stopped."""


def clock(t: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(t))


def worst_cause(causes: Mapping[str, int], prefix: str = "") -> str:
    """The most frequent failure reason (of those starting with `prefix`), without the prefix."""
    found = [(n, c) for c, n in causes.items() if c.startswith(prefix)]
    return max(found)[1].removeprefix(prefix) if found else ""


def limit(
    samples: list[Sample],
    causes: Mapping[str, int],
    silence: tuple[float, int] | None = None,
    *,
    probing: bool = False,
    expected_errors: int = 0,
    apart: list[tuple[float, float]] = (),
    due_variance: DueVariance | None = None,
) -> dict[str, Any]:
    """Which side limited the run, and the evidence.

    Each answer is given only when the run's figures show it: the target stopped answering
    (connection errors to the end), the target failed (more than FAILING of its outcomes were
    failures), the generator was short of CPU, reports went out late while every gateway waited
    on the target (the target), or late while gateways were free (the generator could not keep
    its schedule). "Neither" needs the offered rate answered, on time, without failures.
    `probing` (the ratelimit scenario): 429s are what the run is after and there is no fleet
    rate to keep up with, so only a target that stopped answering is a limit.
    `expected_errors`: failed outcomes that are no failure of the target (429s a throttled
    backfill is sent again after). `apart`: spans the rates are not judged in (an outage and
    its backfill: nothing sent, then more than was due); the other seconds are.
    `due_variance`: the fleet's, for how far the judged seconds' edges can move the rate
    (edge_slack; None: the bound).
    """
    steady = ramped_up(samples)
    if apart:
        judged = [s for s in steady if not any(a <= s.t < b + 1 for a, b in apart)]
        steady = judged or steady
    if not steady:
        return {"limit": "unknown", "why": "no samples"}
    cause = worst_cause(causes, "transport: ")
    # garbage is an answer, if a bad one; silence is no answer at all
    if silence is not None and silence[1] >= SILENT_REPORTS and cause != transport.NOT_HTTP:
        since = silence[0]
        never = not any(s.achieved or s.responses > s.transport_error for s in samples)
        why = (
            f"the target answered no report ({cause or 'no answer'})"
            if never
            else f"the target stopped answering at {clock(since)} ({cause or 'no answer'})"
        )
        return {"limit": "target", "kind": "stopped", "stopped_at": since, "why": why}
    if probing:
        return {"limit": "not judged", "why": "the ratelimit scenario drives limits, not a fleet"}
    busy = sum(s.cpu + s.cpu_wait >= CPU_LIMIT for s in steady) / len(steady)
    waited = statistics.median(s.cpu_wait for s in steady)
    third = max(1, len(steady) // 3)
    early = statistics.median(s.lateness_p99_ms for s in steady[:third])
    late = statistics.median(s.lateness_p99_ms for s in steady[-third:])
    typical_late = statistics.median(s.lateness_p99_ms for s in steady)
    offered = sum(s.offered for s in steady)
    achieved = sum(s.achieved for s in steady)
    responses = sum(s.responses for s in steady)
    errors = max(0, sum(s.errors for s in steady) - expected_errors)
    failed = errors / responses if responses else 0.0
    ratio = achieved / offered if offered else 1.0
    # a shortfall the judged seconds' edges can make is none (a 3-s swarm judges one second)
    devices = max((s.devices for s in steady), default=0)
    edge = edge_slack(devices, _judged_variance(steady, devices, due_variance))
    slack = round(edge)
    short = falls_short(offered, achieved, edge)
    held = statistics.median(s.in_flight_peak / s.users if s.users else 0.0 for s in steady)
    evidence = {
        "generator_cpu_busy_share": round(busy, 3),
        "generator_cpu_wait_pct_median": round(waited, 1),
        "lateness_p99_ms_first_third": round(early, 1),
        "lateness_p99_ms_last_third": round(late, 1),
        "lateness_p99_ms_median": round(typical_late, 1),
        "achieved_over_offered": round(ratio, 4),
        "rate_short": short,
        "rate_slack_reports": slack,
        "failed_share": round(failed, 4),
        "gateways_held_median": round(held, 3),
    }
    if not responses and not achieved:
        return {"limit": "unknown", "why": "no report got an outcome", **evidence}
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
    if failed > FAILING:
        cause = worst_cause(causes)
        why = f"{failed:.1%} of the reports that got an outcome failed" + (
            f" (most often {cause})" if cause else ""
        )
        return {"limit": "target", "kind": "failing", "why": why, **evidence}
    behind = (late > LATE_MS and late > 2 * early) or typical_late > LATE_MS
    if behind or short:
        if held >= HELD:
            why = (
                f"every gateway was waiting on the target's answers (median {held:.0%} of them "
                f"at once) while the generator had CPU to spare; reports went out up to "
                f"{max(late, typical_late):.0f} ms late and {ratio:.1%} of the offered rate was "
                "answered (more users would tell whether it can take more)"
            )
            return {"limit": "target", "why": why, **evidence}
        if behind:
            why = (
                f"reports went out late (lateness p99 {typical_late:.0f} ms typical, "
                f"{late:.0f} ms at the end) while gateways were free and the target answered: "
                "the generator could not keep its schedule (its machine may be busy)"
            )
            return {"limit": "generator", "why": why, **evidence}
        why = (
            f"{ratio:.1%} of the offered rate was answered, yet neither the generator's CPU nor "
            "its gateways were saturated: the run cannot tell which side fell short"
        )
        return {"limit": "unknown", "why": why, **evidence}
    why = "the target kept up with the offered load"
    if ratio < FOLLOWS:
        why += (
            f" ({ratio:.1%} of the offered rate answered is within the {slack:,} reports the "
            f"edges of {len(steady)} judged seconds can shift)"
        )
    return {"limit": "none", "why": why, **evidence}


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
            # above 1 is catch-up after a stall, not a better start to fall short of
            "achieved_over_offered": min(1.0, sum(s.achieved for s in part) / offered)
            if offered
            else 1.0,
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
