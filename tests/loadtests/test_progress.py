"""Creating and removing a fleet against a slow target shows how far it got: a live bar on a
terminal (a real pseudo-terminal here), a line every few seconds in a log."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tagocheck.server.launcher import start_target

ROOT = Path(__file__).resolve().parents[2]


def fleet_run(url: str, token: str, run_dir: Path) -> list[str]:
    command = [sys.executable, "-m", "locust", "-f", "loadtests/fleet.py", "--headless"]
    command += ["--only-summary", "-u", "2", "-r", "2", "-t", "1s", "--host", url]
    command += ["--profile-token", token, "--plan", "none", "--devices", "60"]
    return [*command, "--interval", "5", "--run-dir", str(run_dir)]


def read_all(fd: int, process: subprocess.Popen, timeout: float) -> str:
    """What the child wrote on its terminal until it ended (or the timeout)."""
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # every end of the terminal closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        elif process.poll() is not None:
            break
    process.wait(timeout=30)
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.long
def test_a_terminal_gets_a_live_bar_and_a_log_gets_lines(tmp_path):
    with start_target(tmp_path / "state", "--plan", "unlimited", "--fault", "slow=0.1") as target:
        # the two runs side by side: each takes 6 s or more to create its fleet, and as long to
        # remove it (the target answers every request 0.1 s late, not one after another)
        logging = subprocess.Popen(
            fleet_run(target.url, target.profile_token, tmp_path / "log"),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        leader, follower = pty.openpty()
        process = subprocess.Popen(
            fleet_run(target.url, target.profile_token, tmp_path / "tty"),
            cwd=ROOT,
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
        )
        os.close(follower)
        on_terminal = read_all(leader, process, 180)
        os.close(leader)
        logged = subprocess.CompletedProcess(logging.args, 0, *logging.communicate(timeout=180))
    assert "created devices" in on_terminal and "━" in on_terminal, on_terminal[-2000:]
    assert "removed devices" in on_terminal, on_terminal[-2000:]
    assert "created devices" not in logged.stdout and "━" not in logged.stdout
    assert "of 60 devices" in logged.stdout, logged.stdout[-2000:]  # 6 s or more: a line
