"""The fleet scenario under real Locust, headless, against the embedded target."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tagocheck.fleet.observe import FleetObserver
from tagocheck.judge.exchange import Exchange
from tagocheck.load.ports import free_port
from tagocheck.redact import TOKEN_PATTERN
from tagocheck.server.launcher import start_target

ROOT = Path(__file__).resolve().parents[2]


def locust(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        "loadtests/fleet.py",
        "--headless",
        "--only-summary",
        *args,
    ]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_a_fleet_run_on_the_embedded_target_writes_its_run_directory(tmp_path):
    run_dir = tmp_path / "run"
    done = locust(
        "-u",
        "10",
        "-r",
        "10",
        "-t",
        "5s",
        "--devices",
        "200",
        "--interval",
        "1",
        "--run-dir",
        str(run_dir),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for name in (
        "config.json",
        "summary.json",
        "histograms.json",
        "ledger.json",
        "locust_stats.csv",
        "locust_stats_history.csv",
        "locust_failures.csv",
    ):
        assert (run_dir / name).exists(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["reports"] > 500
    assert summary["outcomes"]["POST /data"] == {"accepted": summary["reports"]}
    integrity = summary["integrity"]
    assert integrity["devices_checked"] == 200
    assert integrity["lost"] == integrity["duplicated"] == 0
    assert integrity["acknowledgements_miscounted"] == 0
    # every report traced: each acknowledged one found stored, under its own group
    assert integrity["reports_acknowledged"] == summary["reports"]
    assert integrity["stored"] == summary["reports"] + integrity["stored_not_acknowledged"]
    for path in run_dir.iterdir():
        if path.name != "fleet.json":
            assert not TOKEN_PATTERN.search(path.read_text()), f"a token in {path.name}"


def run_against(tmp_path: Path, faults: list[str], *extra: str) -> tuple:
    """A short fleet run (20 devices every 0.5 s) on a target with `faults`, provisioned
    through the API; returns Locust's process and the run's summary."""
    fault_args = [arg for fault in faults for arg in ("--fault", fault)]
    with start_target(tmp_path / "state", "--plan", "unlimited", *fault_args) as target:
        run_dir = tmp_path / "run"
        done = locust(
            *("-u", "5", "-r", "5", "-t", "4s", "--devices", "20", "--interval", "0.5"),
            *("--host", target.url, "--profile-token", target.profile_token),
            *("--run-dir", str(run_dir), *extra),
        )
    assert (run_dir / "fleet.json").stat().st_mode & 0o077 == 0  # it holds the created tokens
    return done, json.loads((run_dir / "summary.json").read_text())


def test_lost_writes_and_violations_break_the_thresholds(tmp_path):
    done, summary = run_against(
        tmp_path, ["lose-writes=0.2", "wrong-count"], "--check-schema-violations", "0"
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    integrity = summary["integrity"]
    assert integrity["lost"] > 0 and integrity["duplicated"] == 0
    assert integrity["acknowledgements_miscounted"] == summary["reports"]  # every one says +1
    assert "acknowledged records were lost" in done.stdout
    assert "acknowledgements miscounted the records sent" in done.stdout


def test_the_error_rate_counts_reports_not_attempts(tmp_path):
    """With retries, a report fails only when it is given up: against every third answer a
    500, two tries a report, about 1 in 9 reports is given up, not 1 in 3; the threshold line
    and the headline name reports and their count, not attempts."""
    done, summary = run_against(
        tmp_path, ["server-errors=0.33"], "--retry", "fixed:0.05:2", "--check-error-rate", "0.01"
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    retries = summary["retries"]
    line = next(b for b in summary["thresholds"]["broken"] if b["check"] == "error_rate")
    assert line["of"] == retries["reports"] < retries["attempts"]
    assert line["failed"] == retries["given_up"]
    assert 0.03 < line["value"] < 0.2, line  # a third of attempts fail, a ninth of reports
    assert f"of {retries['reports']:,} reports were given up" in done.stdout


def test_lost_and_duplicated_records_are_both_found(tmp_path):
    """Half the records lost and half of the rest stored twice: counting records per device
    would see a quarter of them missing; report by report, both faults show."""
    done, summary = run_against(tmp_path, ["lose-writes=0.5", "duplicate-writes=0.5"])
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    integrity = summary["integrity"]
    acknowledged = integrity["reports_acknowledged"]
    assert acknowledged == summary["reports"] > 50
    assert abs(integrity["lost"] - acknowledged / 2) <= 2, integrity
    assert abs(integrity["duplicated"] - acknowledged / 4) <= 2, integrity
    assert "records were stored more than once" in done.stdout
    worst = integrity["worst"][0]
    assert worst["lost"] + worst["duplicated"] > 0 and worst["device"]


def test_failures_are_classified_in_locust_stats(tmp_path):
    with start_target(
        tmp_path / "state", "--plan", "unlimited", "--fault", "server-errors=0.5"
    ) as target:
        run_dir = tmp_path / "run"
        done = locust(
            "-u",
            "5",
            "-r",
            "5",
            "-t",
            "3s",
            "--devices",
            "20",
            "--interval",
            "0.5",
            "--host",
            target.url,
            "--profile-token",
            target.profile_token,
            "--run-dir",
            str(run_dir),
            "--check-error-rate",
            "0.1",
        )
    assert done.returncode == 1
    failures = (run_dir / "locust_failures.csv").read_text()
    assert "server-error 500" in failures
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["outcomes"]["POST /data"]["server-error"] > 0


def test_a_bad_fleet_parameter_is_a_clear_error(tmp_path):
    done = locust("-t", "2s", "--interval", "ten", "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 2
    assert "argument --interval: 'ten'" in done.stdout + done.stderr


def test_observer_merges_across_workers():
    one, two = FleetObserver(60), FleetObserver(60)
    for observer in (one, two):
        observer.observe(
            Exchange(
                method="POST",
                path="/data",
                status=200,
                body=b'{"status":true,"result":"2 Data Added"}',
                due=100.0,
                sent_at=100.1,
                answered_at=100.2,
                device="7",
            )
        )
    one.merge(two)
    assert one.reports == 2 and one.acknowledged["7"] == 4
    assert one.corrected.get_total_count() == 2
    assert one.summary()["latency_ms"]["corrected"]["p50"] > 190


def test_an_overloaded_generator_says_it_was_the_limit(tmp_path):
    """The target answers without storing (so it is faster than one Locust process can send),
    and the fleet offers far more than one process can send."""
    with start_target(
        tmp_path / "state", "--plan", "unlimited", "--no-store", "--seed-devices", "30000"
    ) as target:
        run_dir = tmp_path / "run"
        done = locust(
            "-u",
            "50",
            "-r",
            "50",
            "-t",
            "8s",
            "--devices",
            "30000",
            "--interval",
            "1",
            "--host",
            target.url,
            "--fleet-file",
            target.info["fleet_file"],
            "--integrity-devices",
            "0",
            "--run-dir",
            str(run_dir),
        )
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["limit"]["limit"] == "generator", summary["limit"]
    assert "limit: generator" in done.stdout
    lines = (run_dir / "timeline.jsonl").read_text().splitlines()
    assert len(lines) >= 5
    # a whole core used, or partly waited for when other processes hold the machine's cores
    seconds = [json.loads(line) for line in lines]
    assert max(second["cpu"] + second["cpu_wait"] for second in seconds) > 90


def test_a_slow_target_is_named_the_limit(tmp_path):
    with start_target(tmp_path / "state", "--plan", "unlimited", "--fault", "slow=0.1") as target:
        run_dir = tmp_path / "run"
        locust(
            "-u",
            "5",
            "-r",
            "5",
            "-t",
            "8s",
            "--devices",
            "10",
            "--interval",
            "0.02",
            "--host",
            target.url,
            "--profile-token",
            target.profile_token,
            "--run-dir",
            str(run_dir),
        )
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["limit"]["limit"] == "target", summary["limit"]


def test_capacity_steps_find_the_knee_of_a_slow_target(tmp_path):
    # Once seen in CI on the shared 2-core machine: the first step (half the target's capacity)
    # already short of its rate, so the knee at step 1. A knee at step 1 is measured once more;
    # a second one fails the test.
    for attempt in (1, 2):
        steps, done, run_dir = _knee_run(tmp_path / f"attempt{attempt}")
        if steps["knee"] is None or steps["knee"]["step"] > 1:
            break
    assert steps["knee"] is not None, done.stdout[-2000:]
    # 5 connections to a target that takes 50 ms each: at most 100 reports a second
    assert steps["knee"]["offered"] >= 100
    assert steps["highest_good"] is None or steps["highest_good"]["offered"] <= 100
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["limit"]["limit"] == "target"


@pytest.mark.long
def test_capacity_steps_find_a_known_capacity(tmp_path):
    """A target that stores at most 50 records a second (the capacity fault): the steps of
    20, 40, 60 and 80 reports a second hold up to 40 and find the knee at 60. The capacity is
    far below what the target's own CPU allows even on a busy machine (at 250/s, with the
    tests beside it, the target itself fell short at 200/s: a true knee, not the fault's)."""
    steps, done, _ = _knee_run(tmp_path, fault="capacity=50/s", users=20, devices=80)
    assert steps["knee"] is not None, done.stdout[-2000:]
    assert steps["knee"]["offered"] >= 50, steps["knee"]
    assert steps["highest_good"] is not None and steps["highest_good"]["offered"] <= 50


