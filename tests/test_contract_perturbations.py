"""The contract suite against a target that deviates on one route at a time, in a family of ways.

For every route of schemas/routes.json and each perturbation of tests/hostile.py (another 2xx, a
failure envelope with 200, status true without result, the result text reworded, the failure
message moved into result, an extra key, the route absent, a list parameter's plain form refused),
the real `pytest contract/` runs against the hostile proxy in front of a healthy embedded target.
Each cell asserts:

- set-up never errors: every test passes, fails, or is skipped as blocked by a named finding (or
  not judged, or for want of a token the run was not given);
- the exit status is the one the perturbation's severity calls for (1 for a violation, else 0);
- the perturbed route's finding is named, at that severity, in contract-report.json and in the
  console's findings table;
- every finding is on the perturbed route: the healthy run has none, so no other route's findings
  change (no cascade).

The whole matrix (19 routes x 8 perturbations) is `make perturbations`
(TAGOCHECK_PERTURBATIONS=all); by default a fixed sample of it runs. The rate-limit tests are
left out of every cell (-m "not slow"): they take a window each and perturb no route of their own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html import escape
from pathlib import Path

import pytest

from tagocheck.judge.findings import DEVIATION, OBSERVATION, VIOLATION, worst
from tagocheck.redact import TOKEN_PATTERN
from tagocheck.report.render import compliance_section
from tagocheck.server.launcher import RunningTarget, start_target
from tagocheck.spec import routes

from .contract_runs import ROOT, WINDOW, contract_command
from .hostile import PERTURBATIONS
from .verdict.targets import hostile

TABLE = routes.route_table()
SAMPLE = [
    ("POST /data", "reworded"),
    ("GET /device", "array-refused"),
    ("POST /device", "no-result"),
    ("GET /info", "absent"),
    ("GET /data", "extra-key"),
    ("POST /device/token", "other-2xx"),
    ("DELETE /data", "failure-200"),
    ("PUT /data", "message-in-result"),
]
CELLS = (
    [(r.id, p) for r in TABLE for p in PERTURBATIONS]
    if os.environ.get("TAGOCHECK_PERTURBATIONS") == "all"
    else SAMPLE
)
KNOWN_SKIPS = re.compile(r"blocked by F\d+|not judged|no \S+ token for this target")


@dataclass(frozen=True)
class Expected:
    severity: str | None
    """The most serious finding the perturbation must produce on its route; None: the
    perturbation cannot show on this route (it answers nothing it changes)."""
    why: str


def expected(route_id: str, perturbation: str) -> Expected:
    """What the contract says of this perturbation on this route, from the route table."""
    route = TABLE[route_id]
    text_result = route.result in TEXT_RESULTS
    if perturbation == "other-2xx":
        return Expected(DEVIATION, "a 2xx the docs do not show for this route")
    if perturbation == "failure-200":
        return Expected(VIOLATION, "a failure envelope with a 2xx status breaks the status rule")
    if perturbation == "no-result":
        if route.acknowledgement:
            return Expected(DEVIATION, "an acknowledgement without its text loses nothing")
        return Expected(VIOLATION, "the data asked for is missing")
    if perturbation == "reworded":
        if text_result:
            return Expected(DEVIATION, "the documented text in other words")
        return Expected(None, "the result is not a documented text")
    if perturbation == "message-in-result":
        return Expected(DEVIATION, "the failure message at a place no source shows")
    if perturbation == "extra-key":
        return Expected(OBSERVATION, "an undocumented key: the docs leave it open")
    if perturbation == "absent":
        return Expected(VIOLATION, "a documented route is missing")
    if perturbation == "array-refused":
        if route.id in PLAIN_LIST_FORMS:
            return Expected(VIOLATION, "a 200 failure envelope; the suite goes on with name[]=")
        return Expected(None, "the suite sends no list parameter in its plain form here")
    raise KeyError(perturbation)


TEXT_RESULTS = {
    "results/data.schema.json#added",
    "results/data.schema.json#updated",
    "results/data.schema.json#removed",
    "results/device.schema.json#updated",
    "results/device.schema.json#removed",
    "results/device-token.schema.json#removed",
    "results/network.schema.json#resolved-token",
    "results/network.schema.json#data-added",
}
"""Results with a documented text or form; the other text results (marked-sent, set) are free."""
PLAIN_LIST_FORMS = {"GET /data", "DELETE /data", "GET /device"}
"""Routes the suite calls with a list parameter in its plain form (variables=x, fields=id,name)."""


@pytest.fixture(scope="module")
def upstream(tmp_path_factory) -> RunningTarget:
    state = tmp_path_factory.mktemp("perturbed-upstream")
    with start_target(state, "--plan", "starter", "--rate-window-seconds", WINDOW) as target:
        yield target


@dataclass
class Run:
    returncode: int
    stdout: str
    outcomes: dict[str, tuple[str, str]]
    """test id -> (passed | failed | skipped | error, message)."""
    findings: list[dict]


def run_contract(url: str, upstream: RunningTarget, tmp: Path, *extra: str) -> Run:
    info = upstream.info
    junit = tmp / "junit.xml"
    report = tmp / "contract-report.json"
    command = contract_command("contract/", plan="starter")
    command += ["--target", url, "--profile-token", upstream.profile_token]
    command += ["--network-token", info["network_token"]]
    command += ["--analysis-token", info["analysis_token"]]
    command += ["-m", "not slow", "--latency-budget-ms", "2000", f"--junitxml={junit}"]
    command += ["--contract-report", str(report), *extra]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    text = done.stdout + done.stderr + junit.read_text() + report.read_text()
    leaked = TOKEN_PATTERN.findall(text)
    if leaked:  # not an assert: pytest would print the tokens it found
        pytest.fail(f"{len(leaked)} tokens in the contract run's output, e.g. {leaked[0][:4]}…")
    outcomes = {}
    for case in ET.parse(junit).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        for kind in ("error", "failure", "skipped"):
            element = case.find(kind)
            if element is not None:
                state = {"failure": "failed"}.get(kind, kind)
                outcomes[name] = (state, element.get("message") or "")
                break
        else:
            outcomes[name] = ("passed", "")
    return Run(done.returncode, done.stdout, outcomes, json.loads(report.read_text())["findings"])


@pytest.fixture(scope="module")
def healthy(upstream, tmp_path_factory) -> Run:
    """The same suite through the proxy with no perturbation."""
    tmp = tmp_path_factory.mktemp("perturbed-healthy")
    with hostile("pass", upstream.url, ("all",), None) as url:
        return run_contract(url, upstream, tmp)


def test_the_healthy_run_has_no_findings(healthy):
    assert healthy.returncode == 0, healthy.stdout[-3000:]
    assert healthy.findings == [], healthy.findings
    assert "tagocheck findings: none" in healthy.stdout
    failed = {k: v for k, v in healthy.outcomes.items() if v[0] in ("failed", "error")}
    assert not failed, failed


def test_every_perturbation_has_an_expectation_for_every_route():
    for route in TABLE:
        for perturbation in PERTURBATIONS:
            assert expected(route.id, perturbation).why


@pytest.mark.parametrize(("route_id", "perturbation"), CELLS, ids=[f"{r}~{p}" for r, p in CELLS])
def test_a_perturbed_route_is_named_once_and_nothing_cascades(
    route_id, perturbation, upstream, healthy, tmp_path
):
    want = expected(route_id, perturbation)
    with hostile(perturbation, upstream.url, (route_id,), None) as url:
        run = run_contract(url, upstream, tmp_path)
    errors = {k: v for k, v in run.outcomes.items() if v[0] == "error"}
    assert not errors, f"errors in set-up or tests: {errors}"
    unexplained = {
        k: v for k, v in run.outcomes.items() if v[0] == "skipped" and not KNOWN_SKIPS.search(v[1])
    }
    assert not unexplained, f"skipped without a named reason: {unexplained}"
    assert len(run.outcomes) >= len(healthy.outcomes), "tests went missing"
    elsewhere = [f for f in run.findings if f["route"] != route_id]
    assert not elsewhere, f"findings cascaded to other routes: {elsewhere}"
    failed = {k: v for k, v in run.outcomes.items() if v[0] == "failed"}
    unnamed = {k: v for k, v in failed.items() if not re.match(r"F\d+ \(", v[1])}
    assert not unnamed, f"failures that carry no finding: {unnamed}"
    severities = [f["severity"] for f in run.findings]
    if want.severity is None:
        assert run.findings == [], f"{want.why}, yet: {run.findings}"
        assert run.returncode == 0
        return
    on_route = [f for f in run.findings if f["severity"] == want.severity]
    assert on_route, f"no {want.severity} on {route_id} ({want.why}); findings: {run.findings}"
    most = worst(severities)
    assert most == want.severity, f"the worst finding is a {most}: {run.findings}"
    assert run.returncode == (1 if want.severity == VIOLATION else 0), run.stdout[-3000:]
    html = compliance_section(tmp_path / "contract-report.json")
    for finding in on_route:
        label = f"[{finding['label']}]"
        row = f"{finding['id']:>4} {finding['severity']:<11} {label:<7} {route_id}"
        assert row in run.stdout, f"{finding['id']} is not in the console's findings table"
        shown = (
            f"<td>{finding['id']}</td><td>{finding['severity']} "
            f'<span class="label">{escape(label)}</span></td><td>{escape(route_id)}</td>'
        )
        assert shown in html, f"{finding['id']} is not in the report's findings table"


def test_strict_fails_the_run_on_a_deviation(upstream, tmp_path):
    with hostile("other-2xx", upstream.url, ("POST /device/token",), None) as url:
        run = run_contract(url, upstream, tmp_path, "--strict-contract")
    assert [f["severity"] for f in run.findings] == [DEVIATION]
    assert run.returncode == 1


def test_the_other_documented_variants_are_drift_never_findings(upstream, tmp_path):
    """A target that answers with every variant the embedded target does not use (200 for 201,
    deviceID, expire_date, the failure message in result.message) has no finding at all, and
    the drift table says which variants it used."""
    with hostile("variants", upstream.url, ("all",), None) as url:
        run = run_contract(url, upstream, tmp_path)
    assert run.findings == [], run.findings
    assert run.returncode == 0, run.stdout[-3000:]
    drift = json.loads((tmp_path / "contract-report.json").read_text())["routes"]
    assert drift["POST /device"]["variants"]["success-status"] == {
        "200": drift["POST /device"]["outcomes"]["accepted"]
    }
    assert set(drift["POST /device"]["variants"]["POST /device result"]) == {"created-deviceID"}
    assert set(drift["POST /device/token"]["variants"]["POST /device/token result"]) == {
        "created-expire_date"
    }
    assert set(drift["GET /data"]["variants"]["failure-message"]) == {"failure-message-in-result"}
