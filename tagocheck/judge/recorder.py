"""What a contract run saw: every verdict of the registry of checks, as findings and drift.

The contract suite writes this as contract-report.json; the HTML report reads it. Each response's
checks become findings (tagocheck.judge.findings), each named once however many responses showed it,
with the tests it touched. Drift is counted per route and per point where official sources
disagree: which documented variant the target used and how often, so a user sees what their
target does instead of a guess.

A run has a current test and the routes it is about (its subjects). A finding on a subject fails
that test; a finding on a route the test only used to set itself up is recorded for that route
and the test goes on with what the target did, so one deviating route does not fail every test
that happens to call it.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagocheck.judge.checks import Verdict
from tagocheck.judge.findings import VIOLATION, Finding, Findings, fails
from tagocheck.redact import scrub

EVERY_ROUTE = None
"""Subjects of a test that names none: every route it calls is what it checks."""


class ContractViolation(AssertionError):
    """A response broke the contract on a route the current test checks."""

    def __init__(self, message: str, findings: Iterable[Finding] = ()) -> None:
        super().__init__(message)
        self.findings = list(findings)


@dataclass
class RouteStats:
    responses: int = 0
    outcomes: Counter = field(default_factory=Counter)
    variants: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    violations: Counter = field(default_factory=Counter)


@dataclass
class Recorder:
    target: dict[str, Any] = field(default_factory=dict)
    routes: dict[str, RouteStats] = field(default_factory=lambda: defaultdict(RouteStats))
    findings: Findings = field(default_factory=Findings)
    started: float = field(default_factory=time.time)
    strict: bool = False
    """Deviations fail tests and the run, as violations do."""
    verdict: dict[str, Any] = field(default_factory=dict)
    """The run's one line (contract/outcome.py) and how its findings were confirmed."""
    exploration: dict[str, Any] = field(default_factory=dict)
    """The seed the generated inputs came from and where examples are kept."""
    records_added: int = 0
    """Records the target acknowledged in the documented words ("N Data Added")."""
    acknowledged_posts: int = 0
    """Data posts answered with a success, whatever the words (the transactions spent)."""
    test: str | None = None
    subjects: frozenset[str] | None = EVERY_ROUTE
    echo: str | None = None
    """What the answers now being recorded echo (Recorder.echoing); None: nothing."""
    not_asked: list[str] = field(default_factory=list)
    """What the user did not point the suite at (a protocol's own URL), so nothing judged it."""
    last_request: dict[str, str] = field(default_factory=dict)
    """route -> the curl line of the latest request to it, for findings a test's own check makes."""

    @contextmanager
    def echoing(self, what: str) -> Iterator[None]:
        """Answers that return what the suite itself sent past a documented limit (a read-back
        of an over-long record the target kept): what a target keeps of such input is open, so
        their findings are observations of their own, not violations of the returned form."""
        self.echo = what
        try:
            yield
        finally:
            self.echo = None

    def begin(self, test: str | None, subjects: Iterable[str] | None = EVERY_ROUTE) -> None:
        """From now on, responses belong to this test, which checks these routes."""
        self.test = test
        self.subjects = frozenset(subjects) if subjects is not None else EVERY_ROUTE

    def is_subject(self, route: str | None) -> bool:
        return self.subjects is EVERY_ROUTE or (route is not None and route in self.subjects)

    def record(self, verdict: Verdict, request: str, body: bytes, route: str) -> list[Finding]:
        """Count one response and turn its checks into findings; returns those findings."""
        stats = self.routes[route]
        stats.responses += 1
        self.last_request[route] = scrub(request)
        if verdict.added is not None:
            self.records_added += verdict.added
        if route in ("POST /data", "POST /integration/network/data") and verdict.succeeded:
            self.acknowledged_posts += 1
        stats.outcomes[verdict.outcome] += 1
        for point, matched in verdict.variants.items():
            stats.variants[point][" + ".join(matched) or "none"] += 1
        found = []
        excerpt = scrub(body[:200].decode("utf-8", "replace")) if verdict.findings else ""
        for violation in verdict.findings:
            check, expected, label = violation.check, violation.expected, violation.label
            if self.echo is not None:
                check = f"{check} (echo)"
                expected = (
                    f"{expected}; this answer returns what the suite sent past a limit "
                    f"({self.echo}), and what a target keeps of that is open [?]"
                )
                label = None
            elif violation.severity == VIOLATION:
                stats.violations[violation.check] += 1
            found.append(
                self.findings.add(
                    route,
                    check,
                    violation.where,
                    violation.severity,
                    expected=expected,
                    observed=f"HTTP {verdict.status}: {violation.message} (body: {excerpt})",
                    reproduction=scrub(request),
                    test=self.test,
                    label=label,
                )
            )
        return found

    def failing(self, findings: Iterable[Finding]) -> list[Finding]:
        return [f for f in findings if fails(f.severity, self.strict)]

    def find(
        self,
        route: str,
        check: str,
        severity: str,
        *,
        expected: str,
        observed: str,
        where: str = "-",
        reproduction: str | None = None,
        label: str | None = None,
    ) -> Finding:
        """A finding a test made itself (a round trip that did not hold, a refusal). Its rule's
        source label is `label`, else the one `expected` ends on."""
        return self.findings.add(
            route,
            check,
            where,
            severity,
            expected=expected,
            observed=scrub(observed),
            reproduction=reproduction or self.last_request.get(route, ""),
            test=self.test,
            label=label,
        )

    def note(self, route: str, point: str, variant: str) -> None:
        """Record an observation a test made itself (a header honoured, a transport behaviour)."""
        self.routes[route].variants[point][variant] += 1

    def report(self) -> dict[str, Any]:
        return {
            "target": {k: scrub(v) if isinstance(v, str) else v for k, v in self.target.items()},
            "started": self.started,
            "finished": time.time(),
            "strict": self.strict,
            "verdict": self.verdict,
            "not_asked": self.not_asked,
            "exploration": self.exploration,
            "records_added": self.records_added,
            "acknowledged_posts": self.acknowledged_posts,
            "findings": self.findings.as_list(),
            "routes": {
                route: {
                    "responses": s.responses,
                    "outcomes": dict(s.outcomes),
                    "variants": {p: dict(c) for p, c in s.variants.items()},
                    "violations": dict(s.violations),
                }
                for route, s in sorted(self.routes.items())
            },
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.report(), indent=2, sort_keys=False)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(text + "\n")
        os.replace(temporary, path)


def violation_message(request: str, verdict: Verdict, findings: Iterable[Finding]) -> str:
    """A readable failure: each finding's id and line, then the request, redacted."""
    lines = [f"{f.id} ({f.severity}) {f.route}: {f.check} at {f.where}" for f in findings]
    lines += [f"  {v}" for v in verdict.findings]
    lines.append(f"  reproduce: {scrub(request)}")
    return "\n".join(lines)
