"""One Locust process on core 1 against a freshly seeded embedded target on core 0: how the
benchmarks run a fleet, so the generator and the target never take each other's CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tagocheck.server.launcher import start_target  # noqa: E402


def pinned_run(
    scenario: str,
    devices: int,
    run_dir: Path,
    args: list[str],
    state: Path,
    *,
    users: int = 300,
    timeout: float = 1800,
    serve: tuple[str, ...] = (),
) -> tuple[subprocess.CompletedProcess, dict[str, Any]]:
    """A run of loadtests/`scenario`.py with `devices` seeded on the target (their tokens,
    serials and the network's from its fleet file, its TagoTiP URL) and `args`; Locust's
    process and summary. `serve`: more of the target's options (its MQTT binding, a TTL)."""
    target = start_target(
        state, "--plan", "unlimited", "--seed-devices", str(devices), *serve, timeout=timeout
    )
    try:
        _pin(target.process.pid, 0)
        info = target.info
        command = ["taskset", "-c", "1", sys.executable, "-m", "locust"]
        command += ["-f", f"loadtests/{scenario}.py", "--headless", "--only-summary"]
        command += ["-u", str(users), "-r", str(users), "--host", target.url]
        command += ["--plan", "unlimited", "--fleet-file", info["fleet_file"]]
        command += ["--devices", str(devices), "--network-token", info["network_token"]]
        command += ["--authorization", info["authorization"], "--run-dir", str(run_dir), *args]
        command += ["--tagotip-url", info["tagotip_http_url"]]
        for binding in ("tagotip_mqtt", "tagotip_tcp"):
            if info.get(binding):
                command += [f"--{binding.replace('_', '-')}", info[binding]]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    finally:
        target.stop()
    if not (run_dir / "summary.json").exists():
        raise SystemExit(
            f"the {scenario} run wrote no summary:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return done, json.loads((run_dir / "summary.json").read_text())


def _pin(pid: int, core: int) -> None:
    """Every thread of the process and of its children (mosquitto, when the target starts it)
    on `core`: a child started before the pinning would otherwise run anywhere."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), {core})
        for child in Path(f"/proc/{pid}/task/{tid}/children").read_text().split():
            _pin(int(child), core)
