"""The answer a run's report opens with, and the exit status that carries it.

Every statement comes from the run's own figures. The headline is the worst finding when there
is one (a run that could not start, broke off or was interrupted; a target that stopped
answering; records lost; failures; contract violations; rate limits enforced otherwise than the
plan; thresholds broken), and "met the thresholds" only when nothing at all was found. The same
judgement gives the exit status of `locust -f loadtests/...` and `tagocheck capacity`:

    0    everything held
    1    findings: thresholds, contract, integrity or rate limits (or the run broke off, or the
         generator's own tasks raised: not judged, and nothing then blamed on the target)
    2    the run could not start: bad input, an unreachable target, a refused token
    130  interrupted (SIGINT or SIGTERM); the report says what ran
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagocheck.fleet.capacity import Step
from tagocheck.fleet.integrity import problems as integrity_problems
from tagocheck.fleet.paths import REPORT_WORD
from tagocheck.fleet.probes import BESIDE_UPLINKS
from tagocheck.fleet.timeline import FOLLOWS
from tagocheck.report import capacity_verdict, rundata, trouble_verdict
from tagocheck.report.ranked import Findings
from tagocheck.report.rundata import RunData
from tagocheck.words import counted

HELD, FINDINGS, NOT_RUN, INTERRUPTED = "held", "findings", "not-run", "interrupted"
EXIT_CODES = {HELD: 0, FINDINGS: 1, NOT_RUN: 2, INTERRUPTED: 130}


@dataclass
class Verdict:
    headline: str
    outcome: str
    """held, findings, not-run or interrupted."""
    facts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Every finding but the one in the headline, worst first."""
    caveats: list[str] = field(default_factory=list)
    """What limits what the run can vouch for, without being the target's fault."""

    @property
    def good(self) -> bool:
        """True when the run met its thresholds and found no fault."""
        return self.outcome == HELD

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]


def judge(run: RunData) -> Verdict:
    summary = run.summary
    findings = Findings()
    facts: list[str] = []
    caveats: list[str] = []
    ended = summary.get("ended") or {}
    how = ended.get("how")

    _ending(run, ended, findings)
    if how == "not-run":  # nothing ran: nothing else to judge
        return Verdict(findings.ordered()[0], NOT_RUN)
    limit = summary.get("limit") or {}
    _empty(run, findings)
    generator_failed = _generator(summary, findings)
    if not generator_failed:  # what it failed to send is no shortfall of the target's
        _target(run, limit, findings)
    _integrity(summary, findings)
    trouble_verdict.judge_retries(summary, findings, facts)
    trouble_verdict.judge_outages(summary, findings, facts, caveats)
    _failures(run, findings)
    _contract(summary, findings)
    trouble_verdict.note_departures(summary, facts)
    judged = _rate_limits(run, findings, facts, caveats)
    _thresholds(summary, findings)
    best = capacity_verdict.judge_capacity(run, findings, facts, caveats)
    capacity_verdict.judge_path(run, findings, facts)
    drift = summary.get("drift") or {}
    if drift.get("verdict") == "drift" and (run.scenario == "soak" or drift.get("checked")):
        findings.add("drift", f"The run drifted: {'; '.join(drift.get('findings', []))}.")
    if run.capacity.get("mode") != "search" and not generator_failed:  # a search's steps differ
        capacity_verdict.judge_limit(limit, findings, facts, caveats)

    ordered = findings.ordered()
    if ordered:
        headline, problems = ordered[0], ordered[1:]
        load = (
            capacity_verdict.best_fact(best, run.capacity)
            if best
            else capacity_verdict.load_fact(run)
        )
        if load:
            facts.insert(0, load)
    else:
        headline, problems = _all_clear(run, best, judged), []
    if caveats and not ordered:
        headline = headline.rstrip(".") + f", but {caveats[0][0].lower()}{caveats[0][1:]}"
    if how == "interrupted":
        outcome = INTERRUPTED
    elif ordered:
        outcome = FINDINGS
    else:
        outcome = HELD
    return Verdict(headline, outcome, facts, problems, caveats)


