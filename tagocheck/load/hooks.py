"""Where Locust's events meet the coordinator and the shards.

A locustfile calls use(scenario) and imports its user class; the rest happens here:

    init            master or lone runner: the coordinator sets up target and fleet
                    worker: listens for its shard
    test_start      the coordinator hands out shards (in messages, before any user spawns)
    spawning_complete  the schedules start
    report_to_master   a worker sends what its shard saw since its last report
    test_stopping   before users stop: the schedules stop, answers in flight are waited for, and
                    the master asks every worker for its last observations and waits for them
    quitting        the coordinator writes the run directory and removes what it created
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Any

import gevent
import psutil
from locust import events
from locust.runners import WorkerRunner

from tagocheck.load import options as load_options
from tagocheck.load import shard as this_process
from tagocheck.load import shards, webform
from tagocheck.load.coordinator import Coordinator
from tagocheck.load.ending import NOT_RUN, could_not_start
from tagocheck.load.workers import wait_longer_for_workers


class Scenario:
    name = "fleet"
    coordinator: Coordinator | None = None


def use(scenario: str) -> None:
    """Called by a locustfile: which scenario this Locust run is."""
    if scenario not in load_options.SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}")
    Scenario.name = scenario
    wait_longer_for_workers()


def _cannot_run(environment: Any, message: str) -> None:
    """Set-up failed before Locust ran anything: one line, exit status 2. The workers that
    --processes forked before set-up are stopped by their PIDs (they would wait for this
    master for ever)."""
    if environment.runner is not None:
        environment.runner.quit()
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            child.kill()
    print(f"tagocheck {Scenario.name}: {could_not_start(message)}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def _on_signals(coordinator: Coordinator) -> Any:
    """SIGINT stops the run as its end would: the schedule stops, what it had is reconciled and
    written, the report says it was interrupted (exit 130). A second SIGINT exits at once.
    SIGTERM while the run is being prepared (the embedded target starting, devices made) does
    the same; once Locust runs, SIGTERM goes through Locust's own shutdown, which the
    coordinator tells by the runner still running when it is asked to quit: the returned
    watcher is cancelled then. (CI once sent SIGTERM while a busy machine was still seeding
    the target: Locust died by it and left the target running.)"""
    state = {"count": 0}

    def on_signal(name: str) -> None:
        state["count"] += 1
        if state["count"] > 1:
            print(f"tagocheck {Scenario.name}: interrupted twice: exiting now", flush=True)
            os._exit(130)
        coordinator.interrupt(name)

    gevent.signal_handler(signal.SIGINT, on_signal, "SIGINT")
    return gevent.signal_handler(signal.SIGTERM, on_signal, "SIGTERM")


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    load_options.add_arguments(parser, Scenario.name)
    load_options.bound_locust_arguments(parser)


@events.init.add_listener
def _on_init(environment: Any, **_kwargs: Any) -> None:
    if environment.parsed_options is None:
        return
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        _listen_as_worker(environment)
        return
    coordinator = Coordinator(environment, Scenario.name)
    Scenario.coordinator = coordinator
    # from the start: a signal while the target starts stops it too
    preparing_sigterm = _on_signals(coordinator)
    try:
        coordinator.prepare()
    except Exception as error:  # whatever it was, the run cannot go on: say why, in one line
        coordinator.could_not_prepare(error)
        _cannot_run(environment, coordinator.run.ending.why)
    finally:
        preparing_sigterm.cancel()  # Locust's own SIGTERM shutdown from here
    if environment.web_ui is not None:
        webform.guard(
            environment,
            lambda values: webform.problems_of_swarm(values, coordinator.setup, environment.runner),
            lambda: coordinator.verdicts,
            Scenario.name,
        )
    if runner is not None and coordinator.distributed:
        runner.register_message(shards.FINAL, _on_final)

        @events.worker_report.add_listener
        def _on_worker_report(client_id: str, data: dict[str, Any]) -> None:
            report = data.get("tagocheck")
            if report is not None:
                coordinator.absorb(*shards.from_wire(report))


@events.test_start.add_listener
def _on_test_start(environment: Any, **_kwargs: Any) -> None:
    coordinator = Scenario.coordinator
    if coordinator is None or isinstance(environment.runner, WorkerRunner):
        return
    try:
        coordinator.start()
    except Exception as error:  # a set-up that raised ends the run, never an idle one
        coordinator.fail(error)


@events.spawning_complete.add_listener
def _on_spawning_complete(**_kwargs: Any) -> None:
    coordinator = Scenario.coordinator
    if (
        coordinator is not None
        and coordinator.run.fleet is not None
        and coordinator.run.ending.how != NOT_RUN
    ):
        try:
            coordinator.go()
        except Exception as error:
            coordinator.fail(error)


@events.test_stopping.add_listener
def _on_test_stopping(environment: Any, **_kwargs: Any) -> None:
    coordinator = Scenario.coordinator
    if coordinator is not None and not isinstance(environment.runner, WorkerRunner):
        try:
            coordinator.collect()
        except Exception as error:
            coordinator.fail(error)


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_kwargs: Any) -> None:
    """From the web UI a swarm's end is its run's: written now, not when Locust quits."""
    coordinator = Scenario.coordinator
    if (
        coordinator is not None
        and coordinator.web
        and not isinstance(environment.runner, WorkerRunner)
    ):
        coordinator.close_run()


@events.quitting.add_listener
def _on_quitting(environment: Any, **_kwargs: Any) -> None:
    if Scenario.coordinator is not None:
        Scenario.coordinator.finish()


# -- the worker's side -------------------------------------------------------------------------


def _listen_as_worker(environment: Any) -> None:
    runner = environment.runner

    def on_shard(environment: Any, msg: Any, **_kwargs: Any) -> None:
        this_process.current = shards.shard_from_wire(msg.data)

    def on_go(environment: Any, msg: Any, **_kwargs: Any) -> None:
        if this_process.current is not None:
            this_process.current.begin(lambda: runner.user_count)

    def on_grow(environment: Any, msg: Any, **_kwargs: Any) -> None:
        if this_process.current is not None:
            this_process.current.grow(msg.data["active"])

    def on_finish(environment: Any, msg: Any, **_kwargs: Any) -> None:
        shard = this_process.current
        if shard is None:
            runner.send_message(shards.FINAL, None)
            return
        shard.stop()
        shard.settle()
        runner.send_message(shards.FINAL, shards.to_wire(*shard.take()))

    runner.register_message(shards.SHARD, on_shard)
    runner.register_message(shards.GO, on_go)
    runner.register_message(shards.GROW, on_grow)
    runner.register_message(shards.FINISH, on_finish, concurrent=True)

    @events.report_to_master.add_listener
    def _report(client_id: str, data: dict[str, Any]) -> None:
        if this_process.current is not None:
            data["tagocheck"] = shards.to_wire(*this_process.current.take())


def _on_final(environment: Any, msg: Any, **_kwargs: Any) -> None:
    coordinator = Scenario.coordinator
    if coordinator is None:
        return
    seen = None if msg.data is None else shards.from_wire(msg.data)
    coordinator.on_final(msg.node_id, seen)
