"""The contract suite tests itself: each fault of the embedded target is caught by the tests
meant to catch it, and those tests pass on the healthy target. No fault goes uncaught.

Each run is a real `pytest contract/` in a subprocess against a target started with one fault.
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tagocheck.redact import TOKEN_PATTERN
from tagocheck.server.faults import FAULTS
from tagocheck.server.launcher import RunningTarget, start_target

from .contract_runs import ROOT, WINDOW, contract_command
from .sampling import chosen

pytestmark = pytest.mark.long
"""Each fault's run and the healthy one take 40 to 90 s: started first, they do not leave one
worker running them alone at the end of a parallel run."""

# fault -> (contract files to run, tests of which at least one must fail). The README has this
# table too; test_every_fault_is_caught_by_some_test keeps the two honest.
CATCHES = {
    "no-rate-limit": (["test_ratelimits.py"], ["test_the_limit_is_exact_and_429_is_documented"]),
    "early-throttle": (["test_ratelimits.py"], ["test_the_limit_is_exact_and_429_is_documented"]),
    "bad-envelope": (["test_routes.py"], ["test_route"]),
    "html-errors": (["test_permissions.py"], ["test_permission"]),
    "wrong-status": (["test_permissions.py"], ["test_permission"]),
    "wrong-count": (
        ["test_ingest.py", "test_tagotip.py"],
        [
            "test_valid_batches_round_trip",
            "test_a_push_is_acknowledged_with_the_count_stored",
            "test_a_push_on_each_binding_is_acknowledged_with_the_count_stored[mqtt]",
            "test_a_push_on_each_binding_is_acknowledged_with_the_count_stored[udp]",
            "test_a_push_on_each_binding_is_acknowledged_with_the_count_stored[tcp]",
        ],
    ),
    "ignore-permission": (["test_permissions.py"], ["test_permission"]),
    "cross-device": (
        ["test_permissions.py"],
        ["test_a_device_token_never_reads_another_devices_data"],
    ),
    "any-authorization": (
        ["test_permissions.py"],
        [
            "test_a_wrong_authorization_key_resolves_no_token",
            "test_network_uplinks_with_a_wrong_authorization_key_are_refused",
        ],
    ),
    "unknown-serial": (
        ["test_permissions.py"],
        ["test_network_uplinks_naming_an_unknown_serial_are_refused"],
    ),
    "lose-writes": (
        ["test_ingest.py", "test_queries.py"],
        ["test_valid_batches_round_trip", "test_queries_agree_with_the_model"],
    ),
    "duplicate-writes": (["test_ingest.py"], ["test_valid_batches_round_trip"]),
    "server-errors": (["test_routes.py"], ["test_route"]),
    "slow": (["test_transport.py"], ["test_latency_budget"]),
    "ignore-time": (["test_ingest.py"], ["test_valid_batches_round_trip"]),
    "group-cap": (["test_ingest.py"], ["test_documented_record_limits"]),
    "ignore-seq": (
        ["test_tagotip.py"],
        [
            "test_the_sequence_counter_is_honoured",
            "test_each_mqtt_error_code_comes_on_its_cause",
            "test_each_error_code_comes_on_its_cause_over_udp_and_tcp[udp]",
            "test_each_error_code_comes_on_its_cause_over_udp_and_tcp[tcp]",
        ],
    ),
    "echo-nonce": (["test_tagotip.py"], ["test_no_two_sealed_answers_to_a_device_share_a_nonce"]),
    "no-ttl": (
        ["test_tagotip.py"],
        [
            "test_an_mqtt_connection_ends_at_the_plans_ttl",
            "test_a_silent_mqtt_connection_ends_at_the_idle_timeout",
            "test_a_tcp_connection_ends_at_the_ttl_busy_or_at_the_idle_timeout_silent",
        ],
    ),
}

EACH_CATCHES = {"no-ttl", "wrong-count", "ignore-seq"}
"""Faults every one of whose catching tests must fail: no-ttl keeps a busy connection past the
TTL and a silent one past the idle timeout, two documented closes; wrong-count miscounts every
ingest path (POST /data, TagoTiP over HTTP, MQTT, UDP and TCP), and ignore-seq takes a
replayed counter over TagoTiP/S, MQTT, UDP and TCP alike."""


def run_contract(target: RunningTarget, files: list[str], junit: Path) -> dict[str, str]:
    """Run contract tests against a target; returns test name -> passed | failed | skipped, and
    under "(run)" the exit status and the ids of violations, for the caught-by-findings check."""
    info = target.info
    command = contract_command(*(f"contract/{f}" for f in files), target=target, plan=info["plan"])
    command += [
        "--network-token",
        info["network_token"],
        "--analysis-token",
        info["analysis_token"],
        "--authorization",
        info["authorization"],
        "--tagotip-url",
        info["tagotip_http_url"],
        "--tagotip-mqtt",
        info["tagotip_mqtt"],
        "--tagotip-udp",
        info["tagotip_udp"],
        "--tagotip-tcp",
        info["tagotip_tcp"],
    ]
    command += ["--latency-budget-ms", "100", f"--junitxml={junit}"]
    command += ["--contract-report", str(junit.with_suffix(".json"))]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    report = junit.with_suffix(".json")
    for text in (done.stdout, done.stderr, junit.read_text(), report.read_text()):
        leaked = TOKEN_PATTERN.findall(text)
        if leaked:  # not an assert: pytest would print the tokens it found
            pytest.fail(f"{len(leaked)} tokens in the contract run's output, e.g. {leaked[0][:4]}…")
    outcomes = {}
    for case in ET.parse(junit).iter("testcase"):
        name = case.get("name", "")
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            outcomes[name] = "failed"
        elif skipped is not None:
            outcomes[name] = "skipped: " + (skipped.get("message") or "")
        else:
            outcomes[name] = "passed"
    findings = json.loads(report.read_text())["findings"]
    violations = [f["id"] for f in findings if f["severity"] == "violation"]
    outcomes["(run)"] = f"exit {done.returncode}; violations {' '.join(violations)}"
    return outcomes


def start(tmp_path: Path, *faults: str) -> RunningTarget:
    args = ["--plan", "starter", "--rate-window-seconds", WINDOW, "--tagotip-mqtt-port", "0"]
    args += ["--tagotip-udp-port", "0", "--tagotip-tcp-port", "0"]
    for fault in faults:
        args += ["--fault", fault]
    return start_target(tmp_path / "state", *args)


def base(name: str) -> str:
    return name.split("[", 1)[0]


def named(name: str, catcher: str) -> bool:
    """Whether the test `name` ran is `catcher`: a test's name, any of its cases, or with an
    id in brackets that one case (a check parametrized over bindings catches on each)."""
    return name == catcher or base(name) == catcher


@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> dict[str, str]:
    """The whole contract suite, slow tests included, against the healthy target."""
    tmp = tmp_path_factory.mktemp("healthy")
    with start(tmp) as target:
        files = sorted({f for files, _ in CATCHES.values() for f in files})
        return run_contract(target, files, tmp / "junit.xml")


SHOWN_BY_LOAD_RUNS = {
    "slow-writes": "test_retries_after_a_timeout_store_reports_twice_and_are_told_apart",
    "down": "test_a_target_down_for_seconds_is_retried_through",
    "silent": "test_a_target_down_for_seconds_is_retried_through",
    "capacity": "test_capacity_steps_find_a_known_capacity",
}
"""Faults that break no rule of the contract (an answer late, or none for a while, or a target
that saturates): what they are for is shown by the load runs' tests (tests/loadtests/)."""


