"""The coordinator's side of the shards: each load-generating process is handed its shard, told
to start and to grow, and its observations are merged into the run (every second from this
process's own shard, with each worker report from a worker's, and once more at the end).

Without workers the one shard lives in this process (tagocheck.load.shard.current) and is merged
the same way, only without the messages.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import gevent

from tagocheck.fleet.model import Fleet, FleetConfig, Interval, NetworkAccess, TipAccess
from tagocheck.fleet.observe import FleetObserver
from tagocheck.fleet.probes import Probe
from tagocheck.fleet.timeline import Sample
from tagocheck.load import shard as this_process
from tagocheck.load.ending import CRASHED, Ending
from tagocheck.load.run import LoadRun
from tagocheck.load.shard import Shard, ShardTerms
from tagocheck.load.workers import workers_lost

SHARD, GO, GROW, FINISH, FINAL = (
    "tagocheck:shard",
    "tagocheck:go",
    "tagocheck:grow",
    "tagocheck:finish",
    "tagocheck:final",
)
FINAL_WAIT_SECONDS = 20.0
# Worker samples arrive with their reports (every 3 s): seconds this far back are complete.
SETTLED_SECONDS = {True: 8.0, False: 2.0}


def config_to_wire(config: FleetConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def config_from_wire(data: dict[str, Any]) -> FleetConfig:
    return FleetConfig(**{**data, "interval": Interval(**data["interval"])})


def to_wire(observer: FleetObserver, samples: list[Sample]) -> dict[str, Any]:
    return {"observer": observer.to_wire(), "samples": [s.as_dict() for s in samples]}


def from_wire(data: dict[str, Any]) -> tuple[FleetObserver, list[Sample]]:
    return FleetObserver.from_wire(data["observer"]), [Sample.from_dict(s) for s in data["samples"]]


def terms_to_wire(terms: ShardTerms, index: int, count: int) -> dict[str, Any]:
    """One worker's terms: the probes all go to the first shard, each traced device to its own."""
    data = dataclasses.asdict(terms)
    if terms.probes is not None:
        data["probes"] = [p.as_dict() for p in terms.probes] if index == 0 else []
    data["traced"] = [d for d in terms.traced if d % count == index]
    return data


def terms_from_wire(data: dict[str, Any]) -> ShardTerms:
    probes, network, tip = data["probes"], data["network"], data.get("tip")
    return ShardTerms(
        **{
            **data,
            "probes": None if probes is None else [Probe(**p) for p in probes],
            "network": None if network is None else NetworkAccess(**network),
            "tip": None if tip is None else TipAccess(**tip),
        }
    )


def make_shard(fleet: Fleet, index: int, count: int, terms: ShardTerms) -> Shard:
    """This process's shard of the fleet, on its terms, ready for its schedule to begin."""
    shard = Shard(fleet, index, count, terms)
    shard.prepare(terms.active)
    return shard


def shard_from_wire(data: dict[str, Any]) -> Shard:
    """A worker's shard from its SHARD message."""
    config = config_from_wire(data["config"])
    senders = [""] * config.devices
    senders[data["index"] :: data["count"]] = data["senders"]
    terms = terms_from_wire(data["terms"])
    return make_shard(Fleet(config, senders), data["index"], data["count"], terms)


class Shards:
    def __init__(self, environment: Any, distributed: bool) -> None:
        self.environment = environment
        self.distributed = distributed

    def hand_out(self, run: LoadRun, terms: ShardTerms) -> int:
        """Every load-generating process's shard, before its users start; returns how many."""
        fleet = run.fleet
        if not self.distributed:
            this_process.current = make_shard(fleet, 0, 1, terms)
            return 1
        runner = self.environment.runner
        workers = sorted(
            w.id for w in runner.clients.ready + runner.clients.running + runner.clients.spawning
        )
        run.shards = {worker: index for index, worker in enumerate(workers)}
        count = len(workers)
        for worker, index in run.shards.items():
            message = {
                "index": index,
                "count": count,
                "config": config_to_wire(fleet.config),
                "senders": list(fleet.senders[index::count]),
                "terms": terms_to_wire(terms, index, count),
            }
            runner.send_message(SHARD, message, worker)
        return count

    def begin(self) -> None:
        """Every shard's schedule starts."""
        if self.distributed:
            self.environment.runner.send_message(GO)
        else:
            this_process.current.begin(lambda: self.environment.runner.user_count)

    def grow(self, active: int) -> None:
        """The next capacity step: `active` devices report."""
        if self.distributed:
            self.environment.runner.send_message(GROW, {"active": active})
        else:
            this_process.current.grow(active)

    def idle(self) -> bool:
        """This process's shard has nothing in flight (not known for workers)."""
        return this_process.current.in_flight == 0

    @staticmethod
    def absorb(run: LoadRun, observer: FleetObserver, samples: list[Sample]) -> None:
        run.observer.merge(observer)
        for sample in samples:
            run.timeline.add(sample)

    def collect_every_second(self, run: LoadRun) -> None:
        while True:
            gevent.sleep(1.0)
            if not self.distributed and this_process.current is not None:
                self.absorb(run, *this_process.current.take())
            run.timeline.flush(time.time() - SETTLED_SECONDS[self.distributed])

    def collect(self, run: LoadRun) -> None:
        """Every shard's last observations: its schedule stops, answers in flight are waited
        for (a worker's come in its FINAL message, up to FINAL_WAIT_SECONDS)."""
        if not self.distributed:
            shard = this_process.current
            if shard is not None:
                shard.stop()
                shard.settle()
                self.absorb(run, *shard.take())
            return
        lost = workers_lost(self.environment.runner)
        if lost:  # Locust's master stopped the test: the run broke off, for the generator's sake
            run.break_off(Ending(CRASHED, lost))
        self.environment.runner.send_message(FINISH)
        deadline = time.time() + FINAL_WAIT_SECONDS
        while set(run.shards) - run.finals and time.time() < deadline:
            gevent.sleep(0.1)
        missing = set(run.shards) - run.finals
        if missing:
            print(
                f"tagocheck load: {len(missing)} workers sent no final report; their last "
                "seconds are missing"
            )
