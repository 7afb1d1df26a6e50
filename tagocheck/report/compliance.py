"""The contract suite's findings for the report: each finding once, at its severity, which
documented variant the target used per route (drift), and what the permission matrix showed.

contract-report.json has the findings and the drift; whether the permission tests ran (and how
many cells were not judged) is read from the JUnit file the suite writes beside it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagocheck.judge.findings import Finding, Findings


class ContractReportError(ValueError):
    pass


@dataclass
class Compliance:
    target: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    """Most serious first."""
    counts: dict[str, int] = field(default_factory=dict)
    """Findings per severity."""
    drift: list[dict[str, Any]] = field(default_factory=list)
    """Per route and decision point: the variants seen and how often."""
    permission_cells: dict[str, int] | None = None
    """Cells judged and not judged, from junit.xml; None without one."""
    junit: str | None = None
    verdict: dict[str, Any] = field(default_factory=dict)
    """The run's one line (contract/outcome.py): status, why, tests, what was not judged; empty
    for a report from before verdicts."""

    @property
    def permission_leaks(self) -> list[Finding]:
        return [f for f in self.findings if f.check == "permission-leak"]


def read(path: Path) -> Compliance:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ContractReportError(f"{path}: no such file") from None
    except ValueError:
        raise ContractReportError(f"{path} is not JSON") from None
    if not isinstance(data, dict) or "routes" not in data or "findings" not in data:
        raise ContractReportError(f"{path} is not a contract-report.json (no routes or findings)")
    try:
        findings = Findings.from_list(data["findings"])
    except (TypeError, KeyError) as error:
        raise ContractReportError(f"{path}: a finding is malformed ({error})") from None
    found = Compliance(
        target=data.get("target") or {},
        findings=list(findings),
        counts=findings.counts(),
        verdict=data.get("verdict") or {},
    )
    for route, stats in sorted(data["routes"].items()):
        for point, seen in sorted((stats.get("variants") or {}).items()):
            found.drift.append({"route": route, "point": point, "variants": seen})
    junit = Path(path).with_name("junit.xml")
    if junit.exists():
        found.junit = str(junit)
        found.permission_cells = _permission_cells(junit)
    return found


def _permission_cells(junit: Path) -> dict[str, int] | None:
    try:
        tree = ElementTree.parse(junit)
    except ElementTree.ParseError:
        return None
    cells = {"judged": 0, "not judged": 0}
    for case in tree.iter("testcase"):
        if "test_permission" not in (case.get("name") or ""):
            continue
        cells["not judged" if case.find("skipped") is not None else "judged"] += 1
    return cells if any(cells.values()) else None
