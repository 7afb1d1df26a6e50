"""A distributed run's master waits longer than Locust's 3 s for a busy worker, and a test its
master stopped for want of workers is said to be the generator's failure."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time

import locust.runners
import psutil
import pytest
from locust import HttpUser
from locust.env import Environment
from locust.runners import STATE_MISSING, STATE_RUNNING, WorkerNode

from tagocheck.load.ports import free_port, master_on_loopback
from tagocheck.load.workers import LIVENESS, wait_longer_for_workers, workers_lost
from tagocheck.report import verdict

from .test_fleet_scenario import ROOT


class Nobody(HttpUser):
    host = "http://127.0.0.1:9"


def test_a_silent_worker_is_waited_for_longer_than_locusts_three_seconds(monkeypatch):
    monkeypatch.setattr(locust.runners, "HEARTBEAT_LIVENESS", 3)
    wait_longer_for_workers()
    assert locust.runners.HEARTBEAT_LIVENESS == LIVENESS >= 10


def test_a_master_without_workers_names_the_generator():
    master = Environment(user_classes=[Nobody]).create_master_runner("127.0.0.1", free_port())
    try:
        assert workers_lost(master) is None  # no worker ever: nothing was lost
        master.clients["w1"] = WorkerNode("w1")
        master.clients["w1"].state = STATE_RUNNING
        assert workers_lost(master) is None
        master.clients["w1"].state = STATE_MISSING
        said = workers_lost(master)
        assert said and "every Locust worker went missing" in said and "not the target" in said
    finally:
        master.quit()


@pytest.mark.long
def test_a_run_whose_workers_all_go_missing_breaks_off_naming_the_generator(tmp_path):
    """Both workers of a --processes run frozen (SIGSTOP) once the schedule runs: the master
    calls them missing after LIVENESS heartbeats and stops the test. The run must not read as
    the fleet meeting its thresholds, nor blame the target. (The workers are thawed after it,
    so that they quit with the master at the run's end.)"""
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "locust", "-f", "loadtests/fleet.py", "--headless"]
    command += ["--only-summary", "--processes", "2", *master_on_loopback(), "-u", "4", "-r", "4"]
    command += ["-t", "35s", "--devices", "20", "--interval", "1", "--run-dir", str(run_dir)]
    master = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    workers: list[psutil.Process] = []
    try:
        timeline = run_dir / "timeline.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
            timeline.exists() and timeline.read_text().count("\n") >= 2
        ):
            time.sleep(0.2)
        parent = psutil.Process(master.pid)  # its children: the forked workers and the target
        workers = [c for c in parent.children() if c.cmdline() == parent.cmdline()]
        assert len(workers) == 2
        for worker in workers:
            worker.suspend()
        time.sleep(LIVENESS + 5)
        for worker in workers:
            worker.resume()
        out, _ = master.communicate(timeout=90)
    finally:
        for worker in workers:
            with contextlib.suppress(psutil.Error):
                worker.resume()
        if master.poll() is None:
            master.kill()
    assert master.returncode == 1, out[-3000:]
    headline = verdict.judge_dir(run_dir).headline
    assert headline.startswith("The run broke off with an error: every Locust worker went missing")
    assert "the load generator failed, not the target" in headline
