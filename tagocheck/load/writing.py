"""What a run writes into its directory: config.json as it starts, Locust's CSVs, the summary
and steps once judged, the console's closing lines, and the HTML report with its verdict."""

from __future__ import annotations

import csv
import importlib.metadata
import json
import platform
import time
from collections.abc import Callable
from typing import Any

import gevent
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV, StatsCSVFileWriter

from tagocheck.fleet.probes import first_probed_window, probing_rate, window_groups
from tagocheck.load.run import LoadRun
from tagocheck.options import OPTIONS
from tagocheck.redact import redact_token
from tagocheck.spec import ratelimits
from tagocheck.words import counted

Say = Callable[..., None]


def write_config(
    run: LoadRun, options: Any, scenario: str, setup: Any, host: str, distributed: bool
) -> None:
    """config.json: what the run was asked to do (`setup`: the load's Provisioning), its
    secrets redacted."""
    settings = {k: v for k, v in vars(options).items() if _plain(v)}
    for option in OPTIONS:
        if option.secret and settings.get(option.dest):
            settings[option.dest] = redact_token(settings[option.dest])
    config = {
        "scenario": scenario,
        "host": host,
        "embedded_target": setup.embedded,
        "plan": setup.plan,
        "rate_window_seconds": setup.window,
        "devices": len(run.fleet),
        "via": run.fleet.config.via,
        "offered_reports_per_second": run.fleet.offered_rate(),
        "probes": [
            {"route": p.label, "limit": p.limit, "device": p.device, "group": p.group}
            for p in run.probes
        ],
        "probe_requests_per_second": probing_rate(run.probes, options.probe_factor, setup.window),
        "probe_window_groups": window_groups(run.probes) if run.probes else 0,
        "distributed": distributed,
        "workers": len(run.shards) or 1,
        "started": time.time(),
        "versions": versions(),
        "options": settings,
    }
    (run.directory / "config.json").write_text(json.dumps(config, indent=2))


def versions() -> dict[str, str]:
    return {
        "tagocheck": _version("tagocheck"),
        "locust": _version("locust"),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | type(None))


def start_stats_history(environment: Any, run: LoadRun) -> None:
    """Locust's stats history CSV, written as the run goes."""
    run.csv_writer = StatsCSVFileWriter(
        environment, PERCENTILES_TO_REPORT, str(run.directory / "locust"), full_history=True
    )
    run.greenlets.append(gevent.spawn(run.csv_writer.stats_writer))


def write_final_csvs(environment: Any, run: LoadRun) -> None:
    """The history CSV is written as the run goes; the totals are written once more."""
    if run.csv_writer is None:
        return
    run.csv_writer.close_files()
    final = StatsCSV(environment, PERCENTILES_TO_REPORT)
    for name, write in (
        ("stats", final.requests_csv),
        ("failures", final.failures_csv),
        ("exceptions", final.exceptions_csv),
    ):
        with open(run.directory / f"locust_{name}.csv", "w", newline="") as handle:
            write(csv.writer(handle))


def write_summary(run: LoadRun, extra: dict[str, Any]) -> None:
    """summary.json (the observer's figures and the judgment), and steps.json when stepped."""
    if "capacity" in extra:
        (run.directory / "steps.json").write_text(json.dumps(extra["capacity"], indent=2))
    run.observer.write(run.directory, extra)


def print_summary(extra: dict[str, Any], scenario: str, say: Say) -> None:
    """The closing lines on the console: the limit, soak drift, the rate limits' windows."""
    limit = extra["limit"]
    say("limit", f"limit: {limit['limit']} ({limit.get('why', '')})")
    if scenario == "soak":
        found = extra["drift"].get("findings") or []
        print(
            f"tagocheck soak: {extra['drift']['verdict']}"
            + (f": {'; '.join(found)}" if found else "")
        )
    if scenario == "ratelimit":
        for row in extra["rate_limit_enforcement"]:
            print(
                f"tagocheck ratelimit: {row['scope']:>10} {row['route']:<28} limit "
                f"{row['limit']:>6}/window: {counted(row['windows'], 'window')}, "
                f"{row['enforced']} "
                f"enforced, {row['under']} under, {row['early-throttle']} early throttle, "
                f"{row['leak']} leak (max accepted {row['max_accepted']}"
                + (f"; {row['late']} not sent, their window over" if row.get("late") else "")
                + ")"
            )
        for route, why in extra["not_driven"].items():
            print(f"tagocheck ratelimit: not driven: {route} ({why})")
        shared = extra.get("network_limit")
        if shared:
            said = f"{shared['question']} {shared['answer']} ({shared['why']})"
            print(f"tagocheck ratelimit: {said}")
    for line in extra["thresholds"]["broken"]:
        say("threshold", f"threshold broken: {line['text']}")


def report_and_verdict(run: LoadRun, say: Say, *, name_report: bool) -> Any:
    """The HTML report, then the verdict read from the run directory as any reader would;
    None when the directory gives none (said in one line)."""
    from tagocheck.report import ReportError, rundata, verdict, write_report

    try:
        written = write_report(run.directory)
    except (ReportError, OSError) as error:
        say("report", f"no report written: {error}")
    else:
        if name_report:  # a run that could not start said so in one line
            say("report", f"report: {written}")
    try:
        return verdict.judge_dir(run.directory)
    except rundata.RunDirError as error:
        say("verdict", f"no verdict: {error}")
        return None


def schedule_line(
    scenario: str, plan: str, run: LoadRun, window: float, first_devices: int
) -> tuple[str, dict[str, Any]]:
    """What the console and events log say as the schedule starts (message, details)."""
    if scenario == "ratelimit" and plan == ratelimits.NO_PLAN:
        return "no plan (--plan none): no documented limit to drive, none judged", {}
    if scenario == "ratelimit":
        first = first_probed_window(time.time(), window)
        at = time.strftime("%H:%M:%S", time.localtime(first))
        groups = window_groups(run.probes)
        message = (
            f"probing {counted(len(run.probes), 'limit')} from {at}, the first whole "
            f"{window:g}-s window after the setup's requests, in turns of "
            f"{counted(groups, 'window')} ({groups * window:g} s: run for at least that long "
            "to judge every limit)"
        )
        return message, {"probing_from": first, "window_groups": groups}
    offered = run.fleet.offered_rate(range(first_devices))
    message = f"schedule started: {first_devices:,} devices, offered {offered:,.1f} reports/s"
    return message, {}


def say_verdict(found: Any, run: LoadRun, swarm: int, say: Say) -> dict[str, Any]:
    """The verdict's headline and problems, said; returns the web UI page's entry for it."""
    say("verdict", found.headline, outcome=found.outcome)
    for line in found.problems:
        say("verdict", f"  {line}")
    report = run.directory / "report.html"
    return {
        "swarm": swarm,
        "headline": found.headline,
        "outcome": found.outcome,
        "report": str(report) if report.exists() else None,
    }