def judge_dir(path: Path) -> Verdict:
    """The verdict of the run in `path`, as its report states it (RunDirError if none)."""
    return judge(rundata.load(path))


def _target(run: RunData, limit: dict[str, Any], findings: Findings) -> None:
    """What the limit verdict holds against the target: it stopped answering, or (outside a
    capacity run, whose steps say it) it held the fleet's reports back."""
    if limit.get("kind") == "stopped":
        findings.add("stopped", f"{limit['why'][0].upper()}{limit['why'][1:]}.")
    ratio = limit.get("achieved_over_offered")
    held_back = limit.get("limit") == "target" and limit.get("kind") is None
    short = isinstance(ratio, float) and ratio < FOLLOWS and limit.get("rate_short", True)
    if held_back and not run.capacity and short:
        findings.add(
            "behind",
            f"The target answered {ratio:.1%} of the offered rate: the fleet's reports were not "
            "taken as they came due.",
        )


def _ending(run: RunData, ended: dict[str, Any], findings: Findings) -> None:
    how, why = ended.get("how"), ended.get("why") or "no cause recorded"
    if how == "not-run":
        findings.add("not-run", f"The run could not start: {why}.")
    elif how == "crashed":
        findings.add("crashed", f"The run broke off with an error: {why}.")
    elif how == "interrupted":
        ran = _seconds(run)
        planned = (run.config.get("options") or {}).get("run_time")
        of = f" of {planned:,} planned" if isinstance(planned, int | float) and planned else ""
        findings.add(
            "interrupted",
            f"The run was interrupted ({ended.get('signal') or 'signal'}) after {ran:,.0f} s{of}: "
            "its figures cover only what ran.",
        )
    if not run.summary:
        seconds = len(run.samples)
        findings.add(
            "damaged",
            "The load run did not finish, so this report has no verdict on capacity"
            + (
                f"; it had {counted(seconds, 'second')} of samples."
                if seconds
                else " and no samples."
            ),
        )
    elif run.missing:
        findings.add(
            "damaged",
            f"The run directory is damaged ({'; '.join(run.missing)}): the verdict covers only "
            "what it holds.",
        )


def _empty(run: RunData, findings: Findings) -> None:
    """A run that sent no report judged nothing: never an all-clear (found in CI: a distributed
    run whose workers went missing in 4 s read "200 devices ... met the thresholds")."""
    summary = run.summary
    if run.scenario == "ratelimit" or not summary or summary.get("reports") != 0:
        return
    if (summary.get("ended") or {}).get("how") in ("not-run", "interrupted"):
        return  # said by its ending already
    findings.add(
        "empty",
        f"No report was sent in the {_seconds(run):,.0f} s the run lasted: nothing was judged.",
    )


def _generator(summary: dict[str, Any], findings: Findings) -> bool:
    """Whether the generator's own tasks raised (said as a finding, never blamed on the target:
    what a raising task failed to send was never offered, so who limited the run is not known)."""
    errors = summary.get("generator_errors") or {}
    count = errors.get("count") or 0
    if not count:
        return False
    first = (errors.get("commonest") or [{}])[0]
    said = f"{first.get('error') or 'an error'}" + (
        f" at {first['where']}" if first.get("where") else ""
    )
    findings.add(
        "generator",
        f"Not judged: the load generator's own tasks raised {counted(count, 'error')} (the "
        f"commonest: {said}); what they failed to send never reached the target, so this run "
        "says nothing of the target's capacity. This is the suite's fault, not the target's.",
    )
    return True


def _seconds(run: RunData) -> float:
    if run.samples:
        return run.samples[-1].t - run.samples[0].t + 1
    started, ended = run.config.get("started"), (run.summary.get("ended") or {}).get("at")
    return max(0.0, ended - started) if isinstance(started, float) and ended else 0.0


