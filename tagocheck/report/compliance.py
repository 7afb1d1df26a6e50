"""The contract suite's findings for the report: which documented variant the target used per
route (drift), the responses that broke the contract, and permission leaks.

contract-report.json has the first two; permission leaks are failed tests of
contract/test_permissions.py, read from the JUnit file the suite writes beside it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagocheck.redact import scrub


class ContractReportError(ValueError):
    pass


@dataclass
class Compliance:
    target: dict[str, Any] = field(default_factory=dict)
    drift: list[dict[str, Any]] = field(default_factory=list)
    """Per route and decision point: the variants seen and how often."""
    violations: list[dict[str, Any]] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)
    permission_leaks: list[dict[str, str]] = field(default_factory=list)
    junit: str | None = None


def read(path: Path) -> Compliance:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ContractReportError(f"{path}: no such file") from None
    except ValueError:
        raise ContractReportError(f"{path} is not JSON") from None
    if not isinstance(data, dict) or "routes" not in data:
        raise ContractReportError(f"{path} is not a contract-report.json (no routes)")
    found = Compliance(target=data.get("target") or {})
    for route, stats in sorted(data["routes"].items()):
        for point, seen in sorted((stats.get("variants") or {}).items()):
            found.drift.append({"route": route, "point": point, "variants": seen})
        for check, count in sorted((stats.get("violations") or {}).items()):
            found.violations.append({"route": route, "check": check, "count": count})
    found.examples = data.get("violation_examples") or []
    junit = Path(path).with_name("junit.xml")
    if junit.exists():
        found.junit = str(junit)
        found.permission_leaks = _permission_failures(junit)
    return found


def _permission_failures(junit: Path) -> list[dict[str, str]]:
    try:
        tree = ElementTree.parse(junit)
    except ElementTree.ParseError:
        return []
    leaks = []
    for case in tree.iter("testcase"):
        if "test_permissions" not in (case.get("classname") or ""):
            continue
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        if failure is not None:
            message = (failure.get("message") or failure.text or "").strip().splitlines()
            leaks.append(
                {"test": case.get("name", ""), "message": scrub(message[0] if message else "")}
            )
    return leaks
