"""Devices in trouble: the reports a shard sends when its devices retry, go offline and backfill.

The schedule says when each reading is due; this puts beside it the attempts it causes later (a
retry due after its wait, a backfill request due when a device is back), earliest first, so a
retry waits in a heap and not in a gateway: a gateway held through a 30-s backoff would make every
other device's reports late. A report answered is followed up here: acknowledged, tried again as
the retry policy says, buffered, or given up, and every figure of it counted in the observer's
Attempts tally.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable

from tagocheck.fleet.attempts import Attempts
from tagocheck.fleet.outage import PAUSE_SECONDS, Backfill, Backlog, Reading
from tagocheck.fleet.retry import RetryPolicy, unsure
from tagocheck.fleet.schedule import Report, Schedule
from tagocheck.judge import checks

BACK = "back"
"""A heap entry that is no report: a device back online, to send its buffer."""


class DeviceWork:
    """The schedule's reports, retries and backfill of a shard's devices, earliest first."""

    def __init__(
        self,
        schedule: Schedule,
        retry: RetryPolicy,
        backlog: Backlog | None,
        backfill: Backfill,
        attempts: Callable[[], Attempts],
        traced: frozenset[str] = frozenset(),
        group_of: Callable[[int], str] = str,
    ) -> None:
        self.schedule = schedule
        self.retry = retry
        self.backlog = backlog
        self.backfill = backfill
        self.attempts = attempts
        """The tally of the observer in use now (the shard swaps observers as it hands them on)."""
        self.traced = traced
        self.group_of = group_of
        self.heap: list[tuple[float, int, object]] = []
        self._order = itertools.count()
        self._planned: set[int] = set()
        """Devices with a backfill round in the heap."""

    # -- the schedule's interface (Shard.wait_for_due, grow)

    def start_at(self, origin: float) -> None:
        self.schedule.start_at(origin)
        if self.backlog is not None:
            self.backlog.start_at(origin)

    def add(self, devices: Iterable[int], start: float) -> None:
        self.schedule.add(devices, start)

    def retire(self, ceiling: int) -> None:
        """Only the schedule's devices retire: a retry or backfill already planned still goes
        out, as a device that had a reading to deliver would."""
        self.schedule.retire(ceiling)

    def __len__(self) -> int:
        return len(self.schedule) + len(self.heap)

    def next_due(self) -> float | None:
        scheduled = self.schedule.next_due()
        if not self.heap:
            return scheduled
        resend = self.heap[0][0]
        return resend if scheduled is None else min(resend, scheduled)

    def pop_one(self, now: float) -> Report | None:
        """The earliest report due by `now`: the schedule's or a resend; a device offline keeps
        its reading in its buffer instead."""
        backlog = self.backlog
        while True:
            heap = self.heap
            scheduled = self.schedule.next_due()
            if heap and heap[0][0] <= now and (scheduled is None or heap[0][0] <= scheduled):
                due, _, item = heapq.heappop(heap)
                if not isinstance(item, Report):  # (BACK, device)
                    self._send_buffer(item[1], due)
                    continue
                report = item
            else:
                report = self.schedule.pop_one(now)
                if report is None:
                    return None
                if backlog is not None:
                    report = report._replace(measured=report.due)
            if backlog is not None:
                outage = backlog.offline(report.device, report.due)
                if outage is not None:  # offline: into the buffer, sent once it is back
                    self._buffer(report, "buffered", outage)
                    self._plan(report.device, backlog.back_at(report.device, outage))
                    continue
            return report

    def _push(self, due: float, item: object) -> None:
        heapq.heappush(self.heap, (due, next(self._order), item))

    # -- outages

    def _buffer(self, report: Report, counted: str, outage: int | None = None) -> int:
        """Put a report's readings (a backfill request's, or its one) into its device's buffer,
        each with the report's unsure attempts and first send. A reading new to the buffer is
        counted as `counted`, with outage `outage` (None: the last begun by its time). Returns
        the outage the readings are counted with."""
        backlog = self.backlog
        unsure, first_sent = report.unsure, report.first_sent
        if report.readings:
            for reading in report.readings:
                again = reading._replace(unsure=unsure, first_sent=first_sent)
                backlog.keep(report.device, again, new=None)
            return report.readings[0].outage
        measured = report.measured or report.due
        index = backlog.latest(measured) if outage is None else outage
        reading = Reading(report.sequence, measured, index, unsure, first_sent)
        backlog.keep(report.device, reading, new=counted)
        self._trace_measured(report.device, reading)
        return index

    def _trace_measured(self, device: int, reading: Reading) -> None:
        if str(device) in self.traced:
            self.attempts().measured[str(device)][self.group_of(reading.sequence)] = (
                reading.measured
            )

    def _plan(self, device: int, at: float) -> None:
        if device not in self._planned:
            self._planned.add(device)
            self._push(at, (BACK, device))

    def _send_buffer(self, device: int, at: float) -> None:
        """A device back online sends its buffer as the backfill policy says (or, offline
        again, waits until it is back)."""
        self._planned.discard(device)
        backlog = self.backlog
        outage = backlog.offline(device, at)
        if outage is not None:
            self._plan(device, backlog.back_at(device, outage))
            return
        readings = backlog.take(device)
        for due, chunk in self.backfill.plan(readings, at):
            first = chunk[0]
            sent_before = [r.first_sent for r in chunk if r.first_sent]
            self._push(
                due,
                Report(
                    device,
                    due,
                    first.sequence,
                    measured=first.measured,
                    first_sent=min(sent_before, default=0.0),
                    unsure=max(r.unsure for r in chunk),
                    readings=tuple(chunk),
                ),
            )

    # -- answers

    def answered(
        self,
        report: Report,
        verdict: checks.Verdict,
        cause: str | None,
        sent_at: float,
        answered_at: float,
        retry_after: Callable[[], float],
    ) -> None:
        """Follow one attempt's answer up: done, tried again, buffered again or given up."""
        tally = self.attempts()
        if not report.first_sent:
            tally.first += 1
        else:
            tally.retries += 1
        first_sent = report.first_sent or sent_at
        outcome, status = verdict.outcome, verdict.status
        if report.readings:
            tally.backfill[report.readings[0].outage]["requests"] += 1
        if verdict.succeeded and 200 <= status < 300:
            tally.final(bool(report.first_sent), first_sent, answered_at)
            self._note_resent(report)
            if report.readings:
                self._stored(report, answered_at)
            return
        doubt = report.unsure + unsure(outcome, status)
        retried = self.retry.retries(outcome, status, cause)
        if retried and report.attempt < self.retry.tries:
            due = answered_at + self.retry.wait_after(report.attempt)
            again = report._replace(
                due=due, attempt=report.attempt + 1, first_sent=first_sent, unsure=doubt
            )
            self._push(due, again)
            self._note_resent(again)  # the stop may come before its final answer
            return
        self._note_resent(report._replace(unsure=doubt))
        refused_for_good = 400 <= status < 500 and status != 429
        if self.backlog is not None and not refused_for_good:
            # store and forward: devices that buffer keep what was not acknowledged, and send
            # it again after a pause
            outage = self._buffer(report._replace(unsure=doubt, first_sent=first_sent), "requeued")
            if status == 429:  # counted apart from failures: the reading is sent again
                tally.backfill[outage]["throttled"] += 1
            pause = retry_after() if status == 429 else PAUSE_SECONDS
            self._plan(report.device, answered_at + pause)
            return
        tally.final(bool(report.first_sent), first_sent, answered_at)
        tally.given_up["tries" if retried else "not retried"] += 1
        if report.readings:
            self.backlog.refused(report.readings)

    def _stored(self, report: Report, at: float) -> None:
        self.backlog.stored(report.readings)
        tally = self.attempts()
        for reading in report.readings:
            tally.stored_backfill(reading.outage, 1, at)

    def _note_resent(self, report: Report) -> None:
        """A traced report sent again after an attempt the target may have stored: its
        duplicates are the retries', not the target's."""
        if report.unsure and str(report.device) in self.traced:
            groups = self.attempts().resent[str(report.device)]
            for sequence in [r.sequence for r in report.readings] or [report.sequence]:
                groups[self.group_of(sequence)] = report.unsure
