"""Findings: what a run found wrong or worth knowing about a target, each named once.

A finding is one deviation from the contract on one route (the route, the check, where in the
answer), however many responses or tests showed it. Its severity says what a user should do with
it, graded as API linters grade rules (Spectral's error / warn / info):

- `violation`: contradicts a rule the docs state (the envelope, a documented field's type, the
  status class, a denied request that succeeded). Fails the run.
- `deviation`: differs from a form the docs only show by example (another 2xx, a result text in
  other words). Listed always; fails the run under --strict.
- `observation`: what the docs leave open (an extra key, header behaviour). Listed.

Severity follows the source. Every rule a finding rests on carries the facts file's label
(`[C]` official docs or OpenAPI, `[SDK]` the official clients, `[H]` an older official page, `[X]`
official sources disagree and every variant is accepted, `[?]` no source states it); a rule
labelled `?` can at most make an observation, whatever the check asked for, since no source says
the target is wrong. The label is shown with the finding.

The contract suite collects findings through its recorder; contract-report.json and the HTML
report show them. Documented variants where official sources disagree are drift, not findings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

VIOLATION = "violation"
DEVIATION = "deviation"
OBSERVATION = "observation"
SEVERITIES = (VIOLATION, DEVIATION, OBSERVATION)
"""Most serious first."""


LABELS = ("C", "SDK", "H", "X", "user", "?")
"""The facts file's source labels, most authoritative first, and `user`: a threshold the run
was given (a latency budget), which is the user's rule to break."""
UNSTATED = "?"
_LABEL = re.compile(r"\[(C|SDK|H|X|user|\?)(?=[\]/ :;,])[^\]]*\]")


def label_of(text: str, *, first: bool = False) -> str | None:
    """The source label a rule's text ends on: `... [C]` -> "C", `[C/SDK]` -> "C", `[?]` -> "?".

    The last label in the text is the rule's own (a text may cite a figure's source first);
    `first`: the text states its main rule first (a test's docstring)."""
    found = _LABEL.findall(text or "")
    return (found[0] if first else found[-1]) if found else None


def graded(severity: str, label: str) -> str:
    """A finding's severity given its rule's source: what no source states is an observation."""
    return OBSERVATION if label == UNSTATED else severity


def rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def worst(severities: Iterable[str]) -> str | None:
    found = sorted(severities, key=rank)
    return found[0] if found else None


def fails(severity: str, strict: bool = False) -> bool:
    """Whether a finding of this severity fails a run."""
    return severity == VIOLATION or (strict and severity == DEVIATION)


_INDEX = re.compile(r"/\d+(?=/|$)")


def normalise_where(where: str) -> str:
    """`/result/3/created_at` -> `/result/*/created_at`: one finding for every record."""
    return _INDEX.sub("/*", where)


@dataclass
class Finding:
    id: str
    route: str
    check: str
    where: str
    severity: str
    expected: str
    """What the docs say (or the suite's source label for it)."""
    observed: str
    """What the target did, in the first response that showed it (redacted)."""
    reproduction: str
    """A curl command line, tokens redacted."""
    tests: list[str] = field(default_factory=list)
    count: int = 1
    label: str = ""
    """The source label of the rule it rests on (LABELS)."""

    def line(self) -> str:
        return (
            f"{self.id} {self.severity} [{self.label}] {self.route}: {self.check} at "
            f"{self.where}: {self.observed}"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Findings:
    """Every finding of a run, keyed by (route, check, where); ids F1, F2, ... in order seen."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str, str], Finding] = {}

    def add(
        self,
        route: str,
        check: str,
        where: str,
        severity: str,
        *,
        expected: str,
        observed: str,
        reproduction: str = "",
        test: str | None = None,
        label: str | None = None,
    ) -> Finding:
        """Add a finding, or count another answer that showed it. `label` defaults to the one
        `expected` ends on; a rule with none is the suite's defect (ValueError)."""
        label = label or label_of(expected)
        if label not in LABELS:
            raise ValueError(f"{check} on {route}: the rule has no source label: {expected!r}")
        severity = graded(severity, label)
        key = (route, check, normalise_where(where))
        found = self._by_key.get(key)
        if found is None:
            found = Finding(
                id=f"F{len(self._by_key) + 1}",
                route=route,
                check=check,
                where=key[2],
                severity=severity,
                expected=expected,
                observed=observed,
                reproduction=reproduction,
                label=label,
            )
            self._by_key[key] = found
        else:
            found.count += 1
            if rank(severity) < rank(found.severity):
                found.severity = severity
                found.expected, found.label = expected, label
            if reproduction and len(reproduction) < len(found.reproduction):
                # the smallest reproduction that still shows it (a shrunk example comes last)
                found.observed, found.reproduction = observed, reproduction
        if test and test not in found.tests:
            found.tests.append(test)
        return found

    def __iter__(self) -> Iterator[Finding]:
        return iter(sorted(self._by_key.values(), key=lambda f: (rank(f.severity), _number(f))))

    def __len__(self) -> int:
        return len(self._by_key)

    def failing(self, strict: bool = False) -> list[Finding]:
        return [f for f in self if fails(f.severity, strict)]

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self if f.severity == s) for s in SEVERITIES}

    def as_list(self) -> list[dict[str, Any]]:
        return [f.as_dict() for f in self]

    @classmethod
    def from_list(cls, items: Iterable[Mapping[str, Any]]) -> Findings:
        made = cls()
        for item in items:
            finding = Finding(**{k: item[k] for k in Finding.__dataclass_fields__ if k in item})
            made._by_key[(finding.route, finding.check, finding.where)] = finding
        return made


def _number(finding: Finding) -> int:
    return int(finding.id[1:]) if finding.id[1:].isdigit() else 0
