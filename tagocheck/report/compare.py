"""A run against a baseline run: only what is comparable is scored.

A latency or a rate says something against another run's only at the same offered load: 400
reports/s against 200 is "+99.7 %" of nothing. So the two configurations are compared first;
what differs is stated, and then only the figures that do not depend on it are scored:

- runs of the same configuration: every metric;
- capacity runs: each step against the baseline's step at the same offered load (within 5 %),
  and the highest good step and the knee when both ran the same steps;
- whatever the configuration: the shares that do not scale with load (answered, violations per
  response, records lost per acknowledged).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from tagocheck.report.rundata import RunData

REGRESSION = 0.05
"""A metric more than 5 % worse than the baseline's is highlighted."""
SAME_LOAD = 0.05
"""Steps whose offered rates differ by at most this share are at the same load."""


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

    def worse_by_more_than(self, share: float) -> bool:
        if self.baseline is None or self.current is None or self.current == self.baseline:
            return False
        worse = (
            self.current < self.baseline if self.higher_is_better else self.current > self.baseline
        )
        change = self.change
        return worse and (change is None or abs(change) > share)

    @property
    def regression(self) -> bool:
        return self.worse_by_more_than(REGRESSION)


@dataclass
class Comparison:
    deltas: list[Delta] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    """How the configurations differ: what makes load-dependent figures incomparable."""
    not_scored: list[str] = field(default_factory=list)
    """Metrics left out for those differences."""

    def regressions(self, share: float = REGRESSION) -> list[Delta]:
        return [d for d in self.deltas if d.worse_by_more_than(share)]


# (what, how to read it from a run's config) for the figures that decide the offered load
CONFIGURATION = {
    "scenario": lambda c: c.get("scenario"),
    "plan": lambda c: c.get("plan"),
    "devices": lambda c: c.get("devices"),
    "offered reports/s": lambda c: _rounded(c.get("offered_reports_per_second")),
    "interval": lambda c: (c.get("options") or {}).get("interval"),
    "records per request": lambda c: (c.get("options") or {}).get("records_per_request"),
    "payload": lambda c: (c.get("options") or {}).get("payload"),
    "connection": lambda c: (c.get("options") or {}).get("connection"),
    "users": lambda c: (c.get("options") or {}).get("num_users"),
}


def _rounded(value: Any) -> Any:
    return round(value, 1) if isinstance(value, int | float) else value


def differences(current: RunData, baseline: RunData) -> list[str]:
    found = []
    for what, read in CONFIGURATION.items():
        now, before = read(current.config), read(baseline.config)
        if now != before:
            found.append(f"{what}: {_shown(now)} here, {_shown(before)} in the baseline")
    return found


def _shown(value: Any) -> str:
    return "-" if value is None else f"{value:,}" if isinstance(value, int | float) else str(value)


def load_metrics(run: RunData) -> dict[str, tuple[float | None, str, bool]]:
    """name -> (value, unit, higher is better): the figures that depend on the offered load."""
    summary = run.summary
    latency = (summary.get("latency_ms") or {}).get("corrected") or {}
    service = (summary.get("latency_ms") or {}).get("service") or {}
    steady = run.steady()
    achieved = statistics.fmean(s.achieved for s in steady) if steady else None
    integrity = summary.get("integrity") or {}
    return {
        "achieved reports/s (steady mean)": (achieved, "/s", True),
        "corrected p50": (latency.get("p50"), "ms", False),
        "corrected p99": (latency.get("p99"), "ms", False),
        "corrected p99.9": (latency.get("p99.9"), "ms", False),
        "service p99": (service.get("p99"), "ms", False),
        "responses that broke the contract": (_number(summary, "nonconforming"), "", False),
        "rate-limit findings": (float(len(summary.get("rate_limit_findings") or [])), "", False),
        "lost records": (float(integrity.get("lost") or 0), "", False),
        "duplicated records": (float(integrity.get("duplicated") or 0), "", False),
    }


def share_metrics(run: RunData) -> dict[str, tuple[float | None, str, bool]]:
    """The figures that do not scale with the load: comparable whatever the configuration."""
    summary = run.summary
    reports = summary.get("reports") or 0
    integrity = summary.get("integrity") or {}
    acknowledged = integrity.get("reports_acknowledged") or 0
    answered = summary.get("answered")
    return {
        "share of reports answered": (
            answered / reports if reports and answered is not None else None,
            "",
            True,
        ),
        "share of responses that broke the contract": (
            (summary.get("nonconforming") or 0) / reports if reports else None,
            "",
            False,
        ),
        "lost records per acknowledged report": (
            (integrity.get("lost") or 0) / acknowledged if acknowledged else None,
            "",
            False,
        ),
    }


def _number(summary: dict[str, Any], key: str) -> float | None:
    value = summary.get(key)
    return float(value) if isinstance(value, int | float) else None


def _deltas(now: dict, before: dict) -> list[Delta]:
    return [
        Delta(name, unit, before[name][0], value, better)
        for name, (value, unit, better) in now.items()
        if value is not None or before[name][0] is not None
    ]


def _steps(run: RunData) -> list[dict[str, Any]]:
    return run.capacity.get("steps") or []


def step_deltas(current: RunData, baseline: RunData) -> list[Delta]:
    """Each capacity step against the baseline's step at the same offered load."""
    found = []
    for step in _steps(current):
        match = next(
            (
                b
                for b in _steps(baseline)
                if b["offered"] and abs(step["offered"] - b["offered"]) <= SAME_LOAD * b["offered"]
            ),
            None,
        )
        if match is None:
            continue
        at = f"at {step['offered']:,.0f}/s offered"
        found += [
            Delta(f"{at}: achieved", "/s", match["achieved"], step["achieved"], True),
            Delta(f"{at}: p99", "ms", match["p99_ms"], step["p99_ms"], False),
            Delta(f"{at}: error share", "", match["error_share"], step["error_share"], False),
        ]
    return found


def capacity_deltas(current: RunData, baseline: RunData) -> list[Delta]:
    """The highest good step and the knee, when both runs offered the same steps."""
    offered = [round(s["offered"], 1) for s in _steps(current)]
    if not offered or offered != [round(s["offered"], 1) for s in _steps(baseline)]:
        return []

    def figures(run: RunData) -> dict[str, tuple[float | None, str, bool]]:
        capacity = run.capacity
        best = capacity.get("highest_good") or {}
        knee = capacity.get("knee") or {}
        return {
            "highest good step, offered": (best.get("offered"), "/s", True),
            "knee, offered": (knee.get("offered"), "/s", True),
        }

    return _deltas(figures(current), figures(baseline))


def compare(current: RunData, baseline: RunData) -> Comparison:
    found = Comparison(differences=differences(current, baseline))
    found.deltas += capacity_deltas(current, baseline) + step_deltas(current, baseline)
    if found.differences:
        found.not_scored = list(load_metrics(current))
        found.deltas += _deltas(share_metrics(current), share_metrics(baseline))
    else:
        found.deltas += _deltas(load_metrics(current), load_metrics(baseline))
        found.deltas += _deltas(share_metrics(current), share_metrics(baseline))
    return found
