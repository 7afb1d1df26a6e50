"""What a load run saw, response by response: outcomes, latency, schedule lateness, rate limits.

The Locust request hook hands every response to a FleetObserver, which judges it with the same
registry of checks the contract suite uses, and records:

- latency in HDR histograms (exact percentiles, mergeable across workers), both from the time the
  report was due (corrected for coordinated omission) and as service time, and how late each
  report went out;
- outcomes per route and class (accepted, rate-limited, rejected with its reason, server error,
  transport error, not an envelope) and every violation, with redacted examples;
- the rate-limit ledger;
- records acknowledged per device, and for the traced devices which reports (by their group),
  for the integrity check at the end; acknowledgements whose "N Data Added" is not the number of
  records sent.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from tagocheck import checks
from tagocheck.fleet.ledger import Ledger
from tagocheck.redact import scrub

MAX_MICROS = 3_600_000_000  # an hour: anything slower is recorded as an hour
EXAMPLES_PER_CHECK = 5


def histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_MICROS, 3)


class FleetObserver:
    def __init__(
        self,
        window_seconds: float,
        *,
        per_device_ledger: bool = False,
        traced: Collection[str] = (),
    ) -> None:
        self.corrected = histogram()
        self.service = histogram()
        self.lateness = histogram()
        self.outcomes: dict[str, Counter] = defaultdict(Counter)
        self.reasons: Counter = Counter()
        self.violations: Counter = Counter()
        self.violations_by_route: dict[str, Counter] = defaultdict(Counter)
        self.examples: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.ledger = Ledger(window_seconds)
        # Per-device windows are only worth their memory when devices have limits of their own.
        self.per_device_ledger = per_device_ledger
        self.acknowledged: Counter = Counter()
        self.traced = frozenset(traced)
        self.acknowledged_reports: dict[str, list[str]] = defaultdict(list)
        self.miscounted = 0
        self.reports = 0
        self.failed = 0
        # (lateness, corrected, service) seconds since the last take_recent(): the timeline's
        # per-second percentiles, kept as a plain list because the hot path appends to it.
        self.recent: list[tuple[float, float, float]] = []

    def observe(
        self,
        *,
        method: str,
        path: str,
        status: int,
        body: bytes,
        due: float,
        sent_at: float,
        answered_at: float,
        device: str | None = None,
        token_kind: str | None = "device-full",
        transport_error: str | None = None,
        ledger_route: str | None = None,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        report_group: str | None = None,
        records_sent: int | None = None,
    ) -> checks.Verdict:
        """Judge and count one response; `ledger_route` names a limit finer than the route (the
        aggregate query has its own); `report_group` is the group of a report's records."""
        self.reports += 1
        self.recent.append((sent_at - due, answered_at - due, answered_at - sent_at))
        self.lateness.record_value(_micros(sent_at - due))
        self.service.record_value(_micros(answered_at - sent_at))
        self.corrected.record_value(_micros(answered_at - due))
        if transport_error is not None:
            verdict = checks.Verdict(
                route=None, status=0, outcome=checks.TRANSPORT_ERROR, message=transport_error
            )
            route = f"{method} {path}"
            self.reasons[f"transport: {transport_error}"] += 1
        else:
            verdict = checks.judge(
                method, path, status, body, token_kind=token_kind, query=query, headers=headers
            )
            route = verdict.route or f"{method} {path}"
            if verdict.outcome == checks.REJECTED:
                self.reasons[f"{status}: {verdict.message}"] += 1
            for violation in verdict.violations:
                self.violations[violation.check] += 1
                self.violations_by_route[route][violation.check] += 1
                examples = self.examples[violation.check]
                if len(examples) < EXAMPLES_PER_CHECK:
                    examples.append(
                        {
                            "route": route,
                            "status": status,
                            "where": violation.where,
                            "message": violation.message,
                            "body": scrub(body[:300].decode("utf-8", "replace")),
                        }
                    )
            if verdict.added and device is not None:
                self.acknowledged[device] += verdict.added
                if device in self.traced and report_group is not None:
                    self.acknowledged_reports[device].append(report_group)
                if records_sent is not None and verdict.added != records_sent:
                    self.miscounted += 1
            scope_device = device if self.per_device_ledger else None
            self.ledger.record(ledger_route or route, sent_at, answered_at, status, scope_device)
        self.outcomes[route][verdict.outcome] += 1
        if verdict.outcome != checks.ACCEPTED or verdict.violations:
            self.failed += 1
        return verdict

    def take_recent(self) -> list[tuple[float, float, float]]:
        taken, self.recent = self.recent, []
        return taken

    def merge(self, other: FleetObserver) -> None:
        self.corrected.add(other.corrected)
        self.service.add(other.service)
        self.lateness.add(other.lateness)
        for route, counts in other.outcomes.items():
            self.outcomes[route].update(counts)
        self.reasons.update(other.reasons)
        self.violations.update(other.violations)
        for route, counts in other.violations_by_route.items():
            self.violations_by_route[route].update(counts)
        for check, examples in other.examples.items():
            self.examples[check] = (self.examples[check] + examples)[:EXAMPLES_PER_CHECK]
        self.ledger.merge(other.ledger)
        self.acknowledged.update(other.acknowledged)
        for device, groups in other.acknowledged_reports.items():
            self.acknowledged_reports[device].extend(groups)
        self.miscounted += other.miscounted
        self.reports += other.reports
        self.failed += other.failed

    def to_wire(self) -> dict[str, Any]:
        """What a worker sends its master: plain types Locust's messages can carry."""
        return {
            "histograms": {name: h.encode().decode() for name, h in self.histograms().items()},
            "outcomes": {route: dict(c) for route, c in self.outcomes.items()},
            "reasons": dict(self.reasons),
            "violations": dict(self.violations),
            "violations_by_route": {r: dict(c) for r, c in self.violations_by_route.items()},
            "examples": dict(self.examples),
            "ledger": self.ledger.to_json(),
            "acknowledged": dict(self.acknowledged),
            "acknowledged_reports": dict(self.acknowledged_reports),
            "miscounted": self.miscounted,
            "reports": self.reports,
            "failed": self.failed,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> FleetObserver:
        observer = cls(data["ledger"]["window_seconds"])
        for name, encoded in data["histograms"].items():
            getattr(observer, name).decode_and_add(encoded)
        for route, counts in data["outcomes"].items():
            observer.outcomes[route].update(counts)
        observer.reasons.update(data["reasons"])
        observer.violations.update(data["violations"])
        for route, counts in data["violations_by_route"].items():
            observer.violations_by_route[route].update(counts)
        observer.examples.update(data["examples"])
        observer.ledger = Ledger.from_json(data["ledger"])
        observer.acknowledged.update(data["acknowledged"])
        observer.acknowledged_reports.update(data["acknowledged_reports"])
        observer.miscounted = data["miscounted"]
        observer.reports, observer.failed = data["reports"], data["failed"]
        return observer

    def histograms(self) -> dict[str, HdrHistogram]:
        return {"corrected": self.corrected, "service": self.service, "lateness": self.lateness}

    def summary(self) -> dict[str, Any]:
        def percentiles(h: HdrHistogram) -> dict[str, float]:
            return {f"p{p:g}": h.get_value_at_percentile(p) / 1000 for p in (50, 95, 99, 99.9)}

        return {
            "reports": self.reports,
            "latency_ms": {
                "corrected": percentiles(self.corrected),
                "service": percentiles(self.service),
                "lateness": percentiles(self.lateness),
            },
            "outcomes": {route: dict(c) for route, c in self.outcomes.items()},
            "rejection_reasons": dict(self.reasons.most_common(20)),
            "violations": dict(self.violations),
            "violations_by_route": {r: dict(c) for r, c in self.violations_by_route.items()},
            "violation_examples": dict(self.examples),
        }

    def write(self, run_dir: Path, extra: dict[str, Any] | None = None) -> None:
        """Summary, histograms (HDR's own compressed base64) and ledger into the run directory."""
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "summary.json").write_text(
            json.dumps({**self.summary(), **(extra or {}), "written": time.time()}, indent=2)
        )
        (run_dir / "histograms.json").write_text(
            json.dumps(
                {name: h.encode().decode() for name, h in self.histograms().items()}, indent=2
            )
        )
        (run_dir / "ledger.json").write_text(json.dumps(self.ledger.to_json()))


def _micros(seconds: float) -> int:
    return min(MAX_MICROS, max(1, int(seconds * 1_000_000)))
