"""The official JS SDK (npm @tago-io/sdk, pinned in tests/sdk_js/package.json) as the judge of
fidelity, as tests/server/test_sdk_methods.py is with the Python SDK: tests/sdk_js/drive.mjs
calls every device, data and network method of its Device, Resources.devices and Network classes
unchanged against the embedded target and records each exchange on the wire; here each answer is
checked with the documented form (its status and the route's result schema in schemas/). The
methods are read from the SDK's classes, so a method it gains fails this test until it is called
or listed with the source that says why not.

`make test` installs the SDK first (`npm ci` in tests/sdk_js). 12.3.1 states Node.js >= 22.12;
the machines here have Node.js 20, on which every call below runs (npm warns, nothing fails)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tagocheck.server.launcher import start_target
from tagocheck.spec import routes, schemas

DRIVER = Path(__file__).parents[1] / "sdk_js" / "drive.mjs"
INSTALLED = DRIVER.parent / "node_modules" / "@tago-io" / "sdk" / "package.json"

NOT_IN_THE_FAMILY = {
    "Devices.copyChunk": "POST /device/{id}/chunk/copy is in neither TagoIO's OpenAPI file nor "
    "the facts (the file's copy of a chunk is POST /device/{id}/chunk/backup) [SDK only]",
    "Network.publishToRelay": "POST /integration/network/publish, the MQTT relay, is not in "
    "TagoIO's OpenAPI file [SDK only]",
    "Network.deviceList": "GET /integration/network/{id}/devices is not in TagoIO's OpenAPI "
    "file [SDK only]",
}
"""SDK methods not called, each with the source that says why."""

TOKEN_KIND = {"Device": "device-full", "Devices": "profile", "Network": "network"}
"""The token each SDK class is built with, as schemas/ names token kinds."""


def drive(target, must_finish: bool = True) -> dict:
    """The driver's record of one run against `target`: the SDK's methods and every call (up
    to the first the SDK could not go on from, when `must_finish` is false)."""
    assert shutil.which("node"), "the JS SDK test needs Node.js (make test installs the SDK)"
    assert INSTALLED.exists(), (
        "the JS SDK is not installed: run `make test` (npm ci in tests/sdk_js)"
    )
    done = subprocess.run(
        ["node", str(DRIVER)],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "TAGOIO_API": target.url,
            "PROFILE_TOKEN": target.profile_token,
            "NETWORK_TOKEN": target.info["network_token"],
        },
    )
    assert done.returncode == 0 or not must_finish, done.stderr[-3000:]
    return json.loads(done.stdout)


def problems_with(name: str, exchange: dict) -> list[str]:
    """What is wrong with one answer the SDK got: its route, status or result's form."""
    table = routes.route_table()
    found = table.match(exchange["method"], exchange["path"])
    if found is None:
        return [f"{name}: {exchange['method']} {exchange['path']} is no route of schemas/"]
    route = found.route
    envelope = [
        f"{name}: {route.id}: {schemas.explain(p)}"
        for p in schemas.errors(table.envelope, exchange["body"])
    ]
    if envelope:
        return envelope[:1]
    if exchange["status"] not in route.success_status:
        return [f"{name}: {route.id} answered {exchange['status']}: {exchange['body']}"]
    query = parse_qs(exchange["query"].lstrip("?"), keep_blank_values=True)
    schema = route.result_schema(TOKEN_KIND[name.split(".")[0]], query)
    result = exchange["body"].get("result") if isinstance(exchange["body"], dict) else None
    return [
        f"{name}: {route.id}: {schemas.explain(problem)}"
        for problem in schemas.errors(schema, result)[:1]
    ]


@pytest.fixture(scope="module")
def record(shared_target) -> dict:
    return drive(shared_target)


def test_every_device_data_and_network_method_answers_in_the_documented_form(record):
    problems = [
        problem
        for call in record["calls"]
        for exchange in call["exchanges"]
        for problem in problems_with(call["name"], exchange)
    ]
    failed = [f"{call['name']}: {call['error']}" for call in record["calls"] if "error" in call]
    assert not failed and not problems, failed + problems
    assert "stopped" not in record, record["stopped"]


def test_every_call_went_over_the_wire(record):
    # a call the SDK answered without asking (a cache, a check of its own) judges nothing
    silent = [call["name"] for call in record["calls"] if not call["exchanges"]]
    assert not silent, silent


def test_every_method_of_the_sdk_is_called_or_listed_with_a_reason(record):
    methods = set(record["methods"])
    called = {call["name"] for call in record["calls"]}
    assert called <= methods, called - methods  # the driver calls only what the SDK has
    untested = methods - called - NOT_IN_THE_FAMILY.keys()
    assert not untested, f"SDK methods neither called nor listed with a reason: {sorted(untested)}"
    assert NOT_IN_THE_FAMILY.keys() <= methods, "a listed method the SDK no longer has"


def test_the_judge_fails_an_answer_off_the_documented_form(record):
    # the same judgement, given the answers with one result broken, finds it
    call = next(call for call in record["calls"] if call["name"] == "Devices.info")
    broken = {**call["exchanges"][0], "body": {"status": True, "result": {"id": 7}}}
    assert problems_with(call["name"], broken)
    refused = {**call["exchanges"][0], "status": 400}
    assert problems_with(call["name"], refused)


def test_the_sdk_run_fails_a_target_off_the_documented_form(tmp_path):
    # the whole run, against a target whose successes break their result schema (a fault mode)
    with start_target(tmp_path, "--plan", "unlimited", "--fault", "bad-envelope") as faulty:
        record = drive(faulty, must_finish=False)
    problems = [
        problem
        for call in record["calls"]
        for exchange in call["exchanges"]
        for problem in problems_with(call["name"], exchange)
    ]
    assert problems
