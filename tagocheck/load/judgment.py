"""A run's judgment once its shards are collected: the rate-limit findings and enforcement, the
devices' trouble (retries, outages and their backfill), where the run hit its limit, drift, the
capacity steps' answer and the thresholds broken, as the summary's figures."""

from __future__ import annotations

import re
import time
from typing import Any

from tagocheck.fleet.outage import OUTSIDE
from tagocheck.fleet.outage import results as outage_results
from tagocheck.fleet.outage import spans as outage_spans
from tagocheck.fleet.paths import route_of
from tagocheck.fleet.schedule import due_variance_of
from tagocheck.fleet.timeline import drift
from tagocheck.load import thresholds, writing
from tagocheck.load.connections import figures_from_stats
from tagocheck.load.ending import COMPLETED, Ending
from tagocheck.load.probing import Limits, judge_network_sharing, not_driven
from tagocheck.load.provisioning import Provisioning
from tagocheck.load.readback import read_back
from tagocheck.load.run import LoadRun
from tagocheck.redact import scrub


def judge_and_write(
    run: LoadRun,
    scenario: str,
    options: Any,
    limits: Limits,
    setup: Provisioning,
    *,
    traced: list[int],
    run_tag: str,
    environment: Any,
    say: writing.Say,
) -> None:
    """The collected run judged and written: Locust's CSVs, the timeline, integrity read back
    (not when probing), the rate limits' findings and the thresholds, into summary.json."""
    writing.write_final_csvs(environment, run)
    run.timeline.rewrite()
    integrity = (
        read_back(
            setup.client,
            setup.devices,
            traced,
            run.fleet,
            run.observer,
            run_tag=run_tag,
            started_at=run.started_at,
        )
        if scenario != "ratelimit"
        else {"skipped": True}
    )
    sharing = None
    if scenario == "ratelimit" and run.fleet.config.via == "network":
        sharing = judge_network_sharing(run.observer.ledger, run.probes, limits)
    extra = judge(
        run, scenario, options, limits, integrity=integrity, sharing=sharing, window=setup.window
    )
    extra["generator_errors"] = generator_errors(getattr(environment.runner, "exceptions", {}))
    connections = figures_from_stats(environment.stats)
    if connections is not None:  # a fleet over MQTT: its devices' connections
        extra["connections"] = connections
    writing.write_summary(run, extra)
    writing.print_summary(extra, scenario, say)
    say("run", f"run written to {run.directory}")


def judge(
    run: LoadRun,
    scenario: str,
    options: Any,
    limits: Limits,
    *,
    integrity: dict[str, Any],
    sharing: dict[str, Any] | None,
    window: float,
) -> dict[str, Any]:
    """The summary's judged part (summary.json beside the observer's own figures)."""
    observer = run.observer
    findings = [f.as_dict() for f in observer.ledger.findings(limits.limit_for)]
    enforcement = observer.ledger.enforcement(limits.limit_for)
    found_trouble = trouble(run, scenario, window)
    limit = run.timeline.limit(
        observer.reasons,
        observer.silence(),
        probing=scenario == "ratelimit",
        expected_errors=thresholds.backfill_throttled(observer),
        apart=outage_spans((found_trouble.get("outages") or {}).get("outages") or [], time.time()),
        due_variance=None if run.fleet is None else due_variance_of(run.fleet),
    )
    samples = run.timeline.samples
    if run.ending.how == COMPLETED:
        run.ending = Ending()  # ended now
    extra: dict[str, Any] = {
        "scenario": scenario,
        "ended": run.ending.as_dict(),
        "timeline_seconds": len(samples),
        "integrity": integrity,
        "rate_limit_findings": findings,
        "rate_limit_enforcement": enforcement,
        "limit": limit,
        "drift": {**drift(samples), "checked": options.check_drift >= 0},
        "generator_peak_rss_mb": max((s.rss_mb for s in samples), default=0),
    }
    extra.update(found_trouble)
    if scenario == "ratelimit":
        extra["not_driven"] = not_driven(run.fleet)
        if sharing is not None:
            extra["network_limit"] = sharing
    capacity = run.stepping.summary(observer.reasons) if run.stepping is not None else None
    if capacity is not None:  # none before its first step
        extra["capacity"] = capacity
    config = run.fleet.config if run.fleet is not None else None
    broken = thresholds.broken(
        options,
        observer,
        config,
        scenario,
        stepped=run.stepping is not None,
        integrity=integrity,
        findings=findings,
        drifted=extra["drift"],
    )
    extra["thresholds"] = {"checked": thresholds.settings(options), "broken": broken}
    return extra


_FRAME = re.compile(r'File "([^"]+)", line ([0-9]+), in (\S+)')


def generator_errors(exceptions: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    """The exceptions the generator's own tasks raised, from Locust's record of them (a
    distributed run's master holds every worker's): the count, and the commonest five as their
    message and the line that raised, tokens scrubbed. A report whose task raised was never
    offered to the target, so a run with any is the generator's failure, not a finding on the
    target (found: TCP devices past descriptor 1,023 raised ValueError in every gateway, and the
    verdict said the target stopped answering)."""
    kinds = sorted(exceptions.values(), key=lambda kind: -kind["count"])
    shown = []
    for kind in kinds[:5]:
        frames = _FRAME.findall(kind.get("traceback") or "")
        where = ""
        if frames:
            path, line, function = frames[-1]
            where = f"{'/'.join(path.split('/')[-3:])}:{line} in {function}"
        shown.append({"count": kind["count"], "error": scrub(str(kind["msg"])), "where": where})
    return {"count": sum(kind["count"] for kind in kinds), "commonest": shown}


def trouble(run: LoadRun, scenario: str, window: float) -> dict[str, Any]:
    """The devices' retries (attempts beside reports) and each outage's backfill."""
    config = run.fleet.config if run.fleet is not None else None
    if config is None or not config.in_trouble or scenario == "ratelimit":
        return {}
    attempts = run.observer.attempts
    policy = config.retry_policy
    found: dict[str, Any] = {
        "retries": {"policy": str(policy), "described": policy.describe(), **attempts.summary()}
    }
    if config.outages:
        windows = run.observer.ledger.windows_of(route_of(config.via, config.tagotip_envelope))

        def throttled(since: float, until: float) -> int:
            first, last = int(since // window), int(until // window)
            return sum(1 for i, w in windows.items() if first <= i <= last and w.throttled)

        found["outages"] = {
            "buffer": config.buffer,
            "backfill": str(config.backfill_policy),
            "reconnect": str(config.reconnect_policy),
            "outages": outage_results(
                config.outages,
                config.reconnect_policy,
                run.schedule_at,
                attempts.backfill,
                attempts.backfill_last,
                throttled,
                time.time(),
            ),
        }
        before = attempts.backfill.get(OUTSIDE)
        if before:
            found["outages"]["before_any"] = dict(before)
    return found
