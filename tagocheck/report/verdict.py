"""The answer a run's report opens with, and the exit status that carries it.

Every statement comes from the run's own figures. The headline is the worst finding when there
is one (a run that could not start, broke off or was interrupted; a target that stopped
answering; records lost; failures; contract violations; rate limits enforced otherwise than the
plan; thresholds broken), and "met the thresholds" only when nothing at all was found. The same
judgement gives the exit status of `locust -f loadtests/...` and `tagocheck capacity`:

    0    everything held
    1    findings: thresholds, contract, integrity or rate limits (or the run broke off)
    2    the run could not start: bad input, an unreachable target, a refused token
    130  interrupted (SIGINT or SIGTERM); the report says what ran
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagocheck.fleet.capacity import Step, highest_good, p99_text
from tagocheck.fleet.integrity import problems as integrity_problems
from tagocheck.fleet.model import FleetConfigError, Interval
from tagocheck.fleet.paths import NAMES, REPORT_WORD, PathLimit, path_limit
from tagocheck.fleet.timeline import FOLLOWS
from tagocheck.report import rundata
from tagocheck.report.rundata import RunData
from tagocheck.words import counted

HELD, FINDINGS, NOT_RUN, INTERRUPTED = "held", "findings", "not-run", "interrupted"
EXIT_CODES = {HELD: 0, FINDINGS: 1, NOT_RUN: 2, INTERRUPTED: 130}

# The order in which findings lead the headline: the worst first.
RANKS = (
    "not-run",
    "crashed",
    "interrupted",
    "damaged",
    "stopped",
    "integrity",
    "duplicates",
    "backfill",
    "failing",
    "behind",
    "contract",
    "counts",
    "rate-limits",
    "threshold",
    "capacity",
    "drift",
    "unreconciled",
)


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


@dataclass
class _Findings:
    found: list[tuple[int, str]] = field(default_factory=list)

    def add(self, kind: str, text: str) -> None:
        self.found.append((RANKS.index(kind), text))

    def has(self, kind: str) -> bool:
        return any(rank == RANKS.index(kind) for rank, _ in self.found)

    def ordered(self) -> list[str]:
        return [text for _, text in sorted(self.found, key=lambda item: item[0])]


def judge(run: RunData) -> Verdict:
    summary = run.summary
    findings = _Findings()
    facts: list[str] = []
    caveats: list[str] = []
    ended = summary.get("ended") or {}
    how = ended.get("how")

    _ending(run, ended, findings)
    if how == "not-run":  # nothing ran: nothing else to judge
        return Verdict(findings.ordered()[0], NOT_RUN)
    limit = summary.get("limit") or {}
    _target(run, limit, findings)
    _integrity(summary, findings)
    _retries(summary, findings, facts)
    _outages(summary, findings, facts, caveats)
    _failures(run, findings)
    _contract(summary, findings)
    _departures(summary, facts)
    judged = _rate_limits(run, findings, facts)
    _thresholds(summary, findings)
    best = _capacity(run, findings, facts, caveats)
    _path(run, findings, facts)
    drift = summary.get("drift") or {}
    if drift.get("verdict") == "drift" and (run.scenario == "soak" or drift.get("checked")):
        findings.add("drift", f"The run drifted: {'; '.join(drift.get('findings', []))}.")
    if run.capacity.get("mode") != "search":  # a search's steps differ: where it broke tells
        _limit(limit, findings, facts, caveats)

    ordered = findings.ordered()
    if ordered:
        headline, problems = ordered[0], ordered[1:]
        load = _best(best, run.capacity) if best else _load(run)
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


def _target(run: RunData, limit: dict[str, Any], findings: _Findings) -> None:
    """What the limit verdict holds against the target: it stopped answering, or (outside a
    capacity run, whose steps say it) it held the fleet's reports back."""
    if limit.get("kind") == "stopped":
        findings.add("stopped", f"{limit['why'][0].upper()}{limit['why'][1:]}.")
    ratio = limit.get("achieved_over_offered")
    held_back = limit.get("limit") == "target" and limit.get("kind") is None
    if held_back and not run.capacity and isinstance(ratio, float) and ratio < FOLLOWS:
        findings.add(
            "behind",
            f"The target answered {ratio:.1%} of the offered rate: the fleet's reports were not "
            "taken as they came due.",
        )