def _integrity(summary: dict[str, Any], findings: Findings) -> None:
    integrity = summary.get("integrity") or {}
    for line in integrity_problems(integrity):
        findings.add("integrity", f"{line[0].upper()}{line[1:]}.")
    if integrity.get("unanswered"):
        findings.add(
            "unreconciled",
            f"The target did not answer the integrity check for {integrity['unanswered']:,} "
            "devices: their records could not be reconciled.",
        )
    vague = integrity.get("count_not_understood")
    if vague:
        findings.add(
            "counts",
            f"{vague:,} acknowledgements did not say how many records were added in the "
            'documented form ("N Data Added"): their counts were not understood (integrity '
            "reconciled them through the read-back).",
        )


def _failures(run: RunData, findings: Findings) -> None:
    """The share of reports that failed, against the run's error-rate threshold."""
    summary = run.summary
    broken = _broken(summary)
    line = next((b for b in broken if b["check"] == "error_rate"), None)
    if line is None:
        return
    reasons = summary.get("rejection_reasons") or {}
    worst = max(reasons.items(), key=lambda item: item[1])[0] if reasons else ""
    share = line.get("value")
    total, what = line.get("of"), line.get("denominator", "reports failed")
    if isinstance(share, float) and isinstance(total, int):
        verb = what.removeprefix("reports ")
        said = f"{share:.1%} of {total:,} reports {'were ' if verb == 'given up' else ''}{verb}"
    elif isinstance(share, float):
        said = f"{share:.1%} of reports failed"
    else:
        said = line["text"]
    limit = line.get("limit")
    over = f" (threshold {limit:g})" if isinstance(limit, int | float) else ""
    cause = f"; most often {worst}" if worst else ""
    findings.add("failing", f"{said[0].upper()}{said[1:]}{over}{cause}.")


def _contract(summary: dict[str, Any], findings: Findings) -> None:
    responses = summary.get("nonconforming")
    by_check = summary.get("violations") or {}
    if responses is None:  # a run from before responses were counted once each
        responses = max(by_check.values(), default=0)
    if responses:
        checks = ", ".join(f"{check} {count:,}" for check, count in sorted(by_check.items()))
        findings.add("contract", f"{responses:,} responses broke the contract ({checks}).")


def _rate_limits(
    run: RunData, findings: Findings, facts: list[str], caveats: list[str]
) -> dict[str, int]:
    summary = run.summary
    rows = summary.get("rate_limit_enforcement") or []
    found = summary.get("rate_limit_findings") or []
    judged = {
        "limits": sum(r["windows"] > r["under"] for r in rows),
        "windows": sum(r["windows"] - r["under"] for r in rows),
        "enforced": sum(r["enforced"] for r in rows),
        "under": sum(r["under"] for r in rows),
    }
    under, unreached = _limits_not_judged(run, rows)
    judged["of"] = judged["limits"] + len(under) + len(unreached)
    if found:
        leaks = sum(f["kind"] == "leak" for f in found)
        early = len(found) - leaks
        findings.add(
            "rate-limits",
            f"Rate limits enforced otherwise than the plan: {counted(leaks, 'window')} leaked, "
            f"{early} throttled early.",
        )
    elif run.scenario == "ratelimit" and run.summary and not judged["windows"]:
        findings.add(
            "rate-limits",
            f"No rate limit was judged: all {counted(judged['under'], 'window')} probed got fewer "
            "requests than their limit.",
        )
    if rows:
        facts.append(
            f"Rate limits: {judged['limits']} of {counted(judged['of'], 'limit')} judged in "
            f"{counted(judged['windows'], 'window')} ({judged['enforced']} enforced as "
            f"documented), {judged['under']} windows under the limit (not judged)."
        )
    profile = [r for r in rows if r["scope"] == "profile"]  # a device's are the profile's too
    late = sum(r.get("late", 0) for r in profile)
    if late:
        sent = sum(r["sent"] for r in profile)
        facts.append(
            f"{late:,} of {late + sent:,} probe requests due were not sent: the load generator "
            "reached them after their window had ended (sent then, they would count in another "
            "group's window)."
        )
    if judged["windows"]:
        caveats += _not_judged_why(run.config, under, unreached)
    return judged


