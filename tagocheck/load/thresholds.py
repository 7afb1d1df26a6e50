"""The thresholds a run is held to (--check-*), and which of them it broke, each with the
figure and its denominator."""

from __future__ import annotations

from typing import Any

from tagocheck.fleet.integrity import problems as integrity_problems
from tagocheck.fleet.model import FleetConfig
from tagocheck.fleet.observe import FleetObserver
from tagocheck.judge import checks


def settings(options: Any) -> dict[str, float]:
    """The thresholds this run was held to (those set on the command line or in the form)."""
    chosen = {
        "p99_ms": options.check_p99_ms if options.check_p99_ms > 0 else None,
        "error_rate": options.check_error_rate,
        "schema_violations": options.check_schema_violations,
        "rate_limit_findings": options.check_rate_limit_leaks,
        "drift_findings": options.check_drift,
    }
    return {k: v for k, v in chosen.items() if v is not None and v >= 0}


def backfill_throttled(observer: FleetObserver) -> int:
    """Backfill requests answered 429 (Attempts.throttled): sent again until stored, by design."""
    return observer.attempts.throttled()


def failed_reports(
    observer: FleetObserver, config: FleetConfig | None, scenario: str
) -> tuple[int, int, str]:
    """(total, failed, what is counted) for the error rate. Reports, not attempts: where
    devices retry, a report failed only when it was given up (a retry that succeeded is
    no failure, and its attempts are counted apart); without retries each report is one
    attempt. Throttling by design is left out: the ratelimit scenario's 429s are what it
    is after, and a throttled backfill is sent again until stored."""
    if config is not None and config.in_trouble and scenario != "ratelimit":
        tally = observer.attempts
        if tally.first:
            given_up = sum(tally.given_up.values())
            return tally.first, given_up, "reports given up"
    if scenario == "ratelimit":
        expected = sum(c.get(checks.RATE_LIMITED, 0) for c in observer.outcomes.values())
    else:
        expected = backfill_throttled(observer)
    return observer.reports, observer.failed - expected, "reports failed"


def broken(
    options: Any,
    observer: FleetObserver,
    config: FleetConfig | None,
    scenario: str,
    *,
    stepped: bool,
    integrity: dict[str, Any],
    findings: list,
    drifted: dict[str, Any],
) -> list[dict[str, Any]]:
    """Each threshold broken: {check, text, value, limit}. In a stepped run p99 and the error
    rate are held per step (the highest good step is the answer, and the steps past the knee
    are meant to break them), not over the whole run."""
    found = []

    def breaks(check: str, text: str, value: Any = None, limit: Any = None, **of: Any) -> None:
        found.append({"check": check, "text": text, "value": value, "limit": limit, **of})

    p99 = observer.summary()["latency_ms"]["corrected"]["p99"]
    if not stepped and options.check_p99_ms > 0 and p99 > options.check_p99_ms:
        breaks("p99_ms", f"p99 {p99:.1f} ms > {options.check_p99_ms:g} ms", p99)
    total, failed, denominator = failed_reports(observer, config, scenario)
    share = failed / total if total else 0.0
    if not stepped and options.check_error_rate >= 0 and share > options.check_error_rate:
        text = (
            f"error rate {share:.4f} > {options.check_error_rate:g} ({failed:,} of "
            f"{total:,} {denominator})"
        )
        breaks(
            "error_rate",
            text,
            share,
            options.check_error_rate,
            failed=failed,
            of=total,
            denominator=denominator,
        )
    elif not stepped and options.check_error_rate >= 0 and denominator != "reports failed":
        # devices retried: their reports held, but the target failed the attempts, which
        # retries only hid from the devices (a finding of its own, never folded in)
        attempts = observer.reports
        failed_attempts = observer.failed - backfill_throttled(observer)
        tried = failed_attempts / attempts if attempts else 0.0
        if tried > options.check_error_rate:
            answered = observer.attempts.finals - failed
            text = (
                f"{tried:.1%} of {attempts:,} attempts failed (threshold "
                f"{options.check_error_rate:g}); of {total:,} reports {answered:,} were "
                f"answered and {failed:,} given up, the rest still being tried at the end"
            )
            breaks("attempt_error_rate", text, tried, options.check_error_rate)
    responses = observer.nonconforming
    if options.check_schema_violations >= 0 and responses > options.check_schema_violations:
        text = f"{responses} responses broke the contract > {options.check_schema_violations}"
        breaks("schema_violations", text, responses)
    if options.check_rate_limit_leaks >= 0 and len(findings) > options.check_rate_limit_leaks:
        text = f"{len(findings)} rate-limit findings > {options.check_rate_limit_leaks}"
        breaks("rate_limit_findings", text, len(findings))
    drift_found = len(drifted.get("findings") or [])
    if options.check_drift >= 0 and drift_found > options.check_drift:
        breaks("drift", f"drift: {'; '.join(drifted['findings'])}", drift_found)
    for line in integrity_problems(integrity):
        breaks("integrity", line)
    return found