def _ending(run: RunData, ended: dict[str, Any], findings: _Findings) -> None:
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


def _seconds(run: RunData) -> float:
    if run.samples:
        return run.samples[-1].t - run.samples[0].t + 1
    started, ended = run.config.get("started"), (run.summary.get("ended") or {}).get("at")
    return max(0.0, ended - started) if isinstance(started, float) and ended else 0.0


def _integrity(summary: dict[str, Any], findings: _Findings) -> None:
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


GIVEN_UP = {
    "tries": "after every attempt failed",
    "not retried": "on an answer the policy does not retry",
}


def _retries(summary: dict[str, Any], findings: _Findings, facts: list[str]) -> None:
    """What retries cost (attempts beside reports), what devices gave up, and the records
    stored twice because a report was sent again after an attempt the target had kept."""
    retries = summary.get("retries") or {}
    twice = (summary.get("integrity") or {}).get("duplicated_by_retry")
    if twice:
        findings.add(
            "duplicates",
            f"{twice:,} records were stored more than once because a report was sent again "
            "after an attempt the target had stored but not acknowledged in time (a timeout or "
            "a 5xx): the retries' doing, not a fault of the target.",
        )
    if not retries or retries.get("policy") == "none" or not retries.get("reports"):
        return
    reports, attempts = retries["reports"], retries["attempts"]
    gave_up = retries.get("given_up_by_why") or {}
    given = ", ".join(f"{n:,} {GIVEN_UP.get(why, why)}" for why, n in sorted(gave_up.items()))
    p99 = (retries.get("first_to_final_ms") or {}).get("p99")
    facts.append(
        f"Retries ({retries.get('described') or retries['policy']}): {attempts:,} attempts for "
        f"{reports:,} reports ({retries['amplification']:.2f} a report; {retries['retries']:,} "
        f"retries), {retries.get('reports_retried', 0):,} reports retried; given up: "
        f"{given or 'none'}"
        + (f"; first attempt to final answer p99 {p99:,.0f} ms" if p99 is not None else "")
        + (
            f"; {retries['unfinished']:,} still being tried at the stop"
            if retries.get("unfinished")
            else ""
        )
        + "."
    )


def _outages(
    summary: dict[str, Any], findings: _Findings, facts: list[str], caveats: list[str]
) -> None:
    """Each outage: readings buffered and dropped, how long the backfill took to be in, the
    windows throttled meanwhile; one not in by the end is a caveat, readings refused for good a
    finding."""
    section = summary.get("outages") or {}
    integrity = summary.get("integrity") or {}
    for outage in section.get("outages") or []:
        name = (
            f"Outage {outage['outage']} ({section.get('backfill')} backfill, reconnect "
            f"{outage.get('reconnect')})"
        )
        if not outage.get("happened"):
            caveats.append(f"{name} did not happen: the run ended before it began.")
            continue
        buffered, dropped = outage.get("buffered", 0), outage.get("dropped", 0)
        requeued = outage.get("requeued", 0)
        kept = f"{buffered:,} readings buffered while offline" + (
            f" and {requeued:,} kept after a send that was not acknowledged" if requeued else ""
        )
        lost = f", {dropped:,} dropped by full buffers" if dropped else ", none dropped"
        if outage.get("drained"):
            windows = outage["throttled_windows"]
            drained = (
                f"every one in {outage['drain_seconds']:,.1f} s after the outage ended, "
                f"{windows:,} rate-limit {'window' if windows == 1 else 'windows'} throttled "
                f"meanwhile ({outage.get('throttled', 0):,} requests answered 429 and sent again)"
            )
        elif buffered or requeued:
            drained = f"{outage.get('waiting', 0):,} still waiting at the end"
            caveats.append(
                f"The run ended before the backfill of outage {outage['outage']} was in: "
                f"{outage.get('waiting', 0):,} readings were waiting (run longer to see it drain)."
            )
        else:
            drained = "nothing to backfill"
        facts.append(f"{name}: {kept}{lost}; {drained}.")
        if outage.get("refused"):
            findings.add(
                "backfill",
                f"{outage['refused']:,} backfilled readings of outage {outage['outage']} were "
                "refused for good (a 4xx other than 429).",
            )
    checked = integrity.get("backfilled_checked")
    if section and checked:
        if not integrity.get("time_changed") and not integrity.get("out_of_order"):
            facts.append(
                f"Backfilled records kept their own time and order ({checked:,} read back)."
            )
    elif section and not integrity.get("skipped"):
        facts.append("Backfilled records' times were not judged: none was read back.")


