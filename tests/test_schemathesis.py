"""Schemathesis, a real client, fuzzes the embedded target with our OpenAPI document: every
default check and every phase (examples, coverage, fuzzing, stateful), with a fixed seed.

A sound target passes with no failure at all; a faulty one (a fault mode of the embedded target)
fails, so the run can fail. CI runs one seed and two fault modes; `make schemathesis` runs more
seeds, more examples and every fault mode.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tagocheck import openapi
from tagocheck.server.launcher import start_target

ALL = os.environ.get("TAGOCHECK_SCHEMATHESIS") == "all"
SEEDS = [1, 2, 3] if ALL else [1]
EXAMPLES = 50 if ALL else 20
ST = Path(sys.executable).with_name("st")

# fault mode -> the failure code Schemathesis must report for it
FAULTS = {
    "server-errors=0.2": "ST101",  # Server error
    "bad-envelope": "ST108",  # Response violates schema
    "html-errors": "ST105",  # Undocumented Content-Type
    "wrong-status": "ST108",
}
CI_FAULTS = ["server-errors=0.2", "bad-envelope"]


def run_schemathesis(tmp_path: Path, seed: int, *serve_args: str) -> subprocess.CompletedProcess:
    state = tmp_path / "state"
    with start_target(
        state, "--plan", "unlimited", "--seed-devices", "1", *serve_args, timeout=60
    ) as target:
        info = target.info
        device_token = json.loads(Path(info["fleet_file"]).read_text())["devices"][0]["token"]
        document = tmp_path / "tagoio.openapi.json"
        document.write_text(json.dumps(openapi.document()))
        config = tmp_path / "schemathesis.toml"
        config.touch(mode=0o600)  # it holds tokens
        config.write_text(
            f'base-url = "{info["url"]}"\n'
            f"seed = {seed}\n"
            "[generation]\n"
            f"max-examples = {EXAMPLES}\n"
            "[parameters]\n"
            f'"path.authorization" = "{info["authorization"]}"\n'
            f'"query.authorization_token" = "{info["authorization"]}"\n'
            "[auth.openapi.DeviceToken]\n"
            f'api_key = "{device_token}"\n'
            "[auth.openapi.ProfileToken]\n"
            f'api_key = "{info["profile_token"]}"\n'
            "[auth.openapi.NetworkToken]\n"
            f'api_key = "{info["network_token"]}"\n'
        )
        return subprocess.run(
            [str(ST), "--config-file", str(config), "--no-color", "run", str(document)],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,  # its .hypothesis and report folders stay in the test's directory
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": "tagocheck.schemathesis_hooks",
                "COLUMNS": "200",
            },
        )


def failure_codes(output: str) -> set[str]:
    return set(re.findall(r"^- (ST\d{3}) ", output, re.MULTILINE))


@pytest.mark.parametrize("seed", SEEDS)
def test_the_embedded_target_passes_every_default_check(tmp_path, seed):
    done = run_schemathesis(tmp_path, seed)
    output = done.stdout + done.stderr
    tested = re.search(r"Tested: (\d+)", output)
    operations = sum(len(item) for item in openapi.document()["paths"].values())
    assert tested and int(tested.group(1)) == operations, output[-3000:]
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅ {phase}", output), (phase, output[-3000:])
    assert done.returncode == 0, output[-6000:]
    assert not failure_codes(output), output[-6000:]


@pytest.mark.parametrize("fault", list(FAULTS) if ALL else CI_FAULTS)
def test_schemathesis_fails_a_faulty_target(tmp_path, fault):
    expected = FAULTS[fault]
    done = run_schemathesis(tmp_path, 1, "--fault", fault)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-3000:]
    assert expected in failure_codes(output), (fault, sorted(failure_codes(output)))
