"""The contract run's one line: the contract holds, it is violated, the suite erred, or nothing
was judged.

A run is judged by what it ran. One that ran no test, or skipped every test of a family of routes
it was asked to judge (a test file selected whole: ingest, permissions, queries...), has judged
nothing there, and says so with its own exit status instead of passing: green must never come from
an empty run. A finding that the reference target shows too is the suite's own error, not the
target's (contract/confirm.py), and has a status of its own. pytest's statuses (0 to 5) keep their
meanings; ours come after them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOLDS = "the contract holds"
VIOLATED = "violated"
SUITE_ERROR = "suite error"
NOT_JUDGED = "not judged"
EXIT_STATUS = {HOLDS: 0, VIOLATED: 1, SUITE_ERROR: 6, NOT_JUDGED: 7}
"""0 and 1 as pytest's; 6: a finding the reference target shows too; 7: nothing judged."""


def family_of(nodeid: str) -> str:
    """`contract/test_ingest.py::test_x[y]` -> `ingest`."""
    return Path(nodeid.split("::", 1)[0]).stem.removeprefix("test_")


@dataclass
class Tally:
    """What each family of tests did: every selected test's outcome, and why tests were skipped."""

    selected: Counter = field(default_factory=Counter)
    outcomes: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    skipped_because: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def select(self, nodeids: list[str]) -> None:
        self.selected = Counter(family_of(n) for n in nodeids)

    def record(self, nodeid: str, when: str, outcome: str, reason: str = "") -> None:
        """One phase's report: a call's outcome, or a set-up that failed or skipped."""
        if when != "call" and outcome == "passed":
            return
        family = family_of(nodeid)
        self.outcomes[family][outcome] += 1
        if outcome == "skipped":
            self.skipped_because[family][_reason(reason)] += 1

    def totals(self) -> Counter:
        total: Counter = Counter()
        for counted in self.outcomes.values():
            total.update(counted)
        return total

    def not_judged(self) -> list[str]:
        """Why each family asked for judged nothing (no test passed or failed in it)."""
        if not sum(self.selected.values()):
            return ["no contract test was selected"]
        reasons = []
        for family, count in sorted(self.selected.items()):
            done = self.outcomes.get(family, Counter())
            if done["passed"] or done["failed"]:
                continue
            why = self.skipped_because.get(family)
            said = why.most_common(1)[0][0] if why else "no test ran to its end"
            reasons.append(f"{family}: all {count} tests skipped ({said})")
        return reasons


def _reason(text: str) -> str:
    return text.removeprefix("Skipped: ").strip().splitlines()[0][:200] if text else "skipped"


@dataclass(frozen=True)
class Verdict:
    status: str
    why: str
    tests: dict[str, int]
    not_judged: list[str]

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self.status]

    def line(self) -> str:
        counted = ", ".join(f"{n} {k}" for k, n in self.tests.items() if n)
        return f"tagocheck verdict: {self.status}: {self.why} ({counted or 'no test run'})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "why": self.why,
            "exit_status": self.exit_status,
            "tests": self.tests,
            "not_judged": self.not_judged,
        }


def decide(tally: Tally, failing: int, failed_tests: int, suite_errors: int) -> Verdict:
    """The run's verdict: a suite error before all, then a violation, then what was not judged."""
    totals = tally.totals()
    tests = {k: totals[k] for k in ("passed", "failed", "skipped")}
    missing = tally.not_judged()
    if suite_errors:
        plural = "s" if suite_errors != 1 else ""
        why = (
            f"{suite_errors} finding{plural} the reference target shows too: the suite is "
            "wrong there, not the target"
        )
        return Verdict(SUITE_ERROR, why, tests, missing)
    if failing or failed_tests:
        why = (
            f"{failing} finding{'s that fail' if failing != 1 else ' that fails'} the run"
            if failing
            else f"{failed_tests} test{'s' if failed_tests != 1 else ''} failed"
        )
        return Verdict(VIOLATED, why, tests, missing)
    if missing:
        return Verdict(NOT_JUDGED, "; ".join(missing), tests, missing)
    return Verdict(HOLDS, "every selected family of routes was judged", tests, missing)


def mark_junit(path: Path, verdict: Verdict) -> None:
    """Add one failing testcase naming the verdict to a JUnit file pytest wrote, so a CI system
    reading only JUnit sees red where the run judged nothing or the suite erred."""
    import xml.etree.ElementTree as ElementTree

    try:
        tree = ElementTree.parse(path)
    except (OSError, ElementTree.ParseError):
        return
    root = tree.getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return
    case = ElementTree.SubElement(
        suite, "testcase", classname="tagocheck", name="contract verdict", time="0"
    )
    kind = "error" if verdict.status == SUITE_ERROR else "failure"
    ElementTree.SubElement(case, kind, message=f"{verdict.status}: {verdict.why}")
    suite.set("tests", str(int(suite.get("tests", "0")) + 1))
    counter = "errors" if kind == "error" else "failures"
    suite.set(counter, str(int(suite.get(counter, "0")) + 1))
    tree.write(path, encoding="utf-8", xml_declaration=True)
