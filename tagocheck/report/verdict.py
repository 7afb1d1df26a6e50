"""The answer a capacity report opens with.

The highest offered load that met the thresholds (a capacity step's, or the whole run's), where
the knee is and what showed it, and whether the target or the generator was the limit. Each
statement comes from the run's own figures; where the run cannot tell, the verdict says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tagocheck.fleet.capacity import Step, highest_good
from tagocheck.fleet.integrity import problems as integrity_problems
from tagocheck.report.rundata import RunData


@dataclass
class Verdict:
    headline: str
    good: bool
    """True when the run met its thresholds and found no fault."""
    facts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def judge(run: RunData) -> Verdict:
    summary, config = run.summary, run.config
    thresholds = (summary.get("thresholds") or {}).get("checked", {})
    broken = (summary.get("thresholds") or {}).get("broken", [])
    limit = summary.get("limit") or {}
    capacity = run.capacity
    steps = capacity.get("steps") or []
    knee = capacity.get("knee")
    facts: list[str] = []
    problems: list[str] = []

    if not summary:
        seconds = len(run.samples)
        headline = "The load run did not finish, so this report has no verdict on capacity" + (
            f"; it had {seconds} seconds of samples." if seconds else " and no samples."
        )
    elif steps:
        best = highest_good(
            [Step(**step) for step in steps],
            thresholds.get("p99_ms"),
            thresholds.get("error_rate"),
        )
        if best:
            headline = (
                f"Highest load that met the thresholds: {best.devices:,} devices, "
                f"{best.offered:,.1f} reports/s offered ({best.achieved:,.1f}/s answered, "
                f"p99 {best.p99_ms:,.0f} ms)."
            )
        else:
            headline = "No capacity step met the thresholds, the first one included."
        planned = (config.get("options") or {}).get("steps") or len(steps)
        if not knee and len(steps) < planned:
            problems.append(
                f"The run stopped after step {len(steps)} of {planned} (interrupted?): the "
                "capacity above it was not measured."
            )
        if knee:
            facts.append(
                f"Knee at step {knee['step']} ({knee['offered']:,.1f} reports/s offered): "
                f"{knee['why']}."
            )
        else:
            facts.append(
                f"No knee within the {len(steps)} steps run: the target kept up with all of them."
            )
    else:
        offered = config.get("offered_reports_per_second")
        devices = config.get("devices")
        ratio = limit.get("achieved_over_offered")
        if offered is None:
            headline = "The run ended before its fleet was configured; see what it wrote below."
        elif broken:
            headline = (
                f"{devices:,} devices offering {offered:,.1f} reports/s did not meet the "
                "thresholds."
            )
        else:
            headline = (
                f"{devices:,} devices offering {offered:,.1f} reports/s met the thresholds"
                + (f" ({ratio:.1%} answered)." if ratio is not None else ".")
            )
    who = limit.get("limit")
    if who == "generator":
        problems.append(f"The load generator, not the target, was the limit: {limit.get('why')}.")
    elif who == "target":
        facts.append(f"The target was the limit: {limit.get('why')}.")
    elif who == "none":
        facts.append("Neither side was a limit: the target kept up with the offered load.")
    problems += [f"Threshold broken: {line}." for line in broken]
    integrity = summary.get("integrity") or {}
    if integrity.get("unanswered"):
        problems.append(
            f"The target did not answer the integrity check for {integrity['unanswered']:,} "
            "devices: their records could not be reconciled."
        )
    # the run's thresholds list them already, unless it ended before judging them
    problems += [f"{line}." for line in integrity_problems(integrity) if line not in broken]
    violations = sum((summary.get("violations") or {}).values())
    if violations:
        problems.append(f"{violations:,} responses broke the contract.")
    findings = summary.get("rate_limit_findings") or []
    if findings:
        leaks = sum(f["kind"] == "leak" for f in findings)
        early = len(findings) - leaks
        problems.append(
            f"Rate limits enforced otherwise than the plan: {leaks} windows leaked, "
            f"{early} throttled early."
        )
    drift = summary.get("drift") or {}
    if drift.get("verdict") == "drift":
        problems.append(f"The run drifted: {'; '.join(drift.get('findings', []))}.")
    if run.missing:
        problems.append(f"The run did not finish writing: missing {', '.join(run.missing)}.")
    return Verdict(headline, not problems, facts, problems)
