"""A real run interrupted in each state of its life (tagocheck.load.lifecycle): it still
collects, judges and writes what it had, says it was interrupted (exit 130), and leaves no
process and no target state behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tagocheck.load.lifecycle import STOPPABLE, State
from tagocheck.report.verdict import judge_dir

from ..test_capacity_job import leftovers
from .test_fleet_scenario import ROOT

FLEET = ("--devices", "20", "--interval", "1", "-u", "2", "-r", "2")


def interrupted_at(state: str, run_dir: Path, *, seconds: str = "4s") -> subprocess.Popen:
    command = [sys.executable, "-m", "locust", "-f", "tests/loadtests/interrupt_at.py"]
    command += ["--headless", "--only-summary", "-t", seconds, *FLEET, "--run-dir", str(run_dir)]
    env = {**os.environ, "TAGOCHECK_INTERRUPT_AT": state}
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def states_noted(run_dir: Path) -> list[str]:
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    return [e["state"] for e in map(json.loads, lines) if e["kind"] == "state"]


def assert_written_and_nothing_left(done: subprocess.Popen, out: str, err: str, run_dir: Path):
    assert done.returncode == 130, out[-2000:] + err[-2000:]
    assert "Traceback" not in out + err
    ended = json.loads((run_dir / "summary.json").read_text())["ended"]
    assert ended["how"] == "interrupted" and ended["signal"] == "SIGINT"
    assert (run_dir / "report.html").exists()
    assert "interrupted" in judge_dir(run_dir).headline
    own = tempfile.gettempdir()
    assert list(Path(own).glob("tagocheck-load-target-*")) == []  # its state, with tokens
    assert leftovers(own) == []  # the embedded target started under it


@pytest.mark.long
@pytest.mark.parametrize(
    "state", sorted(STOPPABLE - {State.PREPARING}), ids=str
)  # preparing has no transition into it to act on: a real SIGINT below
def test_a_run_interrupted_in_any_state_is_written_and_leaves_nothing(tmp_path, state):
    run_dir = tmp_path / "run"
    done = interrupted_at(str(state), run_dir)
    out, err = done.communicate(timeout=120)
    assert_written_and_nothing_left(done, out, err, run_dir)
    noted = states_noted(run_dir)
    # interrupted as it entered the state; then on to its end, never forward
    assert noted[noted.index(str(state)) + 1] == "interrupted", noted
    assert noted[-2:] == ["written", "cleaned"], noted
    forward = noted[noted.index("interrupted") + 1 :]
    assert set(forward) <= {"collecting", "judging", "written", "cleaned"}, noted
    if state in (State.PROVISIONING, State.READY):  # never started: nothing to collect
        assert "running" not in noted and "collecting" not in noted, noted


@pytest.mark.long
def test_a_real_sigint_while_the_target_starts_stops_it_too(tmp_path):
    """Preparing: the embedded target is being seeded when SIGINT comes (the run's first event
    is written before the target starts; 200,000 devices take it a few seconds)."""
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "locust", "-f", "loadtests/fleet.py", "--headless"]
    command += ["--only-summary", "-t", "30s", "-u", "2", "-r", "2", "--interval", "60"]
    command += ["--devices", "200000", "--run-dir", str(run_dir)]
    done = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    events = run_dir / "events.jsonl"
    while not events.exists() and done.poll() is None:
        time.sleep(0.01)
    assert done.poll() is None
    assert states_noted(run_dir) == []  # still preparing
    done.send_signal(signal.SIGINT)
    out, err = done.communicate(timeout=180)
    assert_written_and_nothing_left(done, out, err, run_dir)
    noted = states_noted(run_dir)
    assert noted[0] == "interrupted" and noted[-2:] == ["written", "cleaned"], noted
