"""The contract suite leaves nothing behind: not on failure, not when interrupted, and it sweeps
what crashed runs of more than a day ago left."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tagocheck.server.launcher import RunningTarget, start_target

from .contract_runs import ROOT, contract_command


def run_command(target: RunningTarget, *tests: str) -> list[str]:
    report = Path(target.info["state_dir"]) / "report.json"
    return [*contract_command(*tests, target=target), "--contract-report", str(report)]


def devices(target: RunningTarget) -> list[dict]:
    response = requests.get(
        target.url + "/device",
        params={"amount": 1000, "fields": "id,name"},
        headers={"Token": target.profile_token},
        timeout=10,
    )
    return response.json()["result"]


def suite_devices(target: RunningTarget) -> list[str]:
    return [d["name"] for d in devices(target) if d["name"].startswith("tagocheck-2")]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_deletes_its_fleet(tmp_path, sig):
    with start_target(tmp_path / "state", "--plan", "starter") as target:
        run = subprocess.Popen(
            run_command(target, "contract/test_queries.py", "contract/test_ingest.py"),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # the thorough profile makes the run last long enough to be interrupted mid-way
            env={**os.environ, "TAGOCHECK_HYPOTHESIS_PROFILE": "thorough"},
        )
        deadline = time.monotonic() + 30
        while not suite_devices(target) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert suite_devices(target), "the run never created its fleet"
        run.send_signal(sig)
        output, _ = run.communicate(timeout=60)
        assert run.returncode != 0, output[-3000:]
        assert suite_devices(target) == [], output[-2000:]


def test_a_failing_run_deletes_its_fleet(tmp_path):
    with start_target(tmp_path / "state", "--plan", "starter", "--fault", "wrong-count") as target:
        done = subprocess.run(
            run_command(target, "contract/test_ingest.py"),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 1, done.stdout[-2000:]
        assert suite_devices(target) == []


def test_leftovers_older_than_a_day_are_swept(tmp_path):
    state = tmp_path / "state"
    with start_target(state, "--plan", "starter") as target:
        for name in (
            "tagocheck-20200101000000-dead-a",
            "tagocheck-20200101000000-dead-b",
            "tagocheck-recent-run-a",
            "someone-elses-device",
        ):
            requests.post(
                target.url + "/device",
                json={"name": name},
                headers={"Token": target.profile_token},
                timeout=10,
            )
    two_days_ago = int((time.time() - 2 * 86400) * 1000)
    with sqlite3.connect(state / "target.sqlite3") as db:
        db.execute(
            "UPDATE devices SET created_ms = ? WHERE name LIKE 'tagocheck-2020%' "
            "OR name = 'someone-elses-device'",
            (two_days_ago,),
        )
    with start_target(state, "--plan", "starter") as target:
        done = subprocess.run(
            run_command(target, "contract/test_routes.py"),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-2000:]
        assert "swept 2 leftover devices" in done.stdout
        names = sorted(d["name"] for d in devices(target))
    assert names == ["someone-elses-device", "tagocheck-recent-run-a"]