def _departures(summary: dict[str, Any], facts: list[str]) -> None:
    """Answers that conform but differ from a documented form: stated, never a finding of the
    load run (the contract suite grades them; --strict-contract fails on them there)."""
    departures = summary.get("departures") or {}
    if not departures:
        return
    (kind, count), *rest = sorted(departures.items(), key=lambda item: -item[1])
    more = f" and {len(rest)} more kinds" if rest else ""
    facts.append(
        f"{sum(departures.values()):,} answers departed from a documented form without breaking "
        f"a rule, most often {kind} ({count:,}){more}."
    )


def _failures(run: RunData, findings: _Findings) -> None:
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


def _contract(summary: dict[str, Any], findings: _Findings) -> None:
    responses = summary.get("nonconforming")
    by_check = summary.get("violations") or {}
    if responses is None:  # a run from before responses were counted once each
        responses = max(by_check.values(), default=0)
    if responses:
        checks = ", ".join(f"{check} {count:,}" for check, count in sorted(by_check.items()))
        findings.add("contract", f"{responses:,} responses broke the contract ({checks}).")


def _rate_limits(run: RunData, findings: _Findings, facts: list[str]) -> dict[str, int]:
    summary = run.summary
    rows = summary.get("rate_limit_enforcement") or []
    found = summary.get("rate_limit_findings") or []
    judged = {
        "limits": len(rows),
        "windows": sum(r["windows"] - r["under"] for r in rows),
        "enforced": sum(r["enforced"] for r in rows),
        "under": sum(r["under"] for r in rows),
    }
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
            f"Rate limits: {counted(judged['limits'], 'limit')}, "
            f"{counted(judged['windows'], 'window')} judged "
            f"({judged['enforced']} enforced as documented), {judged['under']} under the limit "
            "(not judged)."
        )
    return judged


