"""The capacity steps: raise the offered load step by step until the target stops keeping up.

Each step brings more of the fleet in and holds it for a while; its offered and achieved
(answered: accepted and conforming) rates, corrected p99 and error share (failed outcomes among
all outcomes) come from the run's per-second timeline (its first seconds, the
ramp, are left out); a step's p99 is the median of its seconds' p99s, so that one stalled second
does not make a knee. The knee is the first step the target did not keep up with: throughput
stopped following the offered rate, or a step broke the run's thresholds (errors over its error
rate, 1 % unless told; p99 over its p99 threshold). A p99 that bends (more than twice the first
step's and over 50 ms) below the thresholds is a finding with where it began, not a knee: a step
that met the thresholds always counts in the answer.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from tagocheck.fleet.timeline import FAILING, DueVariance, Sample, edge_slack, falls_short

P99_BEND = 2.0
P99_FLOOR_MS = 50.0
ERROR_SHARE = FAILING
SETTLE_SECONDS = 2


@dataclass(frozen=True)
class Step:
    index: int
    devices: int
    started: float
    ended: float
    offered: float
    achieved: float
    p99_ms: float | None
    """None: no answer was measured in the step (no p99 to speak of, not 0)."""
    error_share: float
    seconds: int = 0
    """The seconds judged (0: a run recorded before they were)."""
    slack: float = 0.0
    """Reports the judged seconds' edges can leave due beyond or short of the nominal rate
    (timeline.edge_slack): a shortfall within it is none."""

    @property
    def fell_short(self) -> bool:
        """Whether the answered rate fell short of the offered one by more than the judged
        seconds' edges can shift."""
        span = max(1, self.seconds)
        return falls_short(self.offered * span, self.achieved * span, self.slack)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def step_from(
    index: int,
    devices: int,
    started: float,
    ended: float,
    offered: float,
    samples: list[Sample],
    due_variance: DueVariance | None = None,
) -> Step:
    """The step's figures from its held seconds; `due_variance`: the fleet's, for how far the
    held seconds' edges can move the rate (edge_slack; None: the bound)."""
    held = [s for s in samples if started + SETTLE_SECONDS <= s.t <= ended] or [
        s for s in samples if started <= s.t <= ended
    ]
    achieved = statistics.fmean(s.achieved for s in held) if held else 0.0
    outcomes = sum(s.responses for s in held) or 1.0
    measured = [s.corrected_p99_ms for s in held if s.responses]
    return Step(
        index=index,
        devices=devices,
        started=started,
        ended=ended,
        offered=offered,
        achieved=achieved,
        # the typical second's p99: one stalled second (a slow commit) is not a knee
        p99_ms=statistics.median(measured) if measured else None,
        # a backfill throttled as designed is sent again until stored: no failed report
        error_share=sum(max(0, s.errors - s.throttled) for s in held) / outcomes,
        seconds=len(held),
        slack=edge_slack(devices, due_variance(devices, len(held)) if due_variance else None),
    )


def p99_text(p99_ms: float | None) -> str:
    """A step's p99 for a person: "p99 12 ms", or that none was measured."""
    return "no p99 (nothing answered)" if p99_ms is None else f"p99 {p99_ms:,.0f} ms"


def bend(steps: list[Step]) -> dict[str, Any] | None:
    """The first step whose p99 bent (more than twice the first measured step's, and over
    50 ms): a finding with where it began, never a stop nor a cut in the answer."""
    baseline = next((s.p99_ms for s in steps if s.p99_ms is not None), None)
    if baseline is None:
        return None
    for step in steps:
        if step.p99_ms is not None and step.p99_ms > max(P99_FLOOR_MS, P99_BEND * baseline):
            why = f"p99 {step.p99_ms:,.0f} ms against {baseline:,.0f} ms at the start"
            return {"step": step.index, "offered": step.offered, "why": why}
    return None


