"""`tagocheck fuzz`: Schemathesis with a defect-bearing OpenAPI file of our own (TagoIO's file's
defects, tests/data/defective-openapi.yaml), each defect said once, and tagocheck's checks judging
every operation, the family's and the others'."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from openapi_spec_validator import validate

from tagocheck.fuzz import checks
from tagocheck.fuzz.repair import repair, strip_comments
from tagocheck.fuzz.tokens import TOKEN_KINDS_ENV, token_fingerprint
from tagocheck.server.launcher import start_target

SPEC = Path(__file__).parent / "data" / "defective-openapi.yaml"
DEFECTS = [
    "spec defect: security scheme 'ProfileToken' is not defined at the document's security: "
    "used scheme 'Profile-Token'",
    "spec defect: // comments in a application/json example body at POST /data: comments cut, "
    "the example read as JSON",
    "spec defect: // comments in a text/plain example body at POST /device: comments cut",
    "spec defect: path parameter 'deviceID' is marked optional at "
    "/device/{deviceID}/chunk/backup: required",
]
OUTSIDE_THE_FAMILY = ("GET /account", "GET /dashboard/{dashboardID}")


def test_the_defects_are_found_once_each_and_the_repaired_file_validates():
    document = yaml.safe_load(SPEC.read_text())
    with pytest.raises(Exception):  # noqa: B017 (the validator's own error types vary)
        validate(document)
    fixed, defects = repair(document)
    assert [str(d) for d in defects] == DEFECTS
    validate(fixed)
    assert fixed["security"] == [{"Profile-Token": []}]
    example = fixed["paths"]["/data"]["post"]["requestBody"]["content"]["application/json"]
    assert example["examples"]["One record"]["value"] == {"variable": "temperature", "value": 21}
    assert repair(fixed)[1] == []  # nothing left to repair


def test_comments_are_cut_outside_strings_only():
    text = '{"url": "https://x.io/a", // the address\n "v": "a\\"//b"} // end'
    assert strip_comments(text) == '{"url": "https://x.io/a", \n "v": "a\\"//b"} '


def fuzz(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tagocheck", "fuzz", "--spec", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def failed_operations(output: str) -> set[str]:
    """The operations Schemathesis printed a failure section for."""
    return set(re.findall(r"^_{3,} ([A-Z]+ \S+) _{3,}$", output, re.MULTILINE))


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "cannot read it"),
        ("paths: [unclosed", "not YAML or JSON"),
        ('{"openapi": "3.1.0"}', "not an OpenAPI document"),
    ],
)
def test_a_spec_that_cannot_be_used_is_one_line_and_exit_2(content, said, tmp_path):
    spec = tmp_path / "openapi.yaml"
    if content is not None:
        spec.write_text(content)
    done = fuzz(str(spec))
    assert done.returncode == 2, done.stderr
    assert said in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_the_embedded_target_passes_and_each_defect_is_said_once():
    done = fuzz(str(SPEC), "--seed", "1", "--max-examples", "5")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    for line in DEFECTS:
        assert output.count(line) == 1, (line, output[:2000])
    assert re.search(r"Tested: 6\b", output), output[-2000:]
    assert not failed_operations(output)


@pytest.mark.parametrize("fault", ["html-errors", "wrong-status"])
def test_a_faulty_target_fails_through_our_checks_outside_the_family(tmp_path, fault):
    with start_target(tmp_path / "state", "--plan", "unlimited", "--fault", fault) as target:
        info = target.info
        tokens = {
            "TAGOIO_PROFILE_TOKEN": info["profile_token"],
            "TAGOIO_NETWORK_TOKEN": info["network_token"],
        }
        done = fuzz(
            str(SPEC),
            "--target",
            info["url"],
            "--seed",
            "1",
            "--max-examples",
            "5",
            "--phases",
            "examples,coverage,fuzzing",
            env=tokens,
        )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-4000:]
    assert set(OUTSIDE_THE_FAMILY) <= failed_operations(output), output[-4000:]
    assert "Custom check failed: `tagoio_envelope`" in output
    for token in tokens.values():
        assert token not in output and token[4:] not in output


def response(status: int, body: bytes, headers: dict[str, str], path: str = "/data"):
    request = SimpleNamespace(method="POST", url=f"http://127.0.0.1{path}", headers=headers)
    return SimpleNamespace(status_code=status, content=body, headers={}, request=request)


def test_the_permission_check_fails_a_leak_and_a_refusal_only(monkeypatch):
    read_token = "6f0e7c9a-1b2c-4d3e-8f90-a1b2c3d4e5f6"
    monkeypatch.setenv(TOKEN_KINDS_ENV, f'{{"{token_fingerprint(read_token)}": "device-read"}}')
    sent = {"Device-Token": read_token}
    added = b'{"status": true, "result": "1 Data Added"}'
    with pytest.raises(AssertionError, match="permission leak: a device-read token"):
        checks.tagoio_permission(None, response(200, added, sent), None)
    refused = b'{"status": false, "message": "Authorization Denied"}'
    checks.tagoio_permission(None, response(403, refused, sent), None)  # denied, as it should
    with pytest.raises(AssertionError, match="permission leak: a none token"):
        checks.tagoio_permission(None, response(200, added, {}), None)
    profile = {"Profile-Token": "p-" + "a" * 32}
    read = b'{"status": true, "result": []}'
    unauthorized = b'{"status": false, "message": "Unauthorized"}'
    with pytest.raises(AssertionError, match="permission refused: a profile token"):
        checks.tagoio_permission(None, response(401, unauthorized, profile, "/device"), None)
    checks.tagoio_permission(None, response(200, read, profile, "/device"), None)
    unknown = {"Device-Token": "0" * 36}  # no fingerprint, no prefix: not judged
    checks.tagoio_permission(None, response(200, added, unknown), None)
