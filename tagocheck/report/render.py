"""RUN_DIR/report.html: one self-contained file (styles, data and Bokeh's JavaScript inline), so
it opens offline, fetches nothing, and can be handed to a team as it is."""

from __future__ import annotations

import datetime
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import jinja2
from bokeh.embed import components
from bokeh.resources import Resources

from tagocheck.fleet.paths import NAMES
from tagocheck.redact import scrub
from tagocheck.report import capacity_verdict, charts, compare, compliance, rundata, verdict

MAX_BYTES = 5_000_000
CAPTIONS = {
    "rates": "Reports due per second (offered, from the fleet's schedule), answered per second "
    "(achieved: accepted with an answer that conforms to the contract) and failed per second "
    "(transport errors, answers that are no envelope, 5xx, rejections, 429s and answers that "
    "broke the contract). Achieved below offered means reports were not answered in their "
    "second. Click a legend entry to hide its line.",
    "latency": "Per-second latency percentiles. Corrected latency is measured from the time a "
    "report was due, so a slow target cannot hide behind the reports it delayed (coordinated "
    "omission); service time is from sending to the answer. In a distributed run each second "
    "shows the worst process.",
    "distribution": "The whole run's latency as an HDR percentile plot (exact, merged across "
    "processes): how rare a slow answer is.",
    "outcomes": "What each answer was: accepted, rate-limited (429), rejected (4xx), server "
    "error (5xx), transport error, or not a TagoIO envelope at all.",
    "capacity": "Each capacity step's offered rate against what was answered (green: held, "
    "red: broke the thresholds or fell behind), its p99 on the right axis; the shaded band is "
    "the capacity's bracket, between the highest step that held and the lowest that broke (a "
    "fixed ramp marks its knee instead).",
    "fleet": "Devices reporting and concurrent connections (Locust users).",
    "generator": "The load generator's own CPU, the time it waited for a CPU other processes "
    "held, and its memory: running or waiting 90 % of the time or more, the generator, not the "
    "target, limits the run.",
    "trouble": "Every attempt per second against first attempts (the gap is what retries add), "
    "and the readings waiting in devices' buffers or in backfill requests awaiting an answer; "
    "each outage is shaded.",
}


class ReportError(RuntimeError):
    """A report that cannot be built: the message is one line for the user."""


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tagocheck.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["scrub"] = lambda value: scrub(str(value))
    env.filters["when"] = lambda t: _utc(t) if isinstance(t, int | float) else "-"
    env.filters["num"] = _number
    return env


def _utc(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def build(
    run_dir: Path,
    *,
    baseline: Path | None = None,
    contract: Path | None = None,
    regression_share: float = compare.REGRESSION,
) -> str:
    try:
        run = rundata.load(run_dir)
        base = rundata.load(baseline) if baseline else None
        found = compliance.read(contract) if contract else None
    except (rundata.RunDirError, compliance.ContractReportError) as error:
        raise ReportError(str(error)) from None
    drawn = charts.draw(run)
    script, divs = components(drawn) if drawn else ("", {})
    script, divs = _no_uuids(script), {name: _no_uuids(div) for name, div in divs.items()}
    answer = verdict.judge(run)
    summary = run.summary
    enforcement = summary.get("rate_limit_enforcement") or []
    devices_rows = [r for r in enforcement if r["scope"] != "profile"]
    findings = sorted(
        summary.get("rate_limit_findings") or [],
        key=lambda f: -abs(f["accepted"] - f["limit"]),
    )
    context = {
        "run": run,
        "name": run.path.resolve().name,
        "verdict": answer,
        "config": run.config,
        "path": capacity_verdict.path_of(run),
        "path_name": NAMES.get(run.config.get("via", "device"), "-"),
        "options": run.config.get("options") or {},
        "summary": summary,
        "duration": (run.samples[-1].t - run.samples[0].t + 1) if run.samples else None,
        "charts": [(name, divs[name], CAPTIONS[name]) for name in drawn],
        "bokeh_js": Resources(mode="inline", components=["bokeh"]).render_js() if drawn else "",
        "bokeh_script": script,
        "profile_limits": [r for r in enforcement if r["scope"] == "profile"],
        "device_limits": _device_totals(devices_rows),
        "worst_devices": sorted(devices_rows, key=lambda r: -(r["early-throttle"] + r["leak"]))[
            :10
        ],
        "windows_judged": sum(r["windows"] - r["under"] for r in enforcement),
        "findings": findings[:20],
        "findings_total": len(findings),
        "compliance": found,
        "comparison": compare.compare(run, base) if base else None,
        "regression_share": regression_share,
        "baseline": base,
        "generated": _utc(time.time()),
    }
    return _environment().get_template("report.html.j2").render(**context)


def compliance_section(contract: Path) -> str:
    """The contract suite's part of the report alone (findings, drift, permission leaks), as the
    whole report shows it: for a contract run with no load run beside it."""
    try:
        found = compliance.read(contract)
    except compliance.ContractReportError as error:
        raise ReportError(str(error)) from None
    return _environment().get_template("compliance.html.j2").render(compliance=found)


UUID = re.compile(r"\b([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\b")


def _no_uuids(text: str) -> str:
    """Bokeh names its documents with UUIDs, which look like device tokens: a reader (or a CI
    job) searching the report for leaked tokens would find them. The same ids without dashes
    still tie the script to its divs."""
    return UUID.sub(lambda m: "bk" + "".join(m.groups()), text)


def _device_totals(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not rows:
        return None
    keys = ("windows", "enforced", "under", "early-throttle", "leak", "sent", "throttled")
    totals = {k: sum(r[k] for r in rows) for k in keys}
    totals["devices"] = len(rows)
    totals["limits"] = sorted({r["limit"] for r in rows})
    return totals


SOURCES = "report-sources.json"
"""In a run directory: the contract report its report.html was last built with, so a report
rebuilt from the run directory (with a baseline, say) keeps every section it had."""
JOB_CONTRACT = Path("contract") / "contract-report.json"
"""Where `tagocheck capacity` leaves the contract suite's report in its run directory."""


def contract_of(run_dir: Path) -> Path | None:
    """The contract report a run directory's report was built with: the one recorded in
    report-sources.json when it still exists, else the capacity job's own."""
    try:
        recorded = json.loads((Path(run_dir) / SOURCES).read_text()).get("contract")
    except (OSError, ValueError, AttributeError):
        recorded = None
    for found in (recorded, Path(run_dir) / JOB_CONTRACT):
        if found and Path(found).is_file():
            return Path(found)
    return None


def write_report(
    run_dir: Path,
    *,
    baseline: Path | None = None,
    contract: Path | None = None,
    regression_share: float = compare.REGRESSION,
) -> Path:
    """Build the report and write it atomically to RUN_DIR/report.html. Without `contract`, the
    contract report it was last built with (contract_of) is read again."""
    contract = contract or contract_of(Path(run_dir))
    html = build(
        Path(run_dir), baseline=baseline, contract=contract, regression_share=regression_share
    )
    size = len(html.encode())
    if size > MAX_BYTES:
        raise ReportError(f"the report would be {size:,} bytes, over {MAX_BYTES:,}")
    target = Path(run_dir) / "report.html"
    temporary = target.with_name("report.html.tmp")
    temporary.write_text(html)
    os.replace(temporary, target)
    if contract is not None:
        sources = {"contract": str(Path(contract).resolve())}
        (Path(run_dir) / SOURCES).write_text(json.dumps(sources, indent=2) + "\n")
    return target
