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
  records sent, and those whose count text could not be read at all.

One meaning of "answered" runs through every figure: an accepted answer (2xx, status true) that
conforms to the envelope and the route's result schema. A transport error, a body that is no
envelope, a 5xx or an answer that breaks the contract is a failure, wherever it is counted.
An *acknowledgement* is looser: any 2xx answer with status true to a report says the target took
its records, so integrity reconciles it through the read-back even when the answer broke the
contract or worded its count otherwise.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Collection
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from tagocheck.fleet.attempts import Attempts
from tagocheck.fleet.ledger import Ledger
from tagocheck.judge import checks
from tagocheck.judge.exchange import Exchange
from tagocheck.judge.findings import normalise_where
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
        self.departures: Counter = Counter()
        """Deviations and observations (tagocheck.judge.findings) by "severity route: check at
        where": answers that conform but differ from a documented form, listed, never failures."""
        self.ledger = Ledger(window_seconds)
        # Per-device windows are only worth their memory when devices have limits of their own.
        self.per_device_ledger = per_device_ledger
        self.acknowledged: Counter = Counter()
        self.attempts = Attempts()
        """Reports, as against attempts: retries, reports given up, outages' buffers."""
        self.traced = frozenset(traced)
        self.acknowledged_reports: dict[str, list[str]] = defaultdict(list)
        self.miscounted = 0
        self.count_not_understood = 0
        """Acknowledgements whose result did not read "N Data Added"."""
        self.reports = 0
        self.failed = 0
        """Reports not answered: every outcome but accepted-and-conforming."""
        self.nonconforming = 0
        """Responses that broke at least one check (a response with two violations is one)."""
        self.last_answer_at = 0.0
        """When the last HTTP answer of any kind came."""
        self.silent_since: float | None = None
        """The first transport error after the last HTTP answer, and how many came since: a
        target that stopped answering."""
        self.silent_count = 0
        # (lateness, corrected, service) seconds since the last take_recent(): the timeline's
        # per-second percentiles, kept as a plain list because the hot path appends to it.
        self.recent: list[tuple[float, float, float]] = []

    def observe(self, exchange: Exchange) -> checks.Verdict:
        """Judge and count one exchange: its latency from its timings, its answer's class and
        checks, its records against the ledger."""
        self.reports += 1
        due, sent_at, answered_at = exchange.due, exchange.sent_at, exchange.answered_at
        self.recent.append((sent_at - due, answered_at - due, answered_at - sent_at))
        self.lateness.record_value(_micros(sent_at - due))
        self.service.record_value(_micros(answered_at - sent_at))
        self.corrected.record_value(_micros(answered_at - due))
        verdict = exchange.judge()
        route = verdict.route or f"{exchange.method} {exchange.path}"
        if not exchange.answered:
            self.reasons[f"transport: {exchange.transport_error}"] += 1
            self._silence(sent_at, 1)
        else:
            self._answer(answered_at)
            self._count_reason(verdict)
            if verdict.violations:
                self._count_violations(route, exchange.status, exchange.body, verdict.violations)
            for minor in verdict.minor:
                where = normalise_where(minor.where)
                self.departures[f"{minor.severity} {route}: {minor.check} at {where}"] += 1
            reported = exchange.records_sent is not None or verdict.added is not None
            if reported and verdict.succeeded and 200 <= exchange.status < 300:
                self._acknowledge(
                    verdict, exchange.device, exchange.report_groups, exchange.records_sent
                )
            scope_device = exchange.device if self.per_device_ledger else None
            self.ledger.record(
                exchange.ledger_route or route,
                sent_at,
                answered_at,
                exchange.status,
                scope_device,
            )
        self.outcomes[route][verdict.outcome] += 1
        if verdict.outcome != checks.ACCEPTED or verdict.violations:
            self.failed += 1
        return verdict

    def _answer(self, at: float) -> None:
        if at > self.last_answer_at:
            self.last_answer_at = at
            if self.silent_since is not None and self.silent_since < at:
                self.silent_since, self.silent_count = None, 0

    def _silence(self, since: float, count: int) -> None:
        if since >= self.last_answer_at:
            self.silent_count += count
            self.silent_since = (
                since if self.silent_since is None else min(self.silent_since, since)
            )

    def silence(self) -> tuple[float, int] | None:
        """(since, transport errors) when no HTTP answer came after the first of them."""
        if self.silent_since is None:
            return None
        return self.silent_since, self.silent_count

    def _count_reason(self, verdict: checks.Verdict) -> None:
        """Why an answer was a failure, in one line: the message, the class or the checks."""
        outcome, status = verdict.outcome, verdict.status
        if outcome in (checks.REJECTED, checks.RATE_LIMITED):
            self.reasons[f"{status}: {verdict.said}"] += 1
        elif outcome in (checks.SERVER_ERROR, checks.NOT_ENVELOPE):
            said = f": {verdict.said}" if verdict.message else ""
            self.reasons[f"{outcome} {status}{said}"] += 1
        elif outcome == checks.ACCEPTED and verdict.violations:
            broken = ", ".join(sorted({v.check for v in verdict.violations}))
            self.reasons[f"{status}: broke the contract ({broken})"] += 1

    def _count_violations(
        self, route: str, status: int, body: bytes, violations: list[checks.Violation]
    ) -> None:
        """Per check, the responses that broke it (once per response, however often)."""
        self.nonconforming += 1
        for violation in {v.check: v for v in violations}.values():
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

    def _acknowledge(
        self, verdict: checks.Verdict, device: str | None, groups: tuple[str, ...], sent: int | None
    ) -> None:
        """A 2xx with status true to a report (`sent` records, when known): the target says it
        took the records, whatever words it counted them in."""
        if verdict.added is None:
            self.count_not_understood += 1
        elif sent is not None and verdict.added != sent:
            self.miscounted += 1
        if device is None:
            return
        self.acknowledged[device] += verdict.added if verdict.added is not None else sent
        if device in self.traced and groups:
            self.acknowledged_reports[device].extend(groups)

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
        self.departures.update(other.departures)
        self.violations.update(other.violations)
        for route, counts in other.violations_by_route.items():
            self.violations_by_route[route].update(counts)
        for check, examples in other.examples.items():
            self.examples[check] = (self.examples[check] + examples)[:EXAMPLES_PER_CHECK]
        self.ledger.merge(other.ledger)
        self.acknowledged.update(other.acknowledged)
        self.attempts.merge(other.attempts)
        for device, groups in other.acknowledged_reports.items():
            self.acknowledged_reports[device].extend(groups)
        self.miscounted += other.miscounted
        self.count_not_understood += other.count_not_understood
        self.reports += other.reports
        self.failed += other.failed
        self.nonconforming += other.nonconforming
        self._answer(other.last_answer_at)
        if other.silent_since is not None:
            self._silence(other.silent_since, other.silent_count)

    def to_wire(self) -> dict[str, Any]:
        """What a worker sends its master: plain types Locust's messages can carry."""
        return {
            "histograms": {name: h.encode().decode() for name, h in self.histograms().items()},
            "outcomes": {route: dict(c) for route, c in self.outcomes.items()},
            "reasons": dict(self.reasons),
            "departures": dict(self.departures),
            "violations": dict(self.violations),
            "violations_by_route": {r: dict(c) for r, c in self.violations_by_route.items()},
            "examples": dict(self.examples),
            "ledger": self.ledger.to_json(),
            "acknowledged": dict(self.acknowledged),
            "attempts": self.attempts.to_wire(),
            "acknowledged_reports": dict(self.acknowledged_reports),
            "miscounted": self.miscounted,
            "count_not_understood": self.count_not_understood,
            "reports": self.reports,
            "failed": self.failed,
            "nonconforming": self.nonconforming,
            "last_answer_at": self.last_answer_at,
            "silent_since": self.silent_since,
            "silent_count": self.silent_count,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> FleetObserver:
        observer = cls(data["ledger"]["window_seconds"])
        for name, encoded in data["histograms"].items():
            getattr(observer, name).decode_and_add(encoded)
        for route, counts in data["outcomes"].items():
            observer.outcomes[route].update(counts)
        observer.reasons.update(data["reasons"])
        observer.departures.update(data.get("departures") or {})
        observer.violations.update(data["violations"])
        for route, counts in data["violations_by_route"].items():
            observer.violations_by_route[route].update(counts)
        observer.examples.update(data["examples"])
        observer.ledger = Ledger.from_json(data["ledger"])
        observer.acknowledged.update(data["acknowledged"])
        observer.attempts = Attempts.from_wire(data["attempts"])
        observer.acknowledged_reports.update(data["acknowledged_reports"])
        observer.miscounted = data["miscounted"]
        observer.count_not_understood = data["count_not_understood"]
        observer.reports, observer.failed = data["reports"], data["failed"]
        observer.nonconforming = data["nonconforming"]
        observer.last_answer_at = data["last_answer_at"]
        observer.silent_since, observer.silent_count = data["silent_since"], data["silent_count"]
        return observer

    def histograms(self) -> dict[str, HdrHistogram]:
        return {"corrected": self.corrected, "service": self.service, "lateness": self.lateness}

    def summary(self) -> dict[str, Any]:
        def percentiles(h: HdrHistogram) -> dict[str, float]:
            return {f"p{p:g}": h.get_value_at_percentile(p) / 1000 for p in (50, 95, 99, 99.9)}

        return {
            "reports": self.reports,
            "answered": self.reports - self.failed,
            "failed": self.failed,
            "nonconforming": self.nonconforming,
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
            "departures": dict(self.departures.most_common(20)),
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
