"""This process's part of the fleet: its devices' schedule, what their responses showed, and the
run second by second as this process saw it.

A run without workers has one shard (index 0 of 1); a distributed run gives every worker a
disjoint one (device i belongs to shard i % count), so no device is simulated twice. The
coordinator takes each shard's observer and samples (directly, or in worker reports) and merges
them.
"""

from __future__ import annotations

import gc
import glob
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.lock

from tagocheck.fleet.integrity import report_group
from tagocheck.fleet.model import Fleet, NetworkAccess, TipAccess
from tagocheck.fleet.observe import FleetObserver
from tagocheck.fleet.outage import Backlog
from tagocheck.fleet.probes import Probe, ProbeSchedule, probing_rate
from tagocheck.fleet.resend import DeviceWork
from tagocheck.fleet.schedule import Schedule
from tagocheck.fleet.timeline import OUTCOME_FIELDS, Sample, percentiles_ms

IDLE_SECONDS = 0.05
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 1_048_576


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_MB


def cpu_wait_seconds() -> float:
    """Time this process's threads have spent ready to run but waiting for a CPU that other
    processes held (Linux schedstat; 0 where the kernel does not say). A generator starved of CPU
    by its neighbours uses little CPU itself, yet cannot keep up: this tells it from one that is
    waiting on the target."""
    total = 0
    for task in glob.glob("/proc/self/task/*/schedstat"):
        try:
            with open(task) as stat:
                total += int(stat.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


@dataclass(frozen=True)
class ShardTerms:
    """What every shard of a run shares, beside its own part of the fleet."""

    window: float = 60.0
    per_device_ledger: bool = False
    probes: list[Probe] | None = None
    """The ratelimit scenario's probes, which replace the devices' reports; an empty list is a
    shard with nothing to do (the probes go to the first shard only); None otherwise."""
    probe_factor: float = 1.5
    swarm_tag: str = ""
    """Reports' records are grouped under it and their sequence."""
    traced: list[int] = field(default_factory=list)
    """The devices whose acknowledged reports are kept for the integrity check (see
    tagocheck.fleet.integrity)."""
    network: NetworkAccess | None = None
    """What the network path posts with."""
    tip: TipAccess | None = None
    """Where the TagoTiP path pushes, and with which hash."""
    active: int = 0
    """Devices reporting from the start."""


class Shard:
    def __init__(
        self, fleet: Fleet, index: int = 0, count: int = 1, terms: ShardTerms = ShardTerms()
    ) -> None:
        self.fleet = fleet
        self.network = terms.network
        self.tip = terms.tip
        self.devices: Any = None
        """The TagoTiP devices' own MQTT or TCP connections or UDP sockets
        (tagocheck.load.mqtt_devices, tcp_devices, udp_devices), made by the first gateway that
        sends and shared by all of this process's."""
        self.turns: Any = None
        """The devices' turns on POST /v1/tips (tagocheck.load.turns), shared the same way."""
        self.index = index
        self.count = count
        self.window = terms.window
        self.per_device_ledger = terms.per_device_ledger
        self.probes = terms.probes
        self.probe_factor = terms.probe_factor
        self.swarm_tag = terms.swarm_tag
        self.traced = frozenset(str(device) for device in terms.traced)
        self.observer = self._new_observer()
        self.schedule: Schedule | DeviceWork | ProbeSchedule | None = None
        self._prepared: Schedule | DeviceWork | None = None
        self.work: DeviceWork | None = None
        """The devices' retries and outages, when they have any (answers are followed up)."""
        self.turn = gevent.lock.Semaphore()
        """Held by the one gateway waiting for the next due report (see Gateway)."""
        self.samples: list[Sample] = []
        self.active = 0
        self.offered = 0.0
        # offered x seconds since the last sample: a second in which a capacity step began is
        # sampled with the rate that was due on average, not the new step's whole rate
        self._offered_area = 0.0
        self._offered_mark = 0.0
        self.in_flight = 0
        self.in_flight_peak = 0
        """The most reports awaiting an answer at once since the last sample."""
        self.taken_reports = 0
        self.taken_failed = 0
        self.taken_outcomes: Counter = Counter()
        self.taken_retries = 0
        self.taken_throttled = 0
        self._sampler: gevent.Greenlet | None = None

    def _new_observer(self) -> FleetObserver:
        return FleetObserver(
            self.window, per_device_ledger=self.per_device_ledger, traced=self.traced
        )

    def devices_between(self, low: int, high: int) -> range:
        """This shard's devices among devices low..high-1."""
        return range(low + (self.index - low) % self.count, high, self.count)

    def prepare(self, active: int) -> None:
        """Build the schedule of the fleet's first `active` devices (this shard's of them) ahead
        of the run: for a million devices this takes seconds, which must not be spent while
        reports are due."""
        if self.probes is None:
            schedule = Schedule(self.fleet, self.devices_between(0, active), 0.0, self.index)
            self._prepared = self._trouble(schedule)
            self.work = self._prepared if isinstance(self._prepared, DeviceWork) else None
            self.active = active
            self.offered = self.fleet.offered_rate(self.devices_between(0, active))

    def _trouble(self, schedule: Schedule) -> Schedule | DeviceWork:
        """The schedule, wrapped in the devices' retries and outages when the fleet has any."""
        config = self.fleet.config
        if not config.in_trouble:
            return schedule
        backlog = None
        if config.outages:
            backlog = Backlog(
                config.outages,
                config.buffer,
                config.reconnect_policy,
                f"reconnect:{config.seed}",
            )
        return DeviceWork(
            schedule,
            config.retry_policy,
            backlog,
            config.backfill_policy,
            lambda: self.observer.attempts,
            self.traced,
            lambda sequence: report_group(self.swarm_tag, sequence),
        )

    def begin(self, users: Callable[[], int]) -> None:
        """Start the prepared schedule now, or the probes; `users` tells the sampler how many
        Locust users this process runs."""
        # The fleet's millions of long-lived objects (tokens, schedule entries) would otherwise be
        # traversed by every full garbage collection: pauses of a good part of a second.
        gc.collect()
        gc.freeze()
        now = time.time()
        if self.probes is None:
            self._prepared.start_at(now)
            self.schedule = self._prepared
        elif self.probes:
            factor = self.probe_factor
            self.schedule = ProbeSchedule(
                self.probes, factor, self.window, now, on_late=self._probe_late
            )
            self.offered = probing_rate(self.probes, factor, self.window)
        self._sampler = gevent.spawn(self._sample_every_second, users)

    def _probe_late(self, probe: Probe, due: float) -> None:
        device = str(probe.device) if probe.device is not None else None
        self.observer.ledger.record_late(probe.label, due, device)

    def _offered_since(self, last: float, now: float) -> float:
        """The average offered rate from `last` to `now`, the sampler's interval."""
        area = self._offered_area + self.offered * (now - self._offered_mark)
        self._offered_area, self._offered_mark = 0.0, now
        return area / (now - last)

    def wait_for_due(self) -> tuple[Schedule | ProbeSchedule, Any] | None:
        """The next due report (or probe) and its schedule, once it is due; None while there
        is no schedule.

        One user at a time waits for the next due time; the others queue on `turn`. Were they
        all to sleep until that time, every report would wake every idle user (50 wake-ups for
        one send), costing CPU and making reports late.
        """
        schedule = self.schedule
        if schedule is None:
            return None
        report = schedule.pop_one(time.time())  # no waiting, no lock: gevent will not switch
        if report is not None:
            return schedule, report
        with self.turn:
            while True:
                schedule = self.schedule
                if schedule is None:
                    return None
                now = time.time()
                report = schedule.pop_one(now)
                if report is not None:
                    return schedule, report
                following = schedule.next_due()
                gevent.sleep(min(IDLE_SECONDS, following - now) if following else IDLE_SECONDS)

    def grow(self, active: int) -> None:
        """The fleet's first `active` devices report from now: more of them, or (a capacity
        search bisecting down) fewer."""
        if not isinstance(self.schedule, Schedule | DeviceWork) or active == self.active:
            return
        now = time.time()
        if active > self.active:
            self.schedule.add(self.devices_between(self.active, active), now)
        else:
            self.schedule.retire(active)
        self.active = active
        self._offered_area += self.offered * (now - self._offered_mark)
        self._offered_mark = now
        self.offered = self.fleet.offered_rate(self.devices_between(0, active))

    def request_sent(self) -> None:
        self.in_flight += 1
        if self.in_flight > self.in_flight_peak:
            self.in_flight_peak = self.in_flight

    def request_done(self) -> None:
        self.in_flight -= 1

    def stop(self) -> None:
        """No more reports go out; answers to those in flight are still counted."""
        self.schedule = None
        if self._sampler is not None:
            self._sampler.kill(block=False)
            self._sampler = None

    def settle(self, timeout: float = 3.0) -> None:
        """Wait (a while) for the answers to reports already sent."""
        deadline = time.time() + timeout
        while self.in_flight and time.time() < deadline:
            gevent.sleep(0.05)
        if self.devices is not None:  # the run is over: the devices hang up
            self.devices.close_all()

    def take(self) -> tuple[FleetObserver, list[Sample]]:
        """What was seen since the last take; the shard starts afresh."""
        if self.work is not None and self.work.backlog is not None:
            self.observer.attempts.add_backlog(self.work.backlog.take_counts())
        taken, self.observer = self.observer, self._new_observer()
        self.observer.recent = taken.take_recent()  # the sampler's, not the coordinator's
        self.taken_reports += taken.reports
        self.taken_failed += taken.failed
        self.taken_retries += taken.attempts.retries
        self.taken_throttled += taken.attempts.throttled()
        for counts in taken.outcomes.values():
            self.taken_outcomes.update(counts)
        samples, self.samples = self.samples, []
        return taken, samples

    def _sample_every_second(self, users: Callable[[], int]) -> None:
        last_outcomes: Counter = Counter()
        reports = failed = retries = throttled = 0
        last, cpu_last, wait_last = time.time(), time.process_time(), cpu_wait_seconds()
        self._offered_area, self._offered_mark = 0.0, last
        while True:
            gevent.sleep(1.0)
            now, cpu_now, wait_now = time.time(), time.process_time(), cpu_wait_seconds()
            recent = self.observer.take_recent()
            total = self.taken_reports + self.observer.reports
            failed_now = self.taken_failed + self.observer.failed
            retries_now = self.taken_retries + self.observer.attempts.retries
            throttled_now = self.taken_throttled + self.observer.attempts.throttled()
            work = self.work
            outcomes = self.taken_outcomes.copy()
            for counts in self.observer.outcomes.values():
                outcomes.update(counts)
            second = outcomes - last_outcomes
            elapsed = now - last
            corrected = percentiles_ms([r[1] for r in recent])
            service = percentiles_ms([r[2] for r in recent])
            self.samples.append(
                Sample(
                    t=now,
                    users=users(),
                    cpu=100 * (cpu_now - cpu_last) / elapsed,
                    cpu_wait=100 * (wait_now - wait_last) / elapsed,
                    offered=self._offered_since(last, now),
                    # answered: accepted and conforming; every other answer is an error
                    achieved=((total - reports) - (failed_now - failed)) / elapsed,
                    responses=total - reports,
                    errors=failed_now - failed,
                    in_flight_peak=self.in_flight_peak,
                    lateness_p99_ms=percentiles_ms([r[0] for r in recent])["p99"],
                    rss_mb=rss_mb(),
                    devices=len(self.devices_between(0, self.active)),
                    retries=retries_now - retries,
                    throttled=throttled_now - throttled,
                    backlog=work.backlog.pending if work and work.backlog else 0,
                    **{field: second[kind] for kind, field in OUTCOME_FIELDS.items()},
                    **{f"corrected_{p}_ms": ms for p, ms in corrected.items()},
                    **{f"service_{p}_ms": ms for p, ms in service.items()},
                )
            )
            reports, failed, last, cpu_last, last_outcomes = (
                total,
                failed_now,
                now,
                cpu_now,
                outcomes,
            )
            wait_last, self.in_flight_peak, retries = wait_now, self.in_flight, retries_now
            throttled = throttled_now


current: Shard | None = None
"""The shard this process simulates, once it has one."""