def _knee_run(tmp_path: Path, fault: str = "slow=0.05", users: int = 5, devices: int = 200):
    """Four steps of a quarter of the fleet each, every device reporting every second, without
    jitter: each second is due exactly the devices reporting (with jitter, one second of a
    4-s step at 40/s was due 37, and the step looked short of its rate)."""
    with start_target(
        tmp_path / "state", "--plan", "unlimited", "--fault", fault, "--seed-devices", str(devices)
    ) as target:
        run_dir = tmp_path / "run"
        done = locust(
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            "60s",
            "--devices",
            str(devices),
            "--interval",
            "1",
            "--jitter",
            "0",
            "--steps",
            "4",
            "--step-seconds",
            "4",
            "--host",
            target.url,
            "--fleet-file",
            target.info["fleet_file"],
            "--run-dir",
            str(run_dir),
        )
    return json.loads((run_dir / "steps.json").read_text()), done, run_dir


def test_the_web_ui_shows_the_fleet_options_and_runs_on_the_embedded_target(tmp_path):
    """The form sends an empty host: the embedded target's must survive it; the fleet options
    changed in the form take effect."""
    import signal
    import time

    import requests

    port = free_port()
    ui = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            "loadtests/fleet.py",
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(port),
            "--devices",
            "50",
            "--interval",
            "1",
            "--run-dir",
            str(tmp_path / "run"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                page = requests.get(base + "/", timeout=1).text
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        for option in ("devices", "interval", "payload", "connection", "fleet_file", "steps"):
            assert option in page
        assert '"is_secret": true' in page  # the profile token field is masked
        # the form's fleet options are the ones the swarm uses: 80 devices, 30 more than seeded
        form = {"user_count": 5, "spawn_rate": 5, "host": "", "devices": 80, "interval": "0.5"}
        requests.post(base + "/swarm", data=form, timeout=60)
        time.sleep(4)
        config = json.loads((tmp_path / "run" / "swarm-1" / "config.json").read_text())
        assert config["devices"] == 80 and config["offered_reports_per_second"] == 160
        stats = requests.get(base + "/stats/requests", timeout=5).json()["stats"]
        posted = next(s for s in stats if s["name"] == "POST /data")
        assert posted["num_requests"] > 50 and posted["num_failures"] == 0
        requests.get(base + "/stop", timeout=5)
    finally:
        ui.send_signal(signal.SIGTERM)
        ui.wait(30)


@pytest.mark.long
def test_devices_with_their_own_rpm_are_held_to_it(tmp_path):
    """Every device sends 3 reports a 3-s window against an rpm of 2: the third is throttled,
    rightly, and must not count as the profile throttling early; without enforcement it leaks."""

    def held_to(fault: tuple[str, ...]) -> dict:
        with start_target(
            tmp_path / f"state{bool(fault)}",
            *("--plan", "free", "--rate-window-seconds", "3"),
            *("--seed-devices", "5", "--seed-device-rpm", "2", *fault),
        ) as target:
            run_dir = tmp_path / f"run{bool(fault)}"
            locust(
                *("-u", "5", "-r", "5", "-t", "13s", "--devices", "5", "--interval", "1"),
                *("--jitter", "0", "--device-rpm", "2", "--plan", "free", "--rate-window", "3"),
                *("--host", target.url, "--fleet-file", target.info["fleet_file"]),
                *("--run-dir", str(run_dir)),
            )
        return json.loads((run_dir / "summary.json").read_text())

    cases = (((), "enforced"), (("--fault", "no-rate-limit"), "leak"))
    with ThreadPoolExecutor(len(cases)) as side_by_side:  # each its own target and windows
        summaries = list(side_by_side.map(held_to, [fault for fault, _ in cases]))
    for summary, (_, expected) in zip(summaries, cases, strict=True):
        rows = [r for r in summary["rate_limit_enforcement"] if r["scope"].startswith("device:")]
        assert len(rows) == 5
        # a device whose reports fall near the windows' edges cannot be judged exactly (a late
        # report on a busy machine moves it into the next window, which then holds only two:
        # "under", not judged); most devices show their kind, none the other one
        assert sum(r[expected] >= 1 for r in rows) >= 4, rows
        other = "leak" if expected == "enforced" else "enforced"
        assert all(r[other] == 0 and r["early-throttle"] == 0 for r in rows), rows
        kinds = {f["kind"] for f in summary["rate_limit_findings"]}
        assert kinds == (set() if expected == "enforced" else {"leak"}), kinds


def test_fleet_options_work_from_locust_conf_and_locust_variables(tmp_path):
    conf = tmp_path / "locust.conf"
    conf.write_text("interval = 0.5\npayload = gps-tracker\n")
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "locust", "-f", "loadtests/fleet.py", "--config", str(conf)]
    command += ["--headless", "--only-summary", "-u", "5", "-r", "5", "-t", "3s"]
    command += ["--run-dir", str(run_dir)]
    env = {**__import__("os").environ, "LOCUST_DEVICES": "30", "LOCUST_JITTER": "0.1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["devices"] == 30 and config["offered_reports_per_second"] == 60
    assert config["options"]["payload"] == "gps-tracker" and config["options"]["jitter"] == 0.1


def test_a_target_gone_before_the_start_is_one_line_and_exit_2(tmp_path):
    """It gave a run of transport errors; now the run checks the target answers first (a target
    that dies mid-run is a row of tests/verdict's truth table)."""
    with start_target(tmp_path / "state", "--plan", "unlimited", "--seed-devices", "20") as target:
        url, fleet_file = target.url, target.info["fleet_file"]
    run_dir = tmp_path / "run"
    done = locust(
        "-u", "5", "-r", "5", "-t", "3s", "--devices", "20", "--interval", "0.5",
        "--host", url, "--fleet-file", fleet_file, "--run-dir", str(run_dir),
    )  # fmt: skip
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    said = [line for line in done.stderr.splitlines() if line.startswith("tagocheck")]
    assert said == [
        f"tagocheck fleet: the run could not start: cannot reach {url}: connection refused"
    ]
    assert "Traceback" not in done.stderr
    assert "could not start" not in done.stdout and "report:" not in done.stdout  # said once
    assert not run_dir.exists()  # a run that could not start leaves nothing behind
    # the corrected rerun finds nothing in its way
    with start_target(tmp_path / "again", "--plan", "unlimited", "--seed-devices", "20") as target:
        rerun = locust(
            "-u", "5", "-r", "5", "-t", "2s", "--devices", "20", "--interval", "0.5",
            "--host", target.url, "--fleet-file", target.info["fleet_file"],
            "--plan", "none", "--run-dir", str(run_dir),
        )  # fmt: skip
    assert rerun.returncode in (0, 1)  # a run: judged on its own (a 2-s run may not keep up)
    assert "is not empty" not in rerun.stderr, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert json.loads((run_dir / "summary.json").read_text())["ended"]["how"] == "completed"


def test_a_provisioning_that_fails_removes_what_it_created_and_says_so(tmp_path):
    """The free plan's cap (5 devices) stops a fleet of 8 at its sixth: the five made are
    removed, and the one line says so."""
    with start_target(tmp_path / "state", "--plan", "free") as target:
        done = locust(
            "-u", "2", "-r", "2", "-t", "3s", "--devices", "8", "--interval", "1",
            "--host", target.url, "--profile-token", target.profile_token,
            "--run-dir", str(tmp_path / "run"),
        )  # fmt: skip
        listed = requests.get(
            f"{target.url}/device", headers={"Token": target.profile_token}, timeout=10
        ).json()["result"]
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    said = [line for line in done.stderr.splitlines() if line.startswith("tagocheck")]
    assert len(said) == 1 and "creating device 6 of 8 failed" in said[0], said
    assert "the 5 devices created before it were removed" in said[0]
    assert listed == []


def test_a_used_run_directory_is_refused_unless_overwrite(tmp_path):
    """A second run into the same directory overwrote its files and appended to events.jsonl:
    the report's Events mixed three runs."""
    run_dir = tmp_path / "run"
    short = ("-u", "2", "-r", "2", "-t", "2s", "--devices", "5", "--interval", "1")
    assert locust(*short, "--run-dir", str(run_dir)).returncode == 0
    again = locust(*short, "--run-dir", str(run_dir))
    assert again.returncode == 2, again.stdout[-2000:] + again.stderr[-2000:]
    refusal = [line for line in again.stderr.splitlines() if line.startswith("tagocheck")]
    assert refusal == [
        f"tagocheck fleet: the run could not start: --run-dir {run_dir} is not empty: give "
        "another or --overwrite"
    ]
    assert "Traceback" not in again.stderr
    done = locust(*short, "--run-dir", str(run_dir), "--overwrite")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert sum(e["kind"] == "run" and "set up" in e["message"] for e in events) == 1


def headless(run_dir: Path, *args: str) -> subprocess.Popen:
    """A headless fleet run started in the background, to be signalled."""
    command = [sys.executable, "-m", "locust", "-f", "loadtests/fleet.py", "--headless"]
    return subprocess.Popen(
        [*command, *args, "--run-dir", str(run_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_stops_a_headless_run_and_still_writes_it(tmp_path):
    """A cancelled job's SIGTERM: the schedule stops, the run directory and report are written
    and say so (exit 130), the embedded target is stopped and its state removed."""
    import signal
    import tempfile
    import time

    before = set(Path(tempfile.gettempdir()).glob("tagocheck-load-target-*"))
    run_dir = tmp_path / "run"
    run = headless(
        run_dir, "-u", "10", "-r", "10", "-t", "60s", "--devices", "50", "--interval", "1"
    )
    # some seconds into the run, not into its start: a cold, busy machine may take longer
    # than the fixed 10 s this once waited to seed the target (CI saw -15 then)
    began = time.monotonic()
    timeline = run_dir / "timeline.jsonl"
    while time.monotonic() - began < 120 and run.poll() is None:
        if timeline.exists() and timeline.read_text().count("\n") >= 3:
            break
        time.sleep(0.2)
    children = [p.pid for p in __import__("psutil").Process(run.pid).children(recursive=True)]
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=90)
    assert run.returncode == 130, out[-2000:] + err[-2000:]
    assert "Traceback" not in out + err
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["ended"]["how"] == "interrupted" and summary["ended"]["signal"] == "SIGTERM"
    assert summary["reports"] > 0 and (run_dir / "report.html").exists()
    assert children and not any(__import__("psutil").pid_exists(pid) for pid in children)
    assert set(Path(tempfile.gettempdir()).glob("tagocheck-load-target-*")) <= before


def test_sigterm_while_the_target_is_seeded_stops_it_and_says_so(tmp_path):
    """SIGTERM before Locust runs anything, while the embedded target starts to seed 50,000
    devices: exit 130, the target stopped and its state removed, a report saying what ran
    (nothing). Locust's own SIGTERM handler comes only after set-up: before it, CI's busy
    machine saw Locust die by the signal (-15) and leave the target running."""
    import signal
    import tempfile
    import time

    import psutil

    before = set(Path(tempfile.gettempdir()).glob("tagocheck-load-target-*"))
    run_dir = tmp_path / "run"
    run = headless(run_dir, "-t", "30s", "--devices", "50000", "--interval", "600")
    began, children = time.monotonic(), []
    while not children and time.monotonic() - began < 60:  # the target started, not ready
        time.sleep(0.1)
        children = [p.pid for p in psutil.Process(run.pid).children(recursive=True)]
    assert children, "the embedded target never started"
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 130, out[-2000:] + err[-2000:]
    assert "Traceback" not in out + err
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["ended"]["how"] == "interrupted" and summary["ended"]["signal"] == "SIGTERM"
    assert not summary.get("reports")  # nothing was sent
    gone = time.monotonic() + 10
    while any(psutil.pid_exists(pid) for pid in children) and time.monotonic() < gone:
        time.sleep(0.2)
    assert not any(psutil.pid_exists(pid) for pid in children)
    assert set(Path(tempfile.gettempdir()).glob("tagocheck-load-target-*")) <= before
