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
import requests

from tagocheck.server.launcher import start_target
from tagocheck.spec import openapi

ALL = os.environ.get("TAGOCHECK_SCHEMATHESIS") == "all"
SEEDS = [1, 2, 3] if ALL else [1]
EXAMPLES = 50 if ALL else 20
ST = Path(sys.executable).with_name("st")

# fault mode -> the failure codes Schemathesis may report first for it
FAULTS = {
    # a 5xx (ST101), or one where the resend without a token was due a 401 (ST401)
    "server-errors=0.2": {"ST101", "ST401"},
    "bad-envelope": {"ST108"},  # the response violates its schema
    "html-errors": {"ST105"},  # an undocumented Content-Type
    "wrong-status": {"ST108"},  # a failure envelope as a 200's body
}
CI_FAULTS = ["server-errors=0.2", "bad-envelope"]
SERIAL = "SN-SCHEMATHESIS"


def run_schemathesis(
    tmp_path: Path, seed: int, *serve_args: str, first_failure: bool = False
) -> subprocess.CompletedProcess:
    state = tmp_path / "state"
    with start_target(state, "--plan", "unlimited", *serve_args, timeout=60) as target:
        info = target.info
        # a device with a serial, so the network routes find one as well as miss
        made = requests.post(
            f"{info['url']}/device",
            json={"name": "schemathesis", "type": "mutable", "serie_number": SERIAL},
            headers={"Profile-Token": info["profile_token"]},
            timeout=10,
        )
        device_token = made.json()["result"]["token"]
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
            f'"path.serial" = "{SERIAL}"\n'
            # no ?serial=: it would name the device before the body's metadata.serial is read,
            # and the fuzzed types of the official form's serial would never be (issue 29)
            f'"path.authorization" = "{info["authorization"]}"\n'
            f'"query.authorization_token" = "{info["authorization"]}"\n'
            "[auth.openapi.DeviceToken]\n"
            f'api_key = "{device_token}"\n'
            "[auth.openapi.ProfileToken]\n"
            f'api_key = "{info["profile_token"]}"\n'
            "[auth.openapi.NetworkToken]\n"
            f'api_key = "{info["network_token"]}"\n'
            # scenarios long enough to walk the links past a device's data (post data, list
            # its chunks, back it up, restore it), enough of them to take each link
            "[phases.stateful]\n"
            "max-steps = 12\n"
            "[phases.stateful.generation]\n"
            f"max-examples = {EXAMPLES * 5}\n"
            # DELETE /device/{id}/data removes the records a query selects, not the resource
            # at that path: GET on it still answers (their rest, or none), as GET /data does
            "[[operations]]\n"
            'include-path = "/device/{id}/data"\n'
            "checks.use_after_free.enabled = false\n"
        )
        # the first failure of the stateless phases ends the run: a fault shows in seconds
        stop = (
            ["--max-failures", "1", "--phases", "examples,coverage,fuzzing"]
            if first_failure
            else []
        )
        return subprocess.run(
            [str(ST), "--config-file", str(config), "--no-color", "run", str(document), *stop],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,  # its .hypothesis and report folders stay in the test's directory
            env={
                **os.environ,
                # ours, and the network uplink's serial fuzzed in its type (tests/)
                "SCHEMATHESIS_HOOKS": "schemathesis_serial_hooks",
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")])
                ),
                "COLUMNS": "200",
            },
        )


def failure_codes(output: str) -> set[str]:
    return set(re.findall(r"^- (ST\d{3}) ", output, re.MULTILINE))


@pytest.mark.long
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
    done = run_schemathesis(tmp_path, 1, "--fault", fault, first_failure=not ALL)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-3000:]
    assert expected & failure_codes(output), (fault, sorted(failure_codes(output)))
