"""Per-metric deltas against a baseline run, with the direction that counts as worse for each."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from tagocheck.report.rundata import RunData

REGRESSION = 0.05
"""A metric more than 5 % worse than the baseline's is highlighted."""


@dataclass(frozen=True)
class Delta:
    metric: str
    unit: str
    baseline: float | None
    current: float | None
    higher_is_better: bool

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        if self.baseline == 0:
            return None if self.current == 0 else float("inf")
        return (self.current - self.baseline) / abs(self.baseline)

    @property
    def change_text(self) -> str:
        change = self.change
        if change is None:
            return "-"
        if change == float("inf"):
            return "from 0"
        return f"{change * 100:+.1f} %"

    @property
    def regression(self) -> bool:
        if self.baseline is None or self.current is None or self.current == self.baseline:
            return False
        worse = (
            self.current < self.baseline if self.higher_is_better else self.current > self.baseline
        )
        change = self.change
        return worse and (change is None or abs(change) > REGRESSION)


def metrics(run: RunData) -> dict[str, tuple[float | None, str, bool]]:
    """name -> (value, unit, higher is better)."""
    summary = run.summary
    latency = (summary.get("latency_ms") or {}).get("corrected") or {}
    service = (summary.get("latency_ms") or {}).get("service") or {}
    steady = run.steady()
    achieved = statistics.fmean(s.achieved for s in steady) if steady else None
    outcomes = summary.get("outcomes") or {}
    total = sum(sum(c.values()) for c in outcomes.values())
    accepted = sum(c.get("accepted", 0) for c in outcomes.values())
    capacity = summary.get("capacity") or {}
    best = capacity.get("highest_good") or {}
    knee = capacity.get("knee") or {}
    return {
        "achieved reports/s (steady mean)": (achieved, "/s", True),
        "highest good step, offered": (best.get("offered"), "/s", True),
        "knee, offered": (knee.get("offered"), "/s", True),
        "corrected p50": (latency.get("p50"), "ms", False),
        "corrected p99": (latency.get("p99"), "ms", False),
        "corrected p99.9": (latency.get("p99.9"), "ms", False),
        "service p99": (service.get("p99"), "ms", False),
        "share not accepted": ((total - accepted) / total if total else None, "", False),
        "schema violations": (float(sum((summary.get("violations") or {}).values())), "", False),
        "rate-limit findings": (float(len(summary.get("rate_limit_findings") or [])), "", False),
        "lost records": (float((summary.get("integrity") or {}).get("lost") or 0), "", False),
        "duplicated records": (
            float((summary.get("integrity") or {}).get("duplicated") or 0),
            "",
            False,
        ),
    }


def compare(current: RunData, baseline: RunData) -> list[Delta]:
    now, before = metrics(current), metrics(baseline)
    return [
        Delta(name, unit, before[name][0], value, better)
        for name, (value, unit, better) in now.items()
        if value is not None or before[name][0] is not None
    ]
