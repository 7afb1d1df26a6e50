"""The Kubernetes example: the LocustTest manifest is what the operator expects, and its master and
worker command lines run here, as the operator would start them, against the embedded target."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from tagocheck.load.ports import free_port
from tagocheck.server.launcher import start_target

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "deploy" / "kubernetes" / "locusttest.yaml"


def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def local(command: str, values: dict[str, str]) -> list[str]:
    """The manifest's command line with the cluster's paths and values replaced by local ones;
    every flag stays as written."""
    args = shlex.split(command.replace("/lotest/src/", "loadtests/"))
    for flag, value in values.items():
        if flag in args:
            args[args.index(flag) + 1] = value
    return args


def test_the_manifest_is_a_locusttest_with_the_profile_token_from_a_secret():
    spec = manifest()
    assert (spec["apiVersion"], spec["kind"]) == ("locust.io/v2", "LocustTest")
    body = spec["spec"]
    assert body["testFiles"]["configMapRef"] and body["worker"]["replicas"] >= 2
    assert "--locustfile /lotest/src/fleet.py" in body["master"]["command"]
    assert "--locustfile /lotest/src/fleet.py" in body["worker"]["command"]
    (variable,) = body["env"]["variables"]
    assert variable["name"] == "LOCUST_PROFILE_TOKEN" and "secretKeyRef" in variable["valueFrom"]
    assert "--profile-token" not in body["master"]["command"]  # never in a pod spec


@pytest.mark.long
def test_its_command_lines_run_a_distributed_fleet_locally(tmp_path):
    body = manifest()["spec"]
    plan = shlex.split(body["master"]["command"])
    plan = plan[plan.index("--plan") + 1]
    run_dir = tmp_path / "run"
    with start_target(tmp_path / "state", "--plan", plan) as target:
        values = {
            "--host": target.url,
            "--run-time": "12s",
            "--devices": "200",
            "--interval": "2",
            "--run-dir": str(run_dir),
        }
        port, replicas = free_port(), body["worker"]["replicas"]
        env = {**os.environ, "LOCUST_PROFILE_TOKEN": target.profile_token}
        locust = [sys.executable, "-m", "locust"]
        # What the operator adds: --master, --expect-workers, --autostart, --autoquit; the
        # web UI and master ports are free local ones instead of the pod's.
        operator_master = ["--master", "--expect-workers", str(replicas), "--autostart"]
        operator_master += ["--autoquit", "0", "--master-bind-port", str(port)]
        operator_master += ["--web-host", "127.0.0.1", "--web-port", str(free_port())]
        operator_worker = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
        master = subprocess.Popen(
            [*locust, *local(body["master"]["command"], values), *operator_master],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        workers = [
            subprocess.Popen(
                [*locust, *local(body["worker"]["command"], {}), *operator_worker],
                cwd=ROOT,
                env={**os.environ},  # workers get their devices' tokens from the master
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(replicas)
        ]
        try:
            out, _ = master.communicate(timeout=180)
        finally:
            for worker in workers:
                try:
                    worker.wait(30)
                except subprocess.TimeoutExpired:
                    worker.kill()
        left = requests.get(
            target.url + "/device",
            params={"amount": 1000},
            headers={"Token": target.profile_token},
            timeout=10,
        ).json()["result"]
    assert master.returncode == 0, out[-3000:]
    assert f"200 devices in {replicas} shards" in out
    config = json.loads((run_dir / "config.json").read_text())
    assert config["distributed"] and config["workers"] == replicas
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["reports"] > 500 and summary["integrity"]["lost"] == 0, out[-3000:]
    assert (run_dir / "report.html").exists()
    assert left == []  # the fleet it created is gone
