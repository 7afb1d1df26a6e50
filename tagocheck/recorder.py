"""What a run saw: every verdict of the registry of checks, and the drift it shows.

The contract suite writes this as contract-report.json; the HTML report reads it. Drift is counted
per route and per point where official sources disagree: which documented variant the target used
and how often, so a user sees what their target does instead of a guess.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagocheck.checks import Verdict, Violation
from tagocheck.redact import scrub


class ContractViolation(AssertionError):
    """A response broke the contract; raised in the test that made the request."""


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
    examples: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    max_examples: int = 50
    records_added: int = 0
    """Records the target acknowledged ("N Data Added"): the data-input transactions spent."""

    def record(self, verdict: Verdict, request: str, body: bytes) -> None:
        stats = self.routes[verdict.route or "(unknown route)"]
        stats.responses += 1
        if verdict.added is not None:
            self.records_added += verdict.added
        stats.outcomes[verdict.outcome] += 1
        for point, matched in verdict.variants.items():
            stats.variants[point][" + ".join(matched) or "none"] += 1
        for violation in verdict.violations:
            stats.violations[violation.check] += 1
            if len(self.examples) < self.max_examples:
                self.examples.append(
                    {
                        "route": verdict.route,
                        "request": scrub(request),
                        "status": verdict.status,
                        "check": violation.check,
                        "where": violation.where,
                        "message": violation.message,
                        "body": scrub(body[:300].decode("utf-8", "replace")),
                    }
                )

    def note(self, route: str, point: str, variant: str) -> None:
        """Record an observation a test made itself (a header honoured, a transport behaviour)."""
        self.routes[route].variants[point][variant] += 1

    def report(self) -> dict[str, Any]:
        return {
            "target": {k: scrub(v) if isinstance(v, str) else v for k, v in self.target.items()},
            "started": self.started,
            "records_added": self.records_added,
            "finished": time.time(),
            "routes": {
                route: {
                    "responses": s.responses,
                    "outcomes": dict(s.outcomes),
                    "variants": {p: dict(c) for p, c in s.variants.items()},
                    "violations": dict(s.violations),
                }
                for route, s in sorted(self.routes.items())
            },
            "violation_examples": self.examples,
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.report(), indent=2, sort_keys=False)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(text + "\n")
        os.replace(temporary, path)


def violation_message(request: str, verdict: Verdict, body: bytes) -> str:
    """A readable failure: the request, the status, each broken check and the body, redacted."""
    lines = [f"{scrub(request)} -> HTTP {verdict.status} broke the contract ({verdict.route}):"]
    lines += [f"  {_line(v)}" for v in verdict.violations]
    lines.append(f"  body: {scrub(body[:500].decode('utf-8', 'replace'))}")
    return "\n".join(lines)


def _line(violation: Violation) -> str:
    return f"{violation.check} at {violation.where}: {violation.message}"