OBSERVED_ONLY = {"lenient-limits": "test_a_target_keeping_over_limit_fields_is_observed_not_blamed"}
"""Faults that break no stated rule (the facts leave the reaction open): the contract suite must
observe them and stay green (tests/test_contract_trust.py)."""


def test_every_fault_is_caught_by_some_test():
    assert set(CATCHES) | set(SHOWN_BY_LOAD_RUNS) | set(OBSERVED_ONLY) == set(FAULTS)
    assert not set(CATCHES) & set(SHOWN_BY_LOAD_RUNS)
    trusted = (Path(__file__).parent / "test_contract_trust.py").read_text()
    for fault, test in OBSERVED_ONLY.items():
        assert f"def {test}(" in trusted and f'"{fault}"' in trusted, fault
    shown = "".join(p.read_text() for p in (Path(__file__).parent / "loadtests").glob("*.py"))
    for fault, test in SHOWN_BY_LOAD_RUNS.items():
        assert f"def {test}(" in shown and f'"{fault}=' in shown, fault


def test_the_catching_tests_pass_on_the_healthy_target(healthy):
    assert healthy, "the healthy run produced no results"
    run = healthy.pop("(run)")
    assert run == "exit 0; violations ", run
    failed = sorted(name for name, outcome in healthy.items() if outcome == "failed")
    assert not failed, f"failed on the healthy target: {failed}"
    for _, catchers in CATCHES.values():
        for catcher in catchers:
            assert any(named(n, catcher) for n in healthy), f"{catcher} did not run"


def sampled(faults: list[str]) -> list[str]:
    """Every fault with TAGOCHECK_FAULTS=all (`make faults`); `make test` takes every other one,
    and CI adds a fifth of the rest in turn (tests/sampling.py)."""
    return chosen("FAULTS", faults, lambda index, _: index % 2 == 0)


@pytest.mark.parametrize("fault", sampled(sorted(CATCHES)))
def test_the_fault_is_caught(fault, tmp_path):
    files, catchers = CATCHES[fault]
    with start(tmp_path, fault) as target:
        outcomes = run_contract(target, files, tmp_path / "junit.xml")
    run = outcomes.pop("(run)")
    violations = run.split("violations ")[1].split()
    assert run.startswith("exit 1") and violations, f"{fault} named no violation: {run}"
    caught = sorted(
        n for n, o in outcomes.items() if o == "failed" and any(named(n, c) for c in catchers)
    )
    # A fault on the routes set-up uses (bad-envelope: every success) blocks the catching tests
    # instead: each is skipped naming the violation that blocked it.
    blocked = [
        n
        for n, o in outcomes.items()
        if any(named(n, c) for c in catchers) and any(f"blocked by {v}:" in o for v in violations)
    ]
    assert caught or blocked, f"no test caught {fault}: {outcomes}"
    if fault in EACH_CATCHES:  # two rules broken by one fault: each test holds its own
        missed = [c for c in catchers if not any(named(n, c) for n in caught)]
        assert not missed, (fault, missed, outcomes)
