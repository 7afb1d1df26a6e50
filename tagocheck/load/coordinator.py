"""The coordinator of a load run, where Locust's master (or its only process) runs.

Locust's event hooks (tagocheck.load.hooks) call into it and nothing else. It holds what lasts
as long as the Locust process (the target and fleet, tagocheck.load.provisioning; the limits;
the web UI's verdicts) and the current run (tagocheck.load.run), a new one for every swarm, whose
life moves through the states of tagocheck.load.lifecycle. The jobs of each state live in
modules of their own: the shards (shards), the ratelimit scenario's probes (probing), the
integrity read-back (readback), the judgment (judgment, thresholds) and the run directory
(writing).
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from locust.runners import MasterRunner

from tagocheck.fleet.integrity import run_tag, swarm_tag, traced_devices
from tagocheck.fleet.model import Fleet
from tagocheck.fleet.observe import FleetObserver
from tagocheck.fleet.timeline import Sample
from tagocheck.load import judgment, rundir, writing
from tagocheck.load.ending import (
    COMPLETED,
    CRASHED,
    INTERRUPTED,
    NOT_RUN,
    Ending,
    cause,
    could_not_start,
    write_not_run,
)
from tagocheck.load.lifecycle import State
from tagocheck.load.options import check_generator, fleet_config
from tagocheck.load.probing import Limits, set_up_probes
from tagocheck.load.provisioning import Provisioning
from tagocheck.load.run import LoadRun
from tagocheck.load.shard import ShardTerms
from tagocheck.load.shards import Shards
from tagocheck.load.stepping import Stepping, stepping_for

LOG = logging.getLogger("tagocheck")


class Coordinator:
    def __init__(self, environment: Any, scenario: str) -> None:
        self.environment = environment
        self.options = environment.parsed_options
        self.scenario = scenario
        self.distributed = isinstance(environment.runner, MasterRunner)
        self.web = environment.web_ui is not None and not self.options.autostart
        """Started with the web UI: each swarm is a run of its own, in a folder of the run
        directory (swarm-1, swarm-2, ...); headless or --autostart (one run the UI watches, as
        the Kubernetes operator starts it), the run directory is the run's."""
        self.home = Path(self.options.run_dir or f"reports/{time.strftime('%Y%m%d-%H%M%S')}")
        self.setup = Provisioning(self.options, scenario, self.say, web=self.web, home=self.home)
        self.window = self.setup.window
        self.limits = Limits()
        self.shards = Shards(environment, self.distributed)
        self.run_tag = run_tag()
        self.swarms = 0
        self.verdicts: list[dict[str, Any]] = []
        """Each swarm's verdict as it ended, for the web UI's page (webform.verdicts)."""
        self.run = LoadRun.begin(self.home)
        self.run_dir_kept: set[str] | None = None
        """What the run directory held before this run (None: it did not exist)."""
        self.cause_said = False
        """A run that could not start whose cause the entry point says in its one line (stderr,
        exit 2): the console gives its headline, not the path of a report that only repeats it."""

    def say(self, kind: str, message: str, **details: Any) -> None:
        """Print a line of the run's progress and put it in the events log; from the web UI,
        log it, so that it shows in the UI's log too."""
        if self.web:
            LOG.info(message)
        else:
            print(f"tagocheck {self.scenario}: {message}", flush=True)
        if self.run.owns_dir:
            self.run.events.note(kind, message, **details)

    # -- how the run is broken off -------------------------------------------------------------

    def could_not_prepare(self, error: BaseException) -> None:
        """Set-up at Locust's init failed: the entry point says why in its one line."""
        self.run.break_off(Ending(NOT_RUN, cause(error, self.environment.host)))
        self.cause_said = True
        self.finish()

    def fail(self, error: BaseException) -> None:
        """An error in set-up or the run: the run ends here, naming it (a run that raised never
        writes an all-clear)."""
        run = self.run
        going = run.life.has_been(State.RUNNING)
        how = CRASHED if going else NOT_RUN
        ending = Ending(how, cause(error, self.environment.host))
        run.break_off(ending)  # the error is said even when an earlier ending is the report's
        said = f"{'the run broke off' if going else 'cannot run'}: {ending.why}"
        if going or self.web:
            self.say("error", said)
        elif run.owns_dir:  # the headline says it on the console: once
            run.events.note("error", said)
        if self.web and self.environment.runner is not None:
            self.end_swarm()  # the UI stays, for a swarm that can run
        else:
            self._quit_soon()

    def interrupt(self, signal_name: str) -> None:
        """SIGINT or SIGTERM: stop the schedule and write what the run had."""
        self.run.break_off(Ending(INTERRUPTED, "interrupted", signal_name))
        self.say("interrupted", f"{signal_name}: stopping; the report will say what ran")
        self._quit_soon()

    def end_swarm(self) -> None:
        """The run is over: headless, Locust quits (and the run directory is written at
        quitting); from the web UI only the swarm stops, is written, and the UI waits for
        the next."""
        if self.web:
            gevent.spawn_later(0, self.environment.runner.stop)
        else:
            self.environment.runner.quit()

    def _quit_soon(self) -> None:
        gevent.spawn_later(0, quit_all, self.environment)

    def watch(self, greenlet: gevent.Greenlet) -> gevent.Greenlet:
        """A greenlet of the run whose error ends the run (rather than dying unseen)."""
        greenlet.link_exception(lambda dead: self.fail(dead.exception))
        self.run.greenlets.append(greenlet)
        return greenlet

    def _go_on(self, state: State) -> bool:
        """The run's next state on its own way forward; False once it was broken off (it goes on
        to its end, not forward: a swarm's users that finish spawning after a SIGINT start no
        schedule)."""
        life = self.run.life
        if life.has_been(State.INTERRUPTED) or life.has_been(State.CRASHED):
            return False
        self.run.move(state)
        return True

    # -- preparing and provisioning, at Locust's init --------------------------------------------

    def prepare(self) -> None:
        """Target and fleet, from the command line (the web form may still change the fleet)."""
        options, run = self.options, self.run
        rundir.empty_or_new(run.directory, getattr(options, "overwrite", False))
        self.run_dir_kept = rundir.entries(run.directory)
        rundir.make(run.directory)
        run.owns_dir = True
        check_generator(options, self.scenario, self.distributed)
        run.events.note("run", f"{self.scenario} run set up", distributed=self.distributed)
        self.environment.host = self.setup.set_up(self.environment.host)
        self.limits.plan = self.setup.plan
        if not self._go_on(State.PROVISIONING):
            return
        self.setup.provision(fleet_config(options).devices)
        if self._go_on(State.READY) and not self.web:
            writing.start_stats_history(self.environment, run)

    # -- starting, at test_start ---------------------------------------------------------------

    def start(self) -> None:
        """The fleet as the options now say (the web form may have changed them); every
        load-generating process gets its shard before its users start."""
        options, setup = self.options, self.setup
        config = fleet_config(options)
        if self.web:  # the web UI's next swarm: a run, and a run directory, of its own
            self.run = LoadRun.for_swarm(self.home / f"swarm-{self.swarms + 1}")
            writing.start_stats_history(self.environment, self.run)
        run = self.run
        if not self._go_on(State.STARTING):
            return
        if setup.embedded:  # the web form's empty host field must not unset the target's
            self.environment.host = setup.target.url
        setup.refuse_another_plan(options.plan)
        setup.provision(config.devices)
        run.fleet = Fleet(config, setup.senders(config))
        run.stepping = stepping_for(
            self.scenario,
            options,
            run.fleet,
            grow=self.shards.grow,
            samples=lambda: run.timeline.samples,
            say=self.say,
            distributed=self.distributed,
            idle=None if self.distributed else self.shards.idle,
        )
        self.limits.hold_devices_to(options.device_rpm, config)
        run.observer = FleetObserver(self.window)
        if self.scenario == "ratelimit":
            run.probes = set_up_probes(setup, run.fleet, self.limits, options, self.window)
        self._write_config()
        # a new tag per swarm: a second swarm from the web form numbers its reports from 0 again
        self.swarms += 1
        run.started_at = time.time()
        if self.scenario != "ratelimit":  # traced: reconciled one by one at the end
            run.traced = traced_devices(len(run.fleet), options.integrity_devices)
        terms = ShardTerms(
            window=self.window,
            per_device_ledger=bool(self.limits.devices),
            probes=run.probes if self.scenario == "ratelimit" else None,
            probe_factor=options.probe_factor,
            swarm_tag=swarm_tag(self.run_tag, self.swarms),
            traced=run.traced,
            **setup.path_access(config.via),
            active=self.first_devices(),
        )
        count = self.shards.hand_out(run, terms)
        if self.distributed:
            self.say("shards", f"{len(run.fleet):,} devices in {count} shards", workers=count)

    def _write_config(self) -> None:
        host, distributed = self.environment.host, self.distributed
        writing.write_config(self.run, self.options, self.scenario, self.setup, host, distributed)

    def first_devices(self) -> int:
        """Devices reporting from the start: all, or the first capacity step's."""
        run = self.run
        return run.stepping.first() if run.stepping is not None else len(run.fleet)

    # -- running, from spawning_complete -------------------------------------------------------

    def go(self) -> None:
        """The schedule starts once every gateway is up: a ramp still spawning users would make
        the first reports late for the generator's sake, not the target's. A run broken off
        or stopped before then (collecting already) never starts its schedule."""
        run = self.run
        if run.state != State.STARTING or not self._go_on(State.RUNNING):
            return
        self._write_config()  # once more: the shards are known now
        run.schedule_at = time.time()
        self.shards.begin()
        message, details = writing.schedule_line(
            self.scenario, self.setup.plan, run, self.window, self.first_devices()
        )
        self.say("schedule", message, **details)
        self.watch(gevent.spawn(self.shards.collect_every_second, run))
        if run.stepping is not None:
            self.watch(gevent.spawn(self._run_steps, run.stepping))

    def _run_steps(self, stepping: Stepping) -> None:
        """The steps, then the end of the swarm: a capacity run stops once its answer is found."""
        stepping.run()
        self.end_swarm()

    def absorb(self, observer: FleetObserver, samples: list[Sample]) -> None:
        """A worker's report: merged into the current run."""
        if self.run.observer is not None:
            self.shards.absorb(self.run, observer, samples)

    def on_final(self, worker: str, seen: tuple[FleetObserver, list[Sample]] | None) -> None:
        """A worker's last observations (None: it had no shard)."""
        if seen is not None:
            self.absorb(*seen)
        self.run.finals.add(worker)

    # -- collecting, judging, written, cleaned -------------------------------------------------

    def collect(self) -> None:
        """Every shard's last observations: its schedule stops, answers in flight are waited for.
        A run that never started has nothing to collect."""
        run = self.run
        if run.observer is None or run.life.has_been(State.COLLECTING):
            return
        if run.ending.how == NOT_RUN:
            return
        run.move(State.COLLECTING)
        self.shards.collect(run)

    def finish(self) -> None:
        """At quitting: the run (or the swarm still running) is written, and what was created
        is removed."""
        run = self.run
        if run.state == State.CLEANED:
            return
        try:
            if not self.web or run.observer is not None or self.swarms == 0:
                self.close_run()
        finally:
            self.setup.clean_up()
            if self.run.life.can(State.CLEANED):
                self.run.move(State.CLEANED)

    def close_run(self) -> None:
        """Integrity, findings, thresholds and the run directory, the report, and the exit
        status its verdict calls for. Whatever happened before, something is written: a run
        that could not start says why."""
        run = self.run
        if run.life.has_been(State.JUDGING) or run.state == State.CLEANED:
            return
        for greenlet in run.greenlets:
            greenlet.kill(block=False)
        runner = self.environment.runner
        # asked to quit while the users still run: Locust's SIGTERM shutdown
        midrun = runner is not None and runner.state in ("running", "spawning")
        if run.ending.how == COMPLETED and run.life.has_been(State.RUNNING) and midrun:
            run.break_off(Ending(INTERRUPTED, "interrupted", "SIGTERM"))
        if not run.owns_dir:
            return
        if run.ending.how == NOT_RUN and not self.web:
            self._abandon()
            return
        if run.observer is None:
            run.move(State.JUDGING)
            write_not_run(run.directory, self.scenario, run.ending)
        else:
            try:
                self.collect()
                run.move(State.JUDGING)
                judgment.judge_and_write(
                    run,
                    self.scenario,
                    self.options,
                    self.limits,
                    self.setup,
                    traced=run.traced,
                    run_tag=self.run_tag,
                    environment=self.environment,
                    say=self.say,
                )
            except Exception as error:  # the end itself failed: still say so
                run.break_off(Ending(CRASHED, cause(error)))
                self.say("error", f"could not finish the run: {run.ending.why}")
                write_not_run(run.directory, self.scenario, run.ending)
        self._verdict()
        run.move(State.WRITTEN)

    def _abandon(self) -> None:
        """A run that could not start leaves nothing behind (what it created on the target is
        removed by the clean-up) and says why in one line on stderr, exit status 2."""
        rundir.take_back(self.run.directory, self.run_dir_kept)
        self.run.owns_dir = False
        self.environment.process_exit_code = 2
        if not self.cause_said:  # an init-time failure is said by the hooks, once
            self.cause_said = True
            why = could_not_start(self.run.ending.why)
            print(f"tagocheck {self.scenario}: {why}", file=sys.stderr)

    def _verdict(self) -> None:
        """The report, its headline on the console, and the exit status it calls for."""
        found = writing.report_and_verdict(self.run, self.say, name_report=not self.cause_said)
        self.environment.process_exit_code = 1 if found is None else found.exit_code
        if found is not None:
            self.verdicts.append(writing.say_verdict(found, self.run, self.swarms, self.say))


def quit_all(environment: Any) -> None:
    """Stop Locust as its own end of a run does: the runner (and with it the headless run),
    and the web UI, so the process goes on to write the run directory and exit."""
    if environment.runner is not None:
        environment.runner.quit()
    if environment.web_ui is not None:
        environment.web_ui.stop()