def _broken(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The thresholds broken, as {check, text, value, limit}; plain lines from older runs."""
    broken = (summary.get("thresholds") or {}).get("broken") or []
    return [b if isinstance(b, dict) else {"check": "other", "text": str(b)} for b in broken]


# Thresholds whose finding another part of the verdict states already, in its own words.
_SAID_ELSEWHERE = {"error_rate", "integrity", "schema_violations", "rate_limit_findings"}


def _thresholds(summary: dict[str, Any], findings: _Findings) -> None:
    for line in _broken(summary):
        if line["check"] in _SAID_ELSEWHERE:
            continue
        if line["check"] == "drift":
            findings.add("drift", f"Threshold broken: {line['text']}.")
            continue
        findings.add("threshold", f"Threshold broken: {line['text']}.")


def _capacity(
    run: RunData, findings: _Findings, facts: list[str], caveats: list[str]
) -> Step | None:
    capacity = run.capacity
    steps = capacity.get("steps") or []
    if not steps:
        return None
    thresholds = (run.summary.get("thresholds") or {}).get("checked", {})
    knee = capacity.get("knee")
    best = highest_good(
        [Step(**step) for step in steps], thresholds.get("p99_ms"), thresholds.get("error_rate")
    )
    if not best:
        findings.add("capacity", "No capacity step met the thresholds, the first one included.")
    planned = (run.config.get("options") or {}).get("steps") or len(steps)
    if not knee and len(steps) < planned:
        findings.add(
            "capacity",
            f"The run stopped after step {len(steps)} of {planned}: the capacity above it was "
            "not measured.",
        )
    bent = capacity.get("bend")
    if bent:
        facts.append(
            f"Latency bend from step {bent['step']} ({bent['offered']:,.1f} reports/s offered): "
            f"{bent['why']}; the steps after it that met the thresholds still count."
        )
    if capacity.get("mode") == "search":
        _search(capacity, facts, caveats)
    elif knee:
        facts.append(
            f"Knee at step {knee['step']} ({knee['offered']:,.1f} reports/s offered): "
            f"{knee['why']}."
        )
    elif not findings.has("failing") and not findings.has("stopped"):
        ran = "the one step run" if len(steps) == 1 else f"the {len(steps)} steps run"
        facts.append(f"No knee within {ran}: the target kept up with all.")
    return best


def _search(capacity: dict[str, Any], facts: list[str], caveats: list[str]) -> None:
    """How the search went and what limited the load where it broke."""
    steps = capacity.get("steps") or []
    found = capacity.get("answer") or {}
    took = steps[-1]["ended"] - steps[0]["started"] if steps else 0.0
    stopped = found.get("stopped")
    facts.append(
        f"Searched in {counted(len(steps), 'step')} over {took:,.0f} s (doubling the devices "
        f"until a step broke, then bisecting)" + (f"; it stopped as {stopped}." if stopped else ".")
    )
    broken = found.get("broke")
    if broken:
        facts.append(
            f"The lowest load that broke: {broken['devices']:,} devices, "
            f"{broken['offered']:,.1f} reports/s offered ({found.get('why', '')})."
        )
    limit = found.get("limit") or {}
    who, why = limit.get("limit"), limit.get("why")
    if who == "generator":
        caveats.append(
            f"Where it broke, the load generator, not the target, was the limit: {why}; the "
            "capacity found is the generator's: give --processes (or Locust workers) to "
            "search further."
        )
    elif who == "target":
        facts.append(f"Where it broke, the target was the limit: {why}.")
    elif who and why:
        facts.append(f"Where it broke, who was the limit is not known: {why}.")


def path_of(run: RunData) -> PathLimit | None:
    """The run's path against its plan: what it offered (a capacity run: at its last step), and
    the fleet the route carries. A fleet or soak run offering more than the route's limit is a
    finding (the fleet does not fit); a capacity run is asked where the limit is, so it is a
    fact."""
    config = run.config
    devices, offered = config.get("devices"), config.get("offered_reports_per_second")
    steps = run.capacity.get("steps") or []
    if steps:  # a capacity run offered its whole fleet only if it got to the last step
        devices, offered = steps[-1].get("devices"), steps[-1].get("offered")
    options = config.get("options") or {}
    interval = options.get("interval")
    if run.scenario == "ratelimit" or devices is None or offered is None or interval is None:
        return None
    window = options.get("rate_window")
    try:
        mean = Interval.parse(str(interval)).mean
        return path_limit(
            config.get("plan", ""),
            config.get("via", "device"),
            devices,
            offered,
            mean,
            window if isinstance(window, int | float) and window > 0 else 60.0,
        )
    except (FleetConfigError, KeyError):
        return None


def _path(run: RunData, findings: _Findings, facts: list[str]) -> None:
    found = path_of(run)
    if found is None:
        return
    said = found.sentence()
    if found.fits or run.capacity.get("steps"):  # steps past the limit are the question asked
        facts.append(f"{NAMES[found.via][0].upper()}{NAMES[found.via][1:]}; {said}.")
    else:
        findings.add("rate-limits", f"The fleet does not fit its path: {said}.")


def _limit(
    limit: dict[str, Any], findings: _Findings, facts: list[str], caveats: list[str]
) -> None:
    who, why = limit.get("limit"), limit.get("why")
    if who == "generator":
        caveats.append(f"The load generator, not the target, was the limit: {why}.")
    elif who == "target" and limit.get("kind") != "stopped":
        facts.append(f"The target was the limit: {why}.")
    elif who == "none" and not (findings.has("failing") or findings.has("stopped")):
        facts.append("Neither side was a limit: the target kept up with the offered load.")
    elif who == "unknown" and why and why != "no samples":
        facts.append(f"Who was the limit is not known: {why}.")


def _load(run: RunData) -> str | None:
    config = run.config
    offered, devices = config.get("offered_reports_per_second"), config.get("devices")
    if run.scenario == "ratelimit" or offered is None or devices is None:
        return None
    share = _answered_share(run.summary)
    return f"{devices:,} devices offering {offered:,.1f} reports/s" + (
        f"; {share}." if share else "."
    )


def _answered_share(summary: dict[str, Any]) -> str:
    """How many reports were answered: of the requests, or, when devices sent reports more
    than once (retries, store and forward), of the reports, in how many attempts."""
    retries = summary.get("retries") or {}
    if retries.get("retries"):
        reports, attempts = retries["reports"], retries["attempts"]
        done = reports - retries.get("given_up", 0) - retries.get("unfinished", 0)
        return (
            f"{done / reports:.1%} of {reports:,} reports acknowledged in {attempts:,} attempts"
            if reports
            else ""
        )
    answered, reports = summary.get("answered"), summary.get("reports")
    if reports and answered is not None:
        return f"{answered / reports:.1%} of {reports:,} reports answered"
    return ""


def _best(best: Step, capacity: dict[str, Any]) -> str:
    """The capacity found, with its bracket: the load above it that broke, or that nothing
    broke (the answer is a floor)."""
    found = capacity.get("answer") or {}
    every = f" reporting every {found['interval']} s" if found.get("interval") else ""
    said = (
        f"Highest load that met the thresholds: {best.devices:,} devices{every}, "
        f"{best.offered:,.1f} reports/s offered ({best.achieved:,.1f}/s answered, "
        f"{p99_text(best.p99_ms)})"
    )
    broken = found.get("broke")
    if broken:
        return (
            f"{said}; {broken['devices']:,} devices ({broken['offered']:,.1f}/s) broke them: "
            f"the capacity lies between, a bracket of {found.get('width', 0):.0%}."
        )
    if not found.get("above"):
        return f"{said}."
    if (found.get("held") or {}).get("devices") == found.get("fleet"):
        return f"{said}; the whole fleet held, so the capacity is higher (give more --devices)."
    return f"{said}; no step broke them before the run ended, so the capacity is higher."


def _all_clear(run: RunData, best: Step | None, judged: dict[str, int]) -> str:
    if best is not None:
        return _best(best, run.capacity)
    if run.scenario == "ratelimit":
        return (
            f"Rate limits held as the plan says: {counted(judged['limits'], 'limit')}, "
            f"{counted(judged['windows'], 'window')} judged, every one enforced."
        )
    summary, config = run.summary, run.config
    offered, devices = config.get("offered_reports_per_second"), config.get("devices")
    if offered is None or devices is None:
        return "The run ended before its fleet was configured; see what it wrote below."
    p99 = ((summary.get("latency_ms") or {}).get("corrected") or {}).get("p99")
    share = _answered_share(summary)
    latency = f", p99 {p99:,.0f} ms" if isinstance(p99, int | float) else ""
    word = REPORT_WORD.get(config.get("via", "device"), "reports")
    through = " through one network token" if config.get("via") == "network" else ""
    return f"{devices:,} devices offering {offered:,.1f} {word}/s{through} met the thresholds" + (
        f" ({share}{latency})." if share else "."
    )
