"""Differential confirmation: a finding is the target's only if the reference does not show it.

Before the run blames a target, the tests behind its failing findings run again, with the same
seed, against the reference: the embedded target, started for that run and stopped after it. A
finding the reference shows as well (the same route, check and place) is the suite's own mistake
(a check that expects the wrong status, a schema that is too strict), since the reference
implements the facts file: it is reported as a suite error, with its reproduction, never as the
target's. A run against the reference itself needs no second run: whatever it finds, the suite
and the reference disagree on, and that is ours to mend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tagocheck.judge.findings import Finding

REFERENCE_RUN = "TAGOCHECK_CONTRACT_REFERENCE_RUN"
"""Set in the reference run's environment: it confirms nothing itself."""
PHASES = (" (set-up)", " (clean-up)")
TIMEOUT = 900.0
TARGET_VARIABLES = (
    "TAGOIO_API",
    "TAGOIO_PROFILE_TOKEN",
    "TAGOIO_NETWORK_TOKEN",
    "TAGOIO_ANALYSIS_TOKEN",
    "TAGOIO_AUTHORIZATION",
)


@dataclass(frozen=True)
class Confirmation:
    suite_errors: list[Finding]
    """The target's failing findings the reference shows too."""
    confirmed: list[Finding]
    """Failing findings the reference does not show: the target's."""
    said: str
    """One line on how the confirmation went, for the console and the report."""


def nodeids(findings: Iterable[Finding]) -> list[str]:
    """The tests behind findings, as pytest node ids (set-up and clean-up phases folded in)."""
    found: dict[str, None] = {}
    for finding in findings:
        for test in finding.tests:
            for phase in PHASES:
                test = test.removesuffix(phase)
            if "::" in test:
                found[test] = None
    return list(found)


def key(finding: Finding | dict) -> tuple[str, str, str]:
    get = finding.get if isinstance(finding, dict) else lambda k: getattr(finding, k)
    return (get("route"), get("check"), get("where"))


def against_reference(
    failing: list[Finding],
    *,
    rootdir: Path,
    plan: str,
    seed: int,
    strict: bool,
) -> Confirmation:
    """Run the tests behind `failing` against a fresh embedded target; split the findings."""
    tests = nodeids(failing)
    if not tests:
        return Confirmation([], failing, "not confirmed: no test to run again")
    with tempfile.TemporaryDirectory(prefix="tagocheck-reference-") as folder:
        report = Path(folder) / "contract-report.json"
        command = [sys.executable, "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider"]
        command += ["--plan", plan, "--contract-seed", str(seed)]
        command += ["--contract-report", str(report)]
        command += ["--strict-contract"] if strict else []
        env = {k: v for k, v in os.environ.items() if k not in TARGET_VARIABLES}
        env[REFERENCE_RUN] = "1"
        try:
            subprocess.run(
                command,
                cwd=rootdir,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=TIMEOUT,
                check=False,
            )
            shown = json.loads(report.read_text())["findings"]
        except (OSError, ValueError, KeyError, subprocess.TimeoutExpired) as error:
            return Confirmation(
                [], failing, f"not confirmed: the reference run failed ({type(error).__name__})"
            )
    also = {key(f) for f in shown}
    errors = [f for f in failing if key(f) in also]
    confirmed = [f for f in failing if key(f) not in also]
    said = (
        f"{len(tests)} test{'s' if len(tests) != 1 else ''} behind {len(failing)} failing "
        f"finding{'s' if len(failing) != 1 else ''} run again against the reference target: "
        f"{len(confirmed)} confirmed as the target's, {len(errors)} shown by the reference too"
    )
    return Confirmation(errors, confirmed, said)


def on_reference(failing: list[Finding]) -> Confirmation:
    """A run against the reference itself: every failing finding is the suite's to mend."""
    said = "the target is the reference: what fails here is the suite's (or the reference's)"
    return Confirmation(failing, [], said if failing else "the target is the reference")
