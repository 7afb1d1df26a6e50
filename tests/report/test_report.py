"""The HTML capacity report: built from real load runs, opened in real headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tagocheck.fleet.timeline import Sample
from tagocheck.report import write_report
from tagocheck.server.launcher import start_target

from ..loadtests.test_fleet_scenario import ROOT, locust

ARTIFACTS = ROOT / "reports" / "test-artifacts"
CHROMIUM = os.environ.get("TAGOCHECK_CHROMIUM", "/usr/bin/chromium")


def browse(report: Path, screenshot: Path) -> dict:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not at {CHROMIUM}: `make browser` installs Debian's package")
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("browse.py")), str(report), str(screenshot)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def fleet_run(state: Path, run_dir: Path, *faults: str) -> tuple[list[str], str]:
    """A short run on the free plan with 2-s windows, the fleet above the limit; the tokens it
    used come back so the report can be searched for them."""
    with start_target(
        state,
        "--plan",
        "free",
        "--rate-window-seconds",
        "2",
        "--seed-devices",
        "5",
        *[arg for fault in faults for arg in ("--fault", fault)],
    ) as target:
        done = locust(
            "-u",
            "5",
            "-r",
            "5",
            "-t",
            "7s",
            "--devices",
            "5",
            "--interval",
            "0.02",
            "--plan",
            "free",
            "--rate-window",
            "2",
            "--host",
            target.url,
            "--fleet-file",
            target.info["fleet_file"],
            "--profile-token",
            target.profile_token,
            "--run-dir",
            str(run_dir),
        )
        tokens = [
            d["token"] for d in json.loads(Path(target.info["fleet_file"]).read_text())["devices"]
        ]
        tokens.append(target.profile_token)
    assert (run_dir / "summary.json").exists(), done.stdout[-2000:] + done.stderr[-2000:]
    return tokens, done.stdout


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    base = tmp_path_factory.mktemp("clean")
    tokens, stdout = fleet_run(base / "state", base / "run")
    return base / "run", tokens, stdout


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    base = tmp_path_factory.mktemp("faulty")
    tokens, stdout = fleet_run(
        base / "state",
        base / "run",
        "lose-writes=0.3",
        "duplicate-writes=0.2",
        "early-throttle",
        "html-errors",
    )
    return base / "run", tokens, stdout


def test_a_headless_run_writes_its_report_and_it_renders_offline(clean):
    run_dir, tokens, stdout = clean
    report = run_dir / "report.html"
    assert f"report: {report}" in stdout  # written by the run itself
    size = report.stat().st_size
    assert size < 5_000_000, size
    seen = browse(report, ARTIFACTS / "report-clean.png")
    assert seen["bokeh"] and seen["console_errors"] == [] and seen["page_errors"] == []
    assert seen["network"] == [] and seen["other_files"] == []
    names = {chart["name"] for chart in seen["charts"]}
    assert names == {"rates", "latency", "distribution", "outcomes", "fleet", "generator"}
    for chart in seen["charts"]:
        assert chart["canvases"] >= 1 and chart["painted"] > 50, chart
    html = report.read_text()
    for token in tokens:
        assert token not in html, "a token of the run is in the report"


def test_a_clean_target_shows_no_fault_and_a_fleet_over_its_plan_says_so(clean):
    """The fleet offers twice the free plan's POST /data limit to a healthy target: the limits
    hold, nothing breaks the contract or is lost, and the headline says the fleet does not fit
    (its 429s are failures: the fleet's traffic was not accepted), never "met the thresholds"."""
    run_dir, _, _ = clean
    seen = browse(run_dir / "report.html", ARTIFACTS / "report-clean-2.png")
    text = seen["text"]
    assert "windows judged was enforced as the plan says" in text
    assert "Every response matched the envelope and route schemas" in text
    verdict = seen["verdict"]
    assert "reports failed" in verdict and "most often 429: Too many requests" in verdict
    assert "met the thresholds" not in verdict
    assert "broke the contract" not in verdict and "otherwise than the plan" not in verdict
    assert "records were lost" not in verdict
    assert "more than once" not in verdict


@pytest.mark.long
def test_a_faulty_run_shows_each_fault(faulty):
    run_dir, tokens, _ = faulty
    seen = browse(run_dir / "report.html", ARTIFACTS / "report-faulty.png")
    verdict = seen["verdict"]
    assert verdict.count("acknowledged records were lost") == 1  # not again as a threshold
    assert "records were stored more than once" in verdict
    assert "throttled early" in verdict
    assert "responses broke the contract" in verdict
    text = seen["text"]
    assert "early-throttle" in text  # the worst windows
    assert "the body is not JSON" in text  # a violation's redacted example
    assert "POST /data\tenvelope" in text  # violations by route and kind
    assert "Devices that lost or duplicated the most" in text
    html = (run_dir / "report.html").read_text()
    for token in tokens:
        assert token not in html


def test_capacity_steps_are_plotted_with_the_knee_and_the_verdict_names_it(clean, tmp_path):
    run_dir = tmp_path / "capacity"
    shutil.copytree(clean[0], run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    steps = [
        {
            "index": i,
            "devices": 100 * i,
            "started": 0,
            "ended": 1,
            "offered": 100.0 * i,
            "achieved": min(100.0 * i, 250.0),
            "p99_ms": 5.0 if i < 3 else 80.0,
            "error_share": 0.0,
        }
        for i in range(1, 5)
    ]
    knee = {"step": 3, "offered": 300.0, "why": "throughput 250/s of 300/s offered"}
    summary["capacity"] = {"steps": steps, "knee": knee, "highest_good": steps[1]}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    write_report(run_dir)
    seen = browse(run_dir / "report.html", ARTIFACTS / "report-capacity.png")
    chart = next(c for c in seen["charts"] if c["name"] == "capacity")
    assert chart["painted"] > 50
    assert "200 devices, 200.0 reports/s offered" in seen["verdict"]
    assert "Knee at step 3" in seen["verdict"]


def test_a_broken_report_is_caught_by_the_browser_check(clean, tmp_path):
    """The render check can fail: without Bokeh's script no chart draws."""
    html = (clean[0] / "report.html").read_text()
    broken = tmp_path / "report.html"
    broken.write_text(html.replace("Bokeh.embed", "Bokeh.nothing"))
    seen = browse(broken, tmp_path / "broken.png")
    assert seen["page_errors"] or seen["console_errors"]
    assert all(chart["painted"] == 0 for chart in seen["charts"])


def synthetic_hour(run_dir: Path) -> None:
    """A one-hour run with full history, as a run writes it, without running an hour."""
    from hdrh.histogram import HdrHistogram

    run_dir.mkdir(parents=True)
    start = 1_800_000_000.0
    samples = [
        Sample(
            t=start + i,
            users=100,
            cpu=40 + i % 7,
            offered=1000,
            achieved=995 + i % 11,
            errors=i % 3,
            lateness_p99_ms=1 + i % 5,
            corrected_p99_ms=10 + i % 13,
            service_p99_ms=8 + i % 13,
            rss_mb=300,
            devices=10_000,
            accepted=995,
            rate_limited=i % 3,
            corrected_p50_ms=2,
            corrected_p95_ms=6,
            corrected_p999_ms=30,
            service_p50_ms=1.5,
            service_p95_ms=5,
            service_p999_ms=25,
        )
        for i in range(3600)
    ]
    (run_dir / "timeline.jsonl").write_text(
        "".join(json.dumps(s.as_dict()) + "\n" for s in samples)
    )
    histograms = {}
    for name in ("corrected", "service", "lateness"):
        histogram = HdrHistogram(1, 3_600_000_000, 3)
        for value in range(1, 200_000, 7):
            histogram.record_value(value * 17 % 3_000_000 + 1, 120)
        histograms[name] = histogram.encode().decode()
    (run_dir / "histograms.json").write_text(json.dumps(histograms))
    (run_dir / "config.json").write_text(
        json.dumps({"scenario": "soak", "devices": 10_000, "offered_reports_per_second": 1000.0})
    )
    windows = [
        {
            "scope": f"device:{d}",
            "route": "POST /data",
            "limit": 6,
            "windows": 60,
            "enforced": 60,
            "under": 0,
            "early-throttle": 0,
            "leak": 0,
            "max_accepted": 6,
            "sent": 400,
            "throttled": 40,
        }
        for d in range(10_000)
    ]
    summary = {
        "reports": 3_600_000,
        "latency_ms": {"corrected": {"p50": 2, "p99": 20, "p99.9": 30}, "service": {"p99": 15}},
        "outcomes": {"POST /data": {"accepted": 3_590_000, "rate-limited": 10_000}},
        "rate_limit_enforcement": windows,
        "rate_limit_findings": [],
        "integrity": {
            "devices_checked": 2000,
            "devices_in_fleet": 10_000,
            "acknowledged": 720_000,
            "lost": 0,
            "stored_not_acknowledged": 0,
            "worst": [],
        },
        "limit": {"limit": "none", "why": "the target kept up"},
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))


def test_the_report_of_an_hour_long_run_builds_in_under_ten_seconds(tmp_path):
    """Ten seconds of this process's CPU: the report is built in-process, and on a machine
    the rest of the suite keeps busy the wall clock also counts the time other processes held
    the CPU (CI once measured 11.1 s of wall clock there)."""
    synthetic_hour(tmp_path / "hour")
    began = time.process_time()
    report = write_report(tmp_path / "hour")
    took = time.process_time() - began
    assert took < 10, f"{took:.1f} s of CPU"
    assert report.stat().st_size < 5_000_000


def test_a_killed_run_still_gets_a_report_of_what_it_had(clean, tmp_path):
    run_dir = tmp_path / "killed"
    run_dir.mkdir()
    shutil.copy(clean[0] / "config.json", run_dir)
    timeline = (clean[0] / "timeline.jsonl").read_text()
    (run_dir / "timeline.jsonl").write_text(timeline[: len(timeline) - 40])  # cut mid-line
    report = write_report(run_dir)
    text = report.read_text()
    assert "did not finish writing" in text and "summary.json" in text


def test_a_baseline_regression_is_highlighted(clean, tmp_path):
    slower = tmp_path / "slower"
    shutil.copytree(clean[0], slower)
    summary = json.loads((slower / "summary.json").read_text())
    summary["latency_ms"]["corrected"]["p99"] = summary["latency_ms"]["corrected"]["p99"] * 3 + 5
    (slower / "summary.json").write_text(json.dumps(summary))
    text = write_report(slower, baseline=clean[0]).read_text()
    row = next(line for line in text.splitlines() if "<td>corrected p99</td>" in line)
    assert 'class="regression"' in row
    same = write_report(tmp_path / "slower", baseline=slower).read_text()
    assert 'class="regression"' not in same


def test_the_contract_report_adds_findings_drift_and_permission_leaks(clean, tmp_path):
    from tagocheck.judge import checks
    from tagocheck.judge.findings import DEVIATION, VIOLATION
    from tagocheck.judge.recorder import Recorder

    recorder = Recorder(target={"url": "http://127.0.0.1:1"})
    body = b'{"status": true, "result": {"deviceID": "6010ea3cb1f2e10012c7a4d1"}}'
    verdict = checks.judge("POST", "/device", 202, body)
    recorder.record(verdict, "curl -X POST http://127.0.0.1:1/device", body, "POST /device")
    recorder.find(
        "PUT /data",
        "permission-leak",
        VIOLATION,
        where="device-read",
        expected="a device-read token is denied PUT /data [C]",
        observed="succeeded (HTTP 200: None)",
    )
    recorder.find(
        "GET /data",
        "permission-refused",
        VIOLATION,
        where="device-full",
        expected="allowed [C]",
        observed="HTTP 401",
    )
    contract = tmp_path / "contract"
    recorder.write(contract / "contract-report.json")
    (contract / "junit.xml").write_text(
        '<testsuites><testsuite><testcase classname="contract.test_permissions" '
        'name="test_permission[device-read-PUT /data]"><failure message="F3"/></testcase>'
        '<testcase classname="contract.test_permissions" name="test_permission[none-GET /data]">'
        '<skipped message="not judged"/></testcase></testsuite></testsuites>'
    )
    report = tmp_path / "run"
    shutil.copytree(clean[0], report)
    text = write_report(report, contract=contract / "contract-report.json").read_text()
    assert "success-status" in text and "202 (1)" in text
    findings = text[text.index("<h3>Findings</h3>") : text.index("<h3>Permission leaks</h3>")]
    assert "HTTP 202; POST /device answers 201 or 200" in findings and DEVIATION in findings
    assert "&#39;token&#39; is a required property" in findings
    leaks = text[text.index("<h3>Permission leaks</h3>") :].split("<h2", 1)[0]
    assert "device-read" in leaks and "succeeded (HTTP 200" in leaks
    assert "permission-refused" not in leaks, "an allowed cell that failed is no leak"


def test_a_report_rebuilt_with_a_baseline_keeps_its_contract_section(clean, tmp_path):
    """The CI recipe's step 5 after step 3: `tagocheck report RUN --baseline B` without
    --contract reads the contract report the run's report was built with again."""
    from tagocheck import cli

    contract = tmp_path / "out" / "contract-report.json"
    contract.parent.mkdir()
    contract.write_text(json.dumps({"target": {}, "findings": [], "routes": {}}))
    run = tmp_path / "run"
    shutil.copytree(clean[0], run)
    assert cli.main(["report", str(run), "--contract", str(contract)]) == 0
    assert "<h3>Contract suite</h3>" in (run / "report.html").read_text()
    assert cli.main(["report", str(run), "--baseline", str(clean[0])]) == 0
    rebuilt = (run / "report.html").read_text()
    assert "<h3>Contract suite</h3>" in rebuilt and 'id="baseline"' in rebuilt


def test_a_red_contract_leads_the_verdict_box_of_a_load_run_that_held(tmp_path):
    """The worst finding of any part leads: a load run that met its thresholds beside a contract
    run that named a violation (or judged nothing) is no green report."""
    from tagocheck.report.verdict import judge_dir

    run = tmp_path / "run"
    synthetic_hour(run)
    assert judge_dir(run).good  # the load side held
    for status, why in (("violated", "1 finding that fails the run"), ("not judged", "no test")):
        contract = tmp_path / status / "contract-report.json"
        contract.parent.mkdir()
        report = {"target": {}, "findings": [], "routes": {}}
        contract.write_text(json.dumps({**report, "verdict": {"status": status, "why": why}}))
        text = write_report(run, contract=contract).read_text()
        box = text[text.index('<section id="verdict"') : text.index("</section>")]
        assert 'class="verdict bad"' in box
        headline = box.split('<div class="headline">', 1)[1].split("</div>", 1)[0]
        assert headline == f"Contract suite: {status}: {why}."
        assert "met the thresholds" in box  # the load side's own headline, below it
        assert "No threshold broken" not in box


def test_the_regression_highlight_uses_the_threshold_given(clean, tmp_path):
    """A metric 50 % worse is highlighted at the default 5 % and at --fail-on-regression 10,
    not at 80; the report says which threshold it used."""
    from tagocheck import cli

    slower = tmp_path / "slower"
    shutil.copytree(clean[0], slower)
    summary = json.loads((slower / "summary.json").read_text())
    summary["latency_ms"]["corrected"]["p99"] = summary["latency_ms"]["corrected"]["p99"] * 1.5
    (slower / "summary.json").write_text(json.dumps(summary))
    base = str(clean[0])
    for threshold, highlighted in ((None, True), ("10", True), ("80", False)):
        given = ["--fail-on-regression", threshold] if threshold else []
        cli.main(["report", str(slower), "--baseline", base, *given])
        text = (slower / "report.html").read_text()
        row = next(line for line in text.splitlines() if "<td>corrected p99</td>" in line)
        assert ('class="regression"' in row) is highlighted, threshold
        assert f"Worse by more than {threshold or 5} % is highlighted" in text


def test_report_command_errors_are_one_line(tmp_path, capsys):
    from tagocheck import cli

    assert cli.main(["report", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"tagocheck: {tmp_path / 'nothing'} is not a directory"]
    (tmp_path / "empty").mkdir()
    assert cli.main(["report", str(tmp_path / "empty")]) == 2
    assert "is not a run directory" in capsys.readouterr().err


def test_a_damaged_run_says_so_in_its_verdict_and_exits_1(clean, tmp_path, capsys):
    """A timeline cut short gave a full verdict with silently short plots and exit 0."""
    from tagocheck import cli
    from tagocheck.report import verdict

    run_dir = tmp_path / "cut"
    shutil.copytree(clean[0], run_dir)
    lines = (run_dir / "timeline.jsonl").read_text().splitlines()
    (run_dir / "timeline.jsonl").write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    found = verdict.judge_dir(run_dir)
    assert "timeline.jsonl cut short" in " ".join([found.headline, *found.problems])
    assert not found.good
    assert cli.main(["report", str(run_dir)]) == 1
    assert "the run directory is damaged: timeline.jsonl cut short" in capsys.readouterr().out
    assert cli.main(["report", str(clean[0])]) == 0


@pytest.mark.parametrize(
    ("file", "key", "value"),
    [
        ("summary.json", "reports", "many"),
        ("summary.json", "outcomes", {"POST /data": {"accepted": "1"}}),
        ("config.json", "devices", -3),
        ("summary.json", "rate_limit_findings", {"kind": "leak"}),
    ],
)
def test_a_run_file_of_the_wrong_shape_is_one_line_and_exit_2(
    clean, tmp_path, capsys, file, key, value
):
    from tagocheck import cli

    run_dir = tmp_path / "bad"
    shutil.copytree(clean[0], run_dir)
    data = json.loads((run_dir / file).read_text())
    data[key] = value
    (run_dir / file).write_text(json.dumps(data))
    assert cli.main(["report", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{file}: /{key}" in err[0], err


def test_a_baseline_of_another_load_is_stated_not_scored(clean, tmp_path, capsys):
    """400 reports/s against 200 scored "+99.7 %" as a gain."""
    from tagocheck import cli
    from tagocheck.report import compare, rundata

    other = tmp_path / "other"
    shutil.copytree(clean[0], other)
    config = json.loads((other / "config.json").read_text())
    config["offered_reports_per_second"] *= 2
    config["devices"] *= 2
    (other / "config.json").write_text(json.dumps(config))
    found = compare.compare(rundata.load(other), rundata.load(clean[0]))
    assert any(d.startswith("devices:") for d in found.differences)
    scored = {d.metric for d in found.deltas}
    assert "corrected p99" not in scored and "achieved reports/s (steady mean)" not in scored
    assert "share of reports answered" in scored
    assert cli.main(["report", str(other), "--baseline", str(clean[0])]) == 0
    assert "not comparable: devices:" in capsys.readouterr().out


def test_a_regression_beyond_the_threshold_exits_1(clean, tmp_path, capsys):
    from tagocheck import cli

    slower = tmp_path / "slower"
    shutil.copytree(clean[0], slower)
    summary = json.loads((slower / "summary.json").read_text())
    summary["latency_ms"]["corrected"]["p99"] = summary["latency_ms"]["corrected"]["p99"] * 3 + 5
    (slower / "summary.json").write_text(json.dumps(summary))
    base = str(clean[0])
    assert cli.main(["report", str(slower), "--baseline", base, "--fail-on-regression", "10"]) == 1
    assert "regression: corrected p99" in capsys.readouterr().out
    assert cli.main(["report", str(slower), "--baseline", base]) == 0  # without it: shown only
    assert cli.main(["report", base, "--baseline", base, "--fail-on-regression", "0"]) == 0


def test_capacity_steps_are_compared_at_equal_offered_load():
    from tagocheck.report import compare
    from tagocheck.report.rundata import RunData

    def run(offers, p99s, devices):
        steps = [
            {
                "index": i + 1,
                "devices": devices,
                "started": 0,
                "ended": 1,
                "offered": o,
                "achieved": o,
                "p99_ms": p,
                "error_share": 0.0,
            }
            for i, (o, p) in enumerate(zip(offers, p99s, strict=True))
        ]
        return RunData(
            Path("x"),
            config={"scenario": "capacity", "devices": devices},
            summary={"capacity": {"steps": steps}},
        )

    now = run([100, 200, 400], [5, 5, 60], 400)
    before = run([200, 400], [5, 7], 200)
    found = compare.compare(now, before)
    p99 = {d.metric: d for d in found.deltas if d.metric.endswith("p99")}
    assert set(p99) == {"at 200/s offered: p99", "at 400/s offered: p99"}
    assert p99["at 400/s offered: p99"].regression and not p99["at 200/s offered: p99"].regression
    assert not any(d.metric.startswith("highest good") for d in found.deltas)  # other steps
