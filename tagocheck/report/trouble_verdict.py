"""What a verdict says of devices in trouble: retries and what they cost, outages and their
backfill, and the target's departures from the documented forms."""

from __future__ import annotations

from typing import Any

from tagocheck.report.ranked import Findings

GIVEN_UP = {
    "tries": "after every attempt failed",
    "not retried": "on an answer the policy does not retry",
}


def judge_retries(summary: dict[str, Any], findings: Findings, facts: list[str]) -> None:
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


def judge_outages(
    summary: dict[str, Any], findings: Findings, facts: list[str], caveats: list[str]
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


def note_departures(summary: dict[str, Any], facts: list[str]) -> None:
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
