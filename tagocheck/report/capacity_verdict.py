"""What a verdict says of load: a capacity run's steps (ramp or search) and their answer, the
ingest path's own limit, where a fixed run hit its limit, and the load the headline names."""

from __future__ import annotations

from typing import Any

from tagocheck.fleet.capacity import Step, highest_good, p99_text, standing
from tagocheck.fleet.model import FleetConfigError, Interval
from tagocheck.fleet.paths import NAMES, SEALED_NAMES, PathLimit, path_limit
from tagocheck.report.ranked import Findings
from tagocheck.report.rundata import RunData
from tagocheck.words import counted


def judge_capacity(
    run: RunData, findings: Findings, facts: list[str], caveats: list[str]
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
    # a break held again to confirm it is one step of the plan, not two
    counted_steps = len(standing([Step(**step) for step in steps]))
    planned = (run.config.get("options") or {}).get("steps") or counted_steps
    if not knee and counted_steps < planned:
        findings.add(
            "capacity",
            f"The run stopped after step {counted_steps} of {planned}: the capacity above it "
            "was not measured.",
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
        confirmed = (
            "; it broke again when held a second time"
            if found.get("confirmed")
            else "; held once only, this break is not confirmed"
        )
        facts.append(
            f"The lowest load that broke: {broken['devices']:,} devices, "
            f"{broken['offered']:,.1f} reports/s offered ({found.get('why', '')}{confirmed})."
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
            envelope=options.get("tagotip_envelope") or "none",
        )
    except (FleetConfigError, KeyError):
        return None


def judge_path(run: RunData, findings: Findings, facts: list[str]) -> None:
    connections = run.summary.get("connections")
    if isinstance(connections, dict):
        facts.append(connections_fact(connections))
    found = path_of(run)
    if found is None:
        return
    said = found.sentence()
    suite = (run.config.get("options") or {}).get("tagotip_envelope") or "none"
    if suite == "none":
        name = NAMES[found.via]
    else:  # what went on the wire: sealed, not the plain frame
        name = SEALED_NAMES[found.via].format(suite=suite.upper())
    if found.fits or run.capacity.get("steps"):  # steps past the limit are the question asked
        facts.append(f"{name[0].upper()}{name[1:]}; {said}.")
    else:
        findings.add("rate-limits", f"The fleet does not fit its path: {said}.")


CLOSED_BY = {"spread": "ended early by the device (--connection-spread)"}
"""How a close the device made itself is told from the server's (tagocheck.load.connections)."""


def connections_fact(connections: dict[str, Any]) -> str:
    """A fleet over MQTT or TCP: the connections its devices made, and how they ended (the
    server's TTL or idle timeout, or a first connection the device ended itself), each with the
    connection's median life."""
    closed = connections.get("closed") or {}
    ends = [
        f"{figures.get('count', 0):,} {CLOSED_BY.get(why, why.replace('_', ' '))} (median life "
        f"{(figures.get('median_life_ms') or 0) / 1000:,.1f} s)"
        for why, figures in sorted(closed.items())
    ]
    return (
        f"Devices' {connections.get('kind', 'MQTT')} connections: "
        f"{connections.get('made', 0):,} made, {connections.get('refused', 0):,} refused; "
        + ("ended before the run's end: " + ", ".join(ends) if ends else "none ended by the server")
        + "."
    )


def judge_limit(
    limit: dict[str, Any], findings: Findings, facts: list[str], caveats: list[str]
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


def load_fact(run: RunData) -> str | None:
    config = run.config
    offered, devices = config.get("offered_reports_per_second"), config.get("devices")
    if run.scenario == "ratelimit" or offered is None or devices is None:
        return None
    share = answered_share(run.summary)
    return f"{devices:,} devices offering {offered:,.1f} reports/s" + (
        f"; {share}." if share else "."
    )


def answered_share(summary: dict[str, Any]) -> str:
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


def best_fact(best: Step, capacity: dict[str, Any]) -> str:
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
