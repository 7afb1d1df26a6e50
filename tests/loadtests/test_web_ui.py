"""Locust's web UI in a real browser: each swarm is a run of its own, and a swarm the form
refuses says why on the page."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tagocheck.load.ports import free_port
from tagocheck.options import OPTIONS

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("TAGOCHECK_CHROMIUM", "/usr/bin/chromium")


@pytest.mark.long
@pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")
def test_two_swarms_in_a_row_each_write_their_own_run_and_a_refusal_shows(tmp_path):
    port = free_port()
    log = (tmp_path / "locust.log").open("w")
    command = [sys.executable, "-m", "locust", "-f", "loadtests/fleet.py"]
    command += ["--web-host", "127.0.0.1", "--web-port", str(port), "--devices", "50"]
    command += ["--interval", "1", "--run-dir", str(tmp_path / "run")]
    ui = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                requests.get(base + "/", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        browsed = subprocess.run(
            [sys.executable, "tests/loadtests/swarm_in_browser.py", base, str(tmp_path / "ui.png")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert browsed.returncode == 0, browsed.stderr[-3000:]
        seen = json.loads(browsed.stdout.strip().splitlines()[-1])
    finally:
        ui.send_signal(signal.SIGTERM)
        ui.wait(60)
        log.close()
    output = (tmp_path / "locust.log").read_text()
    # each swarm: its own directory, its own fleet, its own data, its report and verdict logged
    for swarm, devices in (("swarm-1", 40), ("swarm-2", 70)):
        run = tmp_path / "run" / swarm
        config = json.loads((run / "config.json").read_text())
        assert config["devices"] == devices
        summary = json.loads((run / "summary.json").read_text())
        assert summary["reports"] > 0 and summary["ended"]["how"] == "completed"
        timeline = [json.loads(line) for line in (run / "timeline.jsonl").read_text().splitlines()]
        assert timeline and timeline[0]["t"] >= config["started"] - 2
        assert (run / "report.html").exists()
        assert f"report: {run / 'report.html'}" in output
    first = json.loads((tmp_path / "run" / "swarm-1" / "summary.json").read_text())
    second = json.loads((tmp_path / "run" / "swarm-2" / "summary.json").read_text())
    assert first["reports"] != second["reports"]
    verdicts = [line for line in output.splitlines() if "thresholds" in line or "verdict" in line]
    assert output.count("met the thresholds") >= 2, verdicts
    assert not (tmp_path / "run" / "swarm-3").exists()  # the refused swarm ran nothing
    assert "Devices in the fleet: '-5'" in seen["refused"] and seen["still_stopped"]
    assert "swarm refused" in output
    assert seen["leaks_default"] == "off"
    assert seen["verdict"].startswith("Swarm 1: ") and "met the thresholds" in seen["verdict"]
    assert seen["report_status"] == 200
    # the form: fleet size, interval, path, plan, checks first; nothing the fleet does not use
    ours = {
        o.dest.split("_")[0] + "".join(w.title() for w in o.dest.split("_")[1:]) for o in OPTIONS
    }
    fields = [name for name in seen["fields"] if name in ours]
    assert fields[:5] == ["devices", "interval", "plan", "checkP99Ms", "checkErrorRate"], fields
    # the path is a choice (no named input): its label sits between the interval's and the plan's
    labels = [label.split(" (")[0] for label in seen["labels"]]
    where = {name: labels.index(name) for name in ("Seconds between a device's reports", "Path")}
    plan = next(i for i, label in enumerate(labels) if label.startswith("Rate-limit plan"))
    assert where["Seconds between a device's reports"] < where["Path"] < plan, labels
    assert not {"steps", "stepSeconds", "searchSeconds", "probeFactor", "checkDrift"} & set(fields)
    assert any(label.startswith("Most p99 latency (ms") for label in seen["labels"])
    assert not any("P9 9" in label for label in seen["labels"])


def test_every_options_checked_form_value_casts_to_its_defaults_type():
    """Locust casts each form field's text to its option's default's type, after the guard
    put the checked value in (OPTIONS.parse_form): a number option whose default is an int
    while its values are floats made every swarm fail (int('0.0')), the form showing nothing.
    Each option's own default, sent back through the form, must survive that cast."""
    form = {
        option.dest: option.shown(option.default)
        for option in OPTIONS
        if not option.flag_only and option.default is not None and not option.secret
    }
    canonical, problems = OPTIONS.parse_form(form)
    assert problems == []
    for dest, text in canonical.items():
        default = OPTIONS[dest].default
        if isinstance(default, int | float) and not isinstance(default, bool):
            type(default)(text)  # raises as Locust's cast would
