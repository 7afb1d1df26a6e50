"""The contract suite's red can be trusted: it is the target's fault, minimal and sourced.

Each test runs a real `pytest contract/...` in a subprocess, as a user would, against the embedded
target started healthy or with a fault that a foreign server was seen to have:

- a target that caps groups at 24 characters gets one finding, naming the group, and nothing
  about the fields the old tests blamed (they varied the group and the field at once);
- a target that keeps over-limit fields, which no source says it may not, gets observations only;
- a planted suite bug (a check expecting the wrong outcome) is the suite's error, exit 6, found by
  running the test again against the reference target;
- the same seed gives the same findings; a failing example found against one target is never
  replayed against another; a run that judged nothing is not green (exit 7, in JUnit too);
- the healthy target holds for many seeds in a row (`make contract-seeds`: 20; CI: 5).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from tagocheck.judge.findings import OBSERVATION, VIOLATION
from tagocheck.server.launcher import RunningTarget, start_target

from .contract_runs import ROOT, WINDOW, contract_command

SUITE_ERROR, NOT_JUDGED = 6, 7


@dataclass
class Run:
    returncode: int
    stdout: str
    report: dict

    @property
    def findings(self) -> list[dict]:
        return self.report.get("findings", [])

    def failing(self) -> list[dict]:
        return [f for f in self.findings if f["severity"] == VIOLATION]


def start(tmp_path: Path, *faults: str) -> RunningTarget:
    args = ["--plan", "starter", "--rate-window-seconds", WINDOW]
    for fault in faults:
        args += ["--fault", fault]
    return start_target(tmp_path / "state", *args)


def run_contract(
    tmp_path: Path, *args: str, target: RunningTarget | None = None, cwd: Path = ROOT
) -> Run:
    report = tmp_path / "report.json"
    command = contract_command(*args, target=target)
    command += ["--contract-report", str(report)]
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    loaded = json.loads(report.read_text()) if report.exists() else {}
    return Run(done.returncode, done.stdout + done.stderr, loaded)


def test_a_group_cap_is_one_finding_about_the_group(tmp_path):
    """The foreign server's shape: groups capped at 24 and over-limit fields kept. The suite
    names the group once, observes what it keeps, and blames no other field."""
    with start(tmp_path, "group-cap=24", "lenient-limits") as target:
        run = run_contract(tmp_path, "contract/test_ingest.py", target=target)
    assert run.returncode == 1, run.stdout[-3000:]
    failing = run.failing()
    assert [(f["check"], f["where"], f["label"]) for f in failing] == [
        ("documented record refused", "sent-group-100-chars", "C")
    ], failing
    assert "group" in failing[0]["observed"]
    kept = {f["where"] for f in run.findings if f["check"] == "not refused"}
    assert {"sent-variable-101-chars", "sent-unit-26-chars", "sent-metadata-over-10kb"} <= kept
    assert all(f["severity"] == OBSERVATION for f in run.findings if f not in failing)
    assert run.report["verdict"]["status"] == "violated"
    assert "1 confirmed as the target's" in run.report["verdict"]["confirmation"]


def test_a_target_keeping_over_limit_fields_is_observed_not_blamed(tmp_path):
    """What the facts leave open ([?]: the reaction to an over-long field) is never a violation:
    the run holds, each acceptance observed with what the target kept."""
    with start(tmp_path, "lenient-limits") as target:
        run = run_contract(tmp_path, "contract/test_ingest.py", target=target)
    assert run.returncode == 0, run.stdout[-3000:]
    accepted = [f for f in run.findings if f["check"] == "not refused"]
    assert accepted and all(f["label"] == "?" for f in accepted)
    assert all(f["severity"] == OBSERVATION for f in run.findings)
    assert all("stored as sent" in f["observed"] for f in accepted)
    assert run.report["verdict"]["status"] == "the contract holds"


def test_the_same_seed_gives_the_same_findings(tmp_path):
    """Against a target that loses every fifth record, two runs with one seed draw the same
    inputs and name the same findings; the run prints the seed either way."""
    seen = []
    for attempt in range(2):
        folder = tmp_path / str(attempt)
        with start(folder, "lose-writes=0.2") as target:  # the same target, from its start
            run = run_contract(
                folder, "contract/test_ingest.py", "--contract-seed", "4242", target=target
            )
            assert run.returncode == 1, run.stdout[-3000:]
            assert "--contract-seed 4242" in run.stdout
            seen.append(
                sorted(
                    (f["route"], f["check"], f["where"], f["severity"], f["label"], *f["tests"])
                    for f in run.findings
                )
            )
    assert seen[0] == seen[1]
    assert seen[0]


def test_a_failing_example_is_not_replayed_against_another_target(tmp_path):
    """An unseeded run keeps its failing example in the target's own folder; a run against
    another (healthy) target with the same examples root neither reads it nor fails."""
    examples = tmp_path / "examples"

    def round_trips(target: RunningTarget) -> Run:
        test = "contract/test_ingest.py::test_valid_batches_round_trip"
        return run_contract(tmp_path, test, "--contract-examples", str(examples), target=target)

    # every fifth record stored twice, counted: the explicit example (records 2 and 3, after the
    # baseline's) passes, so the failure is a generated one, which Hypothesis keeps
    with start(tmp_path / "faulty", "duplicate-writes=0.2") as faulty:
        red = round_trips(faulty)
    assert red.returncode == 1, red.stdout[-3000:]
    kept = [p.name for p in examples.iterdir()]
    assert len(kept) == 1 and kept[0].startswith("http_127.0.0.1_")
    assert any(p.is_file() for p in (examples / kept[0]).rglob("*"))
    with start(tmp_path / "healthy") as healthy:
        green = round_trips(healthy)
    assert green.returncode == 0, green.stdout[-3000:]
    assert len(list(examples.iterdir())) <= 2 and kept[0] in {p.name for p in examples.iterdir()}


def test_a_planted_suite_bug_is_the_suite_s_error_not_the_target_s(tmp_path):
    """A copy of the suite whose route check expects a refusal (the wrong outcome) fails on a
    healthy target; run again against the reference, the same finding shows, so the run says the
    suite is wrong (exit 6), loudly, and blames nothing on the target."""
    suite = tmp_path / "suite"
    shutil.copytree(
        ROOT / "contract", suite / "contract", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", suite / "pyproject.toml")
    routes = suite / "contract" / "test_routes.py"
    text = routes.read_text()
    planted = text.replace("if not reply.verdict.succeeded:", "if reply.verdict.succeeded:", 1)
    assert planted != text
    routes.write_text(planted)
    with start(tmp_path) as target:
        run = run_contract(
            tmp_path,
            "contract/test_routes.py",
            "-k",
            "test_route and GET and info",
            target=target,
            cwd=suite,
        )
    assert run.returncode == SUITE_ERROR, run.stdout[-3000:]
    assert "SUITE ERROR" in run.stdout
    verdict = run.report["verdict"]
    assert verdict["status"] == "suite error"
    assert verdict["suite_errors"] == [f["id"] for f in run.failing()]


def test_the_real_suite_on_the_same_target_holds(tmp_path):
    """The control of the planted bug: the suite as shipped, the same selection, exit 0."""
    with start(tmp_path) as target:
        run = run_contract(
            tmp_path, "contract/test_routes.py", "-k", "test_route and GET and info", target=target
        )
    assert run.returncode == 0, run.stdout[-3000:]


def test_a_protocol_not_pointed_at_is_not_asked_and_says_so(tmp_path):
    """A foreign target given without --tagotip-url: TagoTiP's tests are deselected, the run is
    judged on what was asked (exit 0, not 'not judged' for a family skipped whole), and both the
    summary and the report say TagoTiP was not asked."""
    with start(tmp_path) as target:
        run = run_contract(
            tmp_path,
            "contract/test_routes.py",
            "contract/test_tagotip.py",
            "-k",
            "(test_route and GET and info) or tagotip",
            target=target,
        )
    assert run.returncode == 0, run.stdout[-3000:]
    assert "not asked, so not judged: TagoTiP" in run.stdout
    assert run.report["not_asked"] == ["TagoTiP: no --tagotip-url was given"]
    assert not any("tagotip" in n for n in run.report["verdict"]["not_judged"])


def test_nothing_run_is_not_green(tmp_path):
    junit = tmp_path / "junit.xml"
    run = run_contract(tmp_path, "contract/", "-k", "no_test_has_this_name", f"--junitxml={junit}")
    assert run.returncode == NOT_JUDGED, run.stdout[-3000:]
    assert "not judged: no contract test was selected" in run.stdout
    assert run.report["verdict"]["status"] == "not judged"
    failures = [c for c in ET.parse(junit).iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failures] == ["contract verdict"]


def test_a_family_whose_baseline_is_refused_is_not_judged(tmp_path):
    """A target that refuses even the short baseline group: the baseline is named once, the
    ingest tests are not judged (never passed), and the verdict lists the family."""
    with start(tmp_path, "group-cap=5") as target:
        run = run_contract(tmp_path, "contract/test_ingest.py", target=target)
    assert run.returncode == 1, run.stdout[-3000:]
    assert [f["check"] for f in run.failing()] == ["baseline refused"]
    assert run.report["verdict"]["tests"]["passed"] == 0
    assert any(n.startswith("ingest: all") for n in run.report["verdict"]["not_judged"])


SEEDS = 20 if os.environ.get("TAGOCHECK_CONTRACT_SEEDS") == "all" else 5


@pytest.mark.long
def test_the_healthy_target_holds_for_many_seeds(tmp_path):
    """The fast contract suite, seed after seed against one healthy target: green every time
    (`make contract-seeds`: 20 seeds; CI: 5)."""
    reds = []
    with start(tmp_path) as target:
        for seed in range(1, SEEDS + 1):
            folder = tmp_path / f"seed-{seed}"
            folder.mkdir()
            run = run_contract(
                folder, "contract/", "-m", "not slow", "--contract-seed", str(seed), target=target
            )
            if run.returncode != 0:
                reds.append((seed, run.stdout[-2000:]))
    assert not reds, reds


def test_the_suite_seed_option_refuses_what_is_no_seed(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "contract/", "--contract-seed", "-1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "pytest contract/: --contract-seed '-1': a whole number from 0 to 4294967295"
    ]