def _limits_not_judged(run: RunData, rows: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The limits the run set out to probe without judging one window of: those driven but never
    past their limit, and those whose windows never came before the run ended."""
    seen = {(r["scope"], r["route"]): r["windows"] > r["under"] for r in rows}
    planned = set()
    for probe in run.config.get("probes") or []:
        if probe.get("group") is None or probe["route"] == BESIDE_UPLINKS:
            continue  # a run from before probes had window groups; a probe held to no limit
        device = probe.get("device")
        planned.add(("profile" if device is None else f"device:{device}", probe["route"]))

    def named(keys: Any) -> list[str]:
        return sorted(r if s == "profile" else f"{r} ({s.replace(':', ' ')})" for s, r in keys)

    under = named(key for key, judged in seen.items() if not judged)
    return under, named(planned - set(seen))


def _not_judged_why(config: dict[str, Any], under: list[str], unreached: list[str]) -> list[str]:
    said = []
    if under:
        rate = config.get("probe_requests_per_second")
        asked = f" of the {rate:,.0f} requests/s asked" if isinstance(rate, int | float) else ""
        said.append(
            f"{counted(len(under), 'limit')} got fewer requests than the limit in every window "
            f"({', '.join(under)}): the load generator sent short{asked}, or the run ended inside "
            "the window; a lower --probe-rate or a longer run judges it"
        )
    if unreached:
        groups, window = config.get("probe_window_groups"), config.get("rate_window_seconds")
        turn = f" ({groups * window:g} s)" if groups and window else ""
        said.append(
            f"{counted(len(unreached), 'limit')} had no window before the run ended "
            f"({', '.join(unreached)}): a run of a whole turn of windows{turn} judges every limit"
        )
    return said


def _broken(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The thresholds broken, as {check, text, value, limit}; plain lines from older runs."""
    broken = (summary.get("thresholds") or {}).get("broken") or []
    return [b if isinstance(b, dict) else {"check": "other", "text": str(b)} for b in broken]


# Thresholds whose finding another part of the verdict states already, in its own words.
_SAID_ELSEWHERE = {"error_rate", "integrity", "schema_violations", "rate_limit_findings"}


def _thresholds(summary: dict[str, Any], findings: Findings) -> None:
    for line in _broken(summary):
        if line["check"] in _SAID_ELSEWHERE:
            continue
        if line["check"] == "drift":
            findings.add("drift", f"Threshold broken: {line['text']}.")
            continue
        findings.add("threshold", f"Threshold broken: {line['text']}.")


def _all_clear(run: RunData, best: Step | None, judged: dict[str, int]) -> str:
    if best is not None:
        return capacity_verdict.best_fact(best, run.capacity)
    if run.scenario == "ratelimit":
        return (
            f"Rate limits held as the plan says: {judged['limits']} of "
            f"{counted(judged['of'], 'limit')} judged in {counted(judged['windows'], 'window')}, "
            "every one enforced."
        )
    summary, config = run.summary, run.config
    offered, devices = config.get("offered_reports_per_second"), config.get("devices")
    if offered is None or devices is None:
        return "The run ended before its fleet was configured; see what it wrote below."
    p99 = ((summary.get("latency_ms") or {}).get("corrected") or {}).get("p99")
    share = capacity_verdict.answered_share(summary)
    latency = f", p99 {p99:,.0f} ms" if isinstance(p99, int | float) else ""
    word = REPORT_WORD.get(config.get("via", "device"), "reports")
    through = " through one network token" if config.get("via") == "network" else ""
    return f"{devices:,} devices offering {offered:,.1f} {word}/s{through} met the thresholds" + (
        f" ({share}{latency})." if share else "."
    )