def broke(step: Step, p99_ms: float | None = None, error_rate: float | None = None) -> list[str]:
    """Why a step did not hold (empty: it did): its throughput stopped following the offered
    rate (by more than its judged seconds' edges can shift), its errors passed the run's error
    rate (1 % unless told), or its p99 passed the run's p99 threshold (when one is set). A p99
    that only bent is no reason (bend())."""
    share = ERROR_SHARE if error_rate is None else error_rate
    reasons = []
    if step.fell_short:
        reasons.append(f"throughput {step.achieved:,.0f}/s of {step.offered:,.0f}/s offered")
    if p99_ms is not None and step.p99_ms is not None and step.p99_ms > p99_ms:
        reasons.append(f"p99 {step.p99_ms:,.0f} ms over the {p99_ms:,.0f} ms threshold")
    if step.error_share > share:
        reasons.append(f"{step.error_share:.1%} of reports failed")
    return reasons


def standing(steps: list[Step]) -> list[Step]:
    """The steps that count, in the order run: at each device count the latest one. A step
    that broke is held again before its break is believed (see repeating()); the repeat stands
    for both, so a break the repeat did not show counts as the load held, not as a knee."""
    latest = {step.devices: step for step in steps}
    return sorted(latest.values(), key=lambda step: step.index)


def repeating(steps: list[Step], broken: Callable[[Step], bool]) -> Step | None:
    """The last step, when it broke and is not itself a repeat: the step to hold again.

    A finding is confirmed before it is reported: one step's seconds on a busy machine can
    fall short of a rate the target keeps (CI once broke a 20-device step of a 90/s target
    and called the capacity 19 devices). A break the target causes shows again."""
    if not steps or not broken(steps[-1]):
        return None
    if len(steps) > 1 and steps[-2].devices == steps[-1].devices:
        return None
    return steps[-1]


def knee(
    steps: list[Step], p99_ms: float | None = None, error_rate: float | None = None
) -> dict[str, Any] | None:
    """The first step (in the order run) the target did not keep up with, and what showed it;
    None if none. Of the standing steps: a break its repeat did not show is no knee."""
    for step in standing(steps):
        reasons = broke(step, p99_ms, error_rate)
        if reasons:
            return {"step": step.index, "offered": step.offered, "why": "; ".join(reasons)}
    return None


def meets(step: Step, p99_ms: float | None = None, error_rate: float | None = None) -> bool:
    """Whether a step held the run's thresholds (None: that one was not checked). A step with
    no p99 measured cannot be vouched for against a p99 threshold."""
    return (p99_ms is None or (step.p99_ms is not None and step.p99_ms <= p99_ms)) and (
        error_rate is None or step.error_share <= error_rate
    )


def held(step: Step, p99_ms: float | None = None, error_rate: float | None = None) -> bool:
    """The step kept up and met the thresholds: load the run can vouch for."""
    return not broke(step, p99_ms, error_rate) and meets(step, p99_ms, error_rate)


def bracket(
    steps: list[Step], p99_ms: float | None = None, error_rate: float | None = None
) -> tuple[Step | None, Step | None]:
    """The capacity's bracket: the highest step that held below the lowest that broke, and
    that lowest broken step (None: no step broke, the capacity is above the highest held).

    By load, not by order: a search probes up and down, and a ramp's steps only go up, so for
    a ramp stopped at its knee this is the step before the knee and the knee. Of the standing
    steps: a repeat decides for the step it repeated."""
    steps = standing(steps)
    broken = [s for s in steps if broke(s, p99_ms, error_rate)]
    ceiling = min(broken, key=lambda s: (s.devices, s.index)) if broken else None
    good = [
        s
        for s in steps
        if held(s, p99_ms, error_rate) and (ceiling is None or s.devices < ceiling.devices)
    ]
    return (max(good, key=lambda s: (s.devices, s.index)) if good else None), ceiling


def highest_good(
    steps: list[Step], p99_ms: float | None = None, error_rate: float | None = None
) -> Step | None:
    """The highest load that held below any that broke: the capacity the run can vouch for
    (the report's headline and its baseline comparison both read this one)."""
    return bracket(steps, p99_ms, error_rate)[0]
