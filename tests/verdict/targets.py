"""The targets of the verdict truth table, each a real server on loopback: the embedded target
(healthy or with faults), the hostile proxy of tests/hostile.py in front of it, or a port that
nothing listens on."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tagocheck.load.ports import free_port
from tagocheck.server.launcher import start_target

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "tests" / "hostile.py"


@dataclass(frozen=True)
class Target:
    """What a scenario is pointed at: the URL, the embedded target's profile token and fleet
    file behind it (a dead port has a fleet file of its own, for set-up to read)."""

    url: str
    profile_token: str
    fleet_file: Path
    upstream: str
    network_token: str = ""
    authorization: str = ""


@dataclass(frozen=True)
class Condition:
    """A row's target: faults of the embedded target, a hostile mode in front of it (on
    `routes`), or a dead port."""

    faults: tuple[str, ...] = ()
    hostile: str | None = None
    routes: tuple[str, ...] = ("POST /data",)
    die_after: int | None = None
    """Requests of `routes` after which the hostile proxy dies."""
    dead: bool = False
    plan: str = "starter"
    rate_window: float = 60.0


@contextlib.contextmanager
def hostile(mode: str, upstream: str, routes: tuple[str, ...], die_after: int | None):
    command = [sys.executable, str(HOSTILE), "--mode", mode, "--upstream", upstream]
    for route in routes:
        command += ["--route", route]
    if die_after is not None:
        command += ["--die-after", str(die_after)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        ready = json.loads(process.stdout.readline())
        yield ready["url"]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def serve(condition: Condition, state: Path, devices: int) -> Iterator[Target]:
    faults = [arg for fault in condition.faults for arg in ("--fault", fault)]
    window = ["--rate-window-seconds", str(condition.rate_window)]
    with start_target(
        state, "--plan", condition.plan, "--seed-devices", str(devices), *window, *faults
    ) as target:
        fleet_file = Path(target.info["fleet_file"])
        network = {k: target.info[k] for k in ("network_token", "authorization")}
        if condition.dead:
            yield Target(f"http://127.0.0.1:{free_port()}", "p-" + "0" * 32, fleet_file, "")
        elif condition.hostile is not None:
            with hostile(
                condition.hostile, target.url, condition.routes, condition.die_after
            ) as url:
                yield Target(url, target.profile_token, fleet_file, target.url, **network)
        else:
            yield Target(target.url, target.profile_token, fleet_file, target.url, **network)
