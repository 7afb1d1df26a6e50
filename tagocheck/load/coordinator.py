"""The coordinator of a load run, where Locust's master (or its only process) runs.

It puts the fleet on the target (starting the embedded one when there is no --host), gives every
load-generating process its shard, merges what the shards saw (HDR histograms, outcomes, the
rate-limit ledger, acknowledged records, per-second samples), brings capacity steps in, and at the
end reconciles integrity, judges the thresholds and writes the run directory. Without workers the
one shard lives in this process and is merged the same way, only without the messages.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import importlib.metadata
import json
import logging
import math
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
import gevent.pool
from locust.runners import MasterRunner
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV, StatsCSVFileWriter

from tagocheck.fleet.integrity import (
    check_times,
    reconcile,
    run_tag,
    summarise,
    traced_devices,
)
from tagocheck.fleet.integrity import problems as integrity_problems
from tagocheck.fleet.ledger import PROFILE
from tagocheck.fleet.model import Fleet, FleetConfig, Interval, NetworkAccess
from tagocheck.fleet.observe import FleetObserver
from tagocheck.fleet.outage import OUTSIDE
from tagocheck.fleet.outage import results as outage_results
from tagocheck.fleet.outage import spans as outage_spans
from tagocheck.fleet.paths import NETWORK_INGEST, ROUTES
from tagocheck.fleet.probes import (
    BESIDE_UPLINKS,
    NOT_DRIVEN,
    Probe,
    first_probed_window,
    network_sharing,
    plan_probes,
)
from tagocheck.fleet.provision import (
    ProvisionedDevice,
    create_devices,
    read_fleet_file,
    remove_devices,
    write_fleet_file,
)
from tagocheck.fleet.timeline import Sample, Timeline, drift
from tagocheck.judge import checks
from tagocheck.load import rundir
from tagocheck.load import shard as this_process
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
from tagocheck.load.eventlog import EventLog
from tagocheck.load.options import fleet_config
from tagocheck.load.progress import counting, on_a_terminal
from tagocheck.load.shard import Shard
from tagocheck.load.stepping import Stepping, plan_for
from tagocheck.options import OPTIONS, OptionError, check_step, check_users
from tagocheck.redact import redact_token
from tagocheck.server.launcher import start_target
from tagocheck.spec import ratelimits
from tagocheck.wire import reach
from tagocheck.wire.client import TagoClient
from tagocheck.words import counted

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
LOG = logging.getLogger("tagocheck")
READ_BACK_PAGE = 10_000
"""Records per GET /data when the integrity check reads a device's back: the documented most."""


class RunError(RuntimeError):
    """A run that cannot start; the message is the one line the user sees."""


def config_to_wire(config: FleetConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def config_from_wire(data: dict[str, Any]) -> FleetConfig:
    return FleetConfig(**{**data, "interval": Interval(**data["interval"])})


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
        self.window = self.options.rate_window or 60.0
        self.plan = ratelimits.NO_PLAN
        self.target = None
        self.state_dir: tempfile.TemporaryDirectory | None = None
        self.client: TagoClient | None = None
        self.profile_token: str | None = None
        self.devices: list[ProvisionedDevice] = []
        self.created: list[ProvisionedDevice] = []
        self.network: NetworkAccess | None = None
        """What the network path posts with, when the fleet's path is the network."""
        self.device_limits: dict[tuple[str, str], int] = {}
        self.run_tag = run_tag()
        self.swarms = 0
        self.verdicts: list[dict[str, Any]] = []
        """Each swarm's verdict as it ended, for the web UI's page (webform.verdicts)."""
        self.finished = False
        self._begin_run(self.home)
        self.run_dir_ours = False
        self.run_dir_kept: set[str] | None = None
        """What the run directory held before this run (None: it did not exist)."""
        """Set once the run directory is known to be this run's: nothing is written before."""
        self.cause_said = False
        """A run that could not start whose cause the entry point says in its one line (stderr,
        exit 2): the console gives its headline, not the path of a report that only repeats it."""

    def _begin_run(self, run_dir: Path) -> None:
        """A run's own state, all of it new: at start, and for each swarm from the web UI."""
        self.run_dir = run_dir
        self.run_dir_ours = True
        self.ending = Ending()
        self.fleet: Fleet | None = None
        self.probes: list[Probe] = []
        self.started_at = 0.0
        self.schedule_at = 0.0
        """When the schedule started: outages are timed from it."""
        self.observer: FleetObserver | None = None
        self.timeline = Timeline(run_dir / "timeline.jsonl")
        self.events = EventLog(run_dir / "events.jsonl")
        self.stepping: Stepping | None = None
        self.shards: dict[str, int] = {}
        self.finals: set[str] = set()
        self.going = False
        self.collected = False
        self.closed = False
        self.greenlets: list[gevent.Greenlet] = []
        self.csv_writer: StatsCSVFileWriter | None = None

    def _begin_swarm(self) -> None:
        """The web UI's next swarm: a run directory of its own under the one given."""
        if not self.web:
            return
        self._begin_run(self.home / f"swarm-{self.swarms + 1}")
        rundir.empty_or_new(self.run_dir, True)
        rundir.make(self.run_dir)
        self._write_stats_history()

    def _write_stats_history(self) -> None:
        self.csv_writer = StatsCSVFileWriter(
            self.environment, PERCENTILES_TO_REPORT, str(self.run_dir / "locust"), full_history=True
        )
        self.greenlets.append(gevent.spawn(self.csv_writer.stats_writer))

    def say(self, kind: str, message: str, **details: Any) -> None:
        """Print a line of the run's progress and put it in the events log; from the web UI,
        log it, so that it shows in the UI's log too."""
        if self.web:
            LOG.info(message)
        else:
            print(f"tagocheck {self.scenario}: {message}", flush=True)
        if self.run_dir_ours:
            self.events.note(kind, message, **details)

    # -- how the run ends ----------------------------------------------------------------------

    def fail(self, error: BaseException) -> None:
        """An error in set-up or the run: the run ends here, naming it (a run that raised never
        writes an all-clear)."""
        how = CRASHED if self.going else NOT_RUN
        self.ending = self.ending.then(Ending(how, cause(error, self.environment.host)))
        said = f"{'the run broke off' if self.going else 'cannot run'}: {self.ending.why}"
        if self.going or self.web:
            self.say("error", said)
        elif self.run_dir_ours:  # the headline says it on the console: once
            self.events.note("error", said)
        if self.web and self.environment.runner is not None:
            self.end_swarm()  # the UI stays, for a swarm that can run
        else:
            self._quit_soon()

    def interrupt(self, signal_name: str) -> None:
        """SIGINT or SIGTERM: stop the schedule and write what the run had."""
        self.ending = self.ending.then(Ending(INTERRUPTED, "interrupted", signal_name))
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
        """Stop Locust as its own end of a run does: the runner (and with it the headless run),
        and the web UI, so the process goes on to write the run directory and exit."""
        environment = self.environment

        def quit_all() -> None:
            if environment.runner is not None:
                environment.runner.quit()
            if environment.web_ui is not None:
                environment.web_ui.stop()

        gevent.spawn_later(0, quit_all)

    def watch(self, greenlet: gevent.Greenlet) -> gevent.Greenlet:
        """A greenlet of the run whose error ends the run (rather than dying unseen)."""
        greenlet.link_exception(lambda dead: self.fail(dead.exception))
        self.greenlets.append(greenlet)
        return greenlet

    # -- set-up, at Locust's init ------------------------------------------------------------

    def prepare(self) -> None:
        """Target and fleet, from the command line (the web form may still change the fleet)."""
        options = self.options
        config = fleet_config(options)
        rundir.empty_or_new(self.run_dir, getattr(options, "overwrite", False))
        self.run_dir_kept = rundir.entries(self.run_dir)
        rundir.make(self.run_dir)
        self.run_dir_ours = True
        self._check_generator()
        rpm = options.device_rpm or None
        self.events.note("run", f"{self.scenario} run set up", distributed=self.distributed)
        if not self.environment.host:
            self.plan = options.plan or ("free" if self.scenario == "ratelimit" else "none")
            self._check_plan()
            self.state_dir = tempfile.TemporaryDirectory(prefix="tagocheck-load-target-")
            seed = ["--seed-devices", str(config.devices)]
            if rpm:
                seed += ["--seed-device-rpm", str(rpm)]
            # The embedded target seeds the fleet itself: a million devices in one commit, not
            # a million API calls.
            self.target = start_target(
                Path(self.state_dir.name),
                "--plan",
                ratelimits.served_plan(self.plan),
                "--rate-window-seconds",
                str(self.window),
                *seed,
                timeout=900,
            )
            self.environment.host = self.target.url
            self.profile_token = self.target.profile_token
            self.devices = read_fleet_file(Path(self.target.info["fleet_file"]))
            info = self.target.info
            self.network = NetworkAccess(info["network_token"], info["authorization"])
            self.say(
                "target",
                f"embedded target at {self.target.url}, plan {self.plan}, "
                f"{len(self.devices):,} devices seeded",
            )
        else:
            self.plan = options.plan or "free"
            self._check_plan()
            self.profile_token = options.profile_token or None
            if options.network_token and options.authorization:
                self.network = NetworkAccess(options.network_token, options.authorization)
            elif config.via == "network":
                raise RunError(
                    "--via network on --host needs --network-token and --authorization (the "
                    "profile's authorization key: the route takes it as authorization_token)"
                )
        self.client = TagoClient(
            self.environment.host, verify=options.ca_cert or True, ssl_false=options.ssl_false
        )
        if self.target is None:
            if options.fleet_file:
                self.devices = read_fleet_file(Path(options.fleet_file))
            elif not self.profile_token:
                raise RunError("--host needs --profile-token or --fleet-file")
            self._reachable()
        self._provision(config.devices)
        if not self.web:
            self._write_stats_history()

    def _is_our_plan(self, text: str) -> bool:
        """Whether a plan the web form or options name is the one this run holds to."""
        try:
            return ratelimits.parse_plan(text) == self.plan
        except ratelimits.UnknownPlan:
            return False

    def _check_plan(self) -> None:
        try:
            self.plan = ratelimits.parse_plan(self.plan)
        except ratelimits.UnknownPlan as error:
            raise RunError(error.args[0]) from None

    def _check_generator(self) -> None:
        """Locust's own -u and --processes, held to what this machine can run."""
        options = self.options
        processes = getattr(options, "processes", None) or 0
        cores = os.cpu_count() or 1
        if processes > cores:
            raise RunError(f"--processes {processes}: this machine has {cores} cores")
        if self.distributed and processes == 0:
            return  # workers of its own elsewhere: how many is not known yet
        try:
            check_users(options.num_users or 1, cores if processes == -1 else processes)
            if self.scenario == "capacity":
                check_step(options.step_seconds, fleet_config(options).interval)
        except OptionError as error:
            raise RunError(str(error)) from None

    def _reachable(self) -> None:
        """One GET /info before anything else: a target that does not answer HTTP, or refuses
        the token, stops the run here, in one line, instead of failing every report."""
        token, kind = (
            (self.profile_token, "profile")
            if self.profile_token
            else (self.devices[0].token if self.devices else None, "device-full")
        )
        tokens = [(token, kind)]
        if fleet_config(self.options).via == "network" and self.network is not None:
            tokens.append((self.network.token, "network"))
        for token, kind in tokens:
            try:
                reach.probe(
                    self.environment.host,
                    token,
                    kind,
                    verify=self.options.ca_cert or True,
                    ssl_false=self.options.ssl_false,
                    timeout=min(self.options.request_timeout, reach.PROBE_TIMEOUT),
                    say=lambda line: print(f"tagocheck {self.scenario}: {line}", flush=True),
                )
            except reach.Unreachable as error:
                raise RunError(str(error)) from None

    def _provision(self, count: int) -> None:
        """Make sure there are `count` devices: create the missing ones with the profile token."""
        missing = count - len(self.devices)
        if missing <= 0:
            return
        if not self.profile_token or (self.options.fleet_file and self.target is None):
            raise RunError(f"the fleet file has {len(self.devices)} devices, --devices is {count}")
        self.say("provision", f"creating {missing:,} devices on the target")
        prefix = f"tagocheck-fleet-{time.strftime('%Y%m%d%H%M%S')}-"
        with self._counting("provision", "created", missing) as progress:
            made = create_devices(
                self.client,
                self.profile_token,
                missing,
                prefix,
                progress,
                rpm_input=self.options.device_rpm or None,
                first=len(self.devices),
                network=self._network_of_devices(),
            )
        self.devices += made
        if self.target is None:
            self.created += made
            write_fleet_file(self.home / "fleet.json", self.created)

    def _counting(self, kind: str, verb: str, total: int):
        """Devices created or removed so far: a bar on a terminal, lines in a log or the web
        UI's (tagocheck.load.progress)."""
        return counting(
            f"{verb} devices",
            total,
            lambda done: self.say(kind, f"{verb} {done:,} of {total:,} devices"),
            terminal=on_a_terminal() and not self.web,
        )

    def _network_of_devices(self) -> dict[str, str] | None:
        """What devices a network posts for are created with: a serial always (the embedded
        target's one network needs no more); on --host, the network the token is of (GET /info
        with the network token says, [C]) and --connector when given."""
        if fleet_config(self.options).via != "network" or self.network is None:
            return None
        if self.target is not None:
            return {}
        info = self.client.request(
            "GET", "/info", token=self.network.token, token_kind="network", check=False
        )
        found: dict[str, str] = {}
        if info.ok and isinstance(info.result, dict) and isinstance(info.result.get("id"), str):
            found["network"] = info.result["id"]
        if self.options.connector:
            found["connector"] = self.options.connector
        return found

    def senders(self, config: FleetConfig) -> list[str]:
        """What names each device on the fleet's path: its token, or (network) its serial."""
        devices = self.devices[: config.devices]
        if config.via != "network":
            return [d.token for d in devices]
        if self.network is None:
            raise RunError("--via network needs --network-token and --authorization")
        unnamed = sum(1 for d in devices if not d.serial)
        if unnamed:
            raise RunError(
                f"--via network: {unnamed:,} of the {len(devices):,} devices have no serial "
                'for the network to name them by (a fleet file entry needs "serial")'
            )
        return [d.serial for d in devices]

    def not_driven(self) -> dict[str, str]:
        """The routes the ratelimit scenario leaves alone, and why."""
        if self.fleet is not None and self.fleet.config.via == "network":
            return {k: v for k, v in NOT_DRIVEN.items() if k != NETWORK_INGEST}
        return NOT_DRIVEN

    def problems_of_swarm(self, values: dict[str, str]) -> list[str]:
        """What the web form asks that this run cannot do (its values already checked one by
        one): another plan than the embedded target's, more devices than a fleet file has."""
        problems = []
        plan = values.get("plan", "")
        if self.target is not None and plan and not self._is_our_plan(plan):
            problems.append(
                f"Rate-limit plan: the embedded target runs plan {self.plan}; restart Locust "
                f"with --plan {plan} to hold it to that one"
            )
        devices = int(values.get("devices", len(self.devices)) or 0)
        if devices > len(self.devices) and not self.profile_token:
            problems.append(
                f"Devices in the fleet: the fleet file has {len(self.devices):,} devices and "
                "there is no profile token to create more"
            )
        if self.environment.runner is not None and self.environment.runner.state in (
            "running",
            "spawning",
        ):
            problems.append("a swarm is running: stop it first (each swarm is a run of its own)")
        return problems

    # -- a swarm starts, at test_start ---------------------------------------------------------

    def start(self) -> None:
        """The fleet as the options now say (the web form may have changed them); every
        load-generating process gets its shard before its users start."""
        options = self.options
        config = fleet_config(options)
        self._begin_swarm()
        if self.target is not None:
            # the web form's empty host field must not unset the embedded target's
            self.environment.host = self.target.url
            if options.plan and not self._is_our_plan(options.plan):
                raise RunError(
                    f"the embedded target was started with plan {self.plan}; restart Locust "
                    f"with --plan {options.plan}"
                )
        self._provision(config.devices)
        self.fleet = Fleet(config, self.senders(config))
        self.stepping = self._stepping()
        network = self.network if config.via == "network" else None
        if self.options.device_rpm and config.via == "device":
            for index in range(config.devices):
                self.device_limits[(str(index), "POST /data")] = self.options.device_rpm
        if self.observer is None:
            self.observer = FleetObserver(self.window)
        probes = self.probes = self._probes() if self.scenario == "ratelimit" else []
        self._write_config()
        per_device = bool(self.device_limits)
        # a new tag per swarm: a second swarm from the web form numbers its reports from 0 again
        self.swarms += 1
        self.started_at = time.time()
        swarm_tag = f"{self.run_tag}.{self.swarms}"
        traced = self.traced()
        if not self.distributed:
            this_process.current = Shard(
                self.fleet,
                0,
                1,
                window_seconds=self.window,
                per_device_ledger=per_device,
                probes=probes if self.scenario == "ratelimit" else None,
                probe_factor=self.options.probe_factor,
                swarm_tag=swarm_tag,
                traced=traced,
                network=network,
            )
            this_process.current.prepare(self.first_devices())
            return
        runner = self.environment.runner
        workers = sorted(
            w.id for w in runner.clients.ready + runner.clients.running + runner.clients.spawning
        )
        self.shards = {worker: index for index, worker in enumerate(workers)}
        senders = self.fleet.senders
        for worker, index in self.shards.items():
            runner.send_message(
                SHARD,
                {
                    "index": index,
                    "count": len(workers),
                    "config": config_to_wire(config),
                    "senders": list(senders[index :: len(workers)]),
                    "network": None if network is None else dataclasses.asdict(network),
                    "window": self.window,
                    "per_device_ledger": per_device,
                    "active": self.first_devices(),
                    "probes": None
                    if self.scenario != "ratelimit"
                    else [p.as_dict() for p in probes]
                    if index == 0
                    else [],
                    "probe_factor": self.options.probe_factor,
                    "swarm_tag": swarm_tag,
                    "traced": [d for d in traced if d % len(workers) == index],
                },
                worker,
            )
        self.say(
            "shards", f"{len(self.fleet):,} devices in {len(workers)} shards", workers=len(workers)
        )

    def _probes(self) -> list[Probe]:
        """The ratelimit scenario's probes, with a record to edit and a device with its own rpm."""
        if len(self.devices) < 2:
            raise RunError("the ratelimit scenario needs --devices 2 or more")
        first, second = self.devices[0], self.devices[1]
        if self.profile_token:
            # PUT /data needs a mutable device; the fleet's are immutable, like most devices
            prefix = f"tagocheck-probe-{time.strftime('%Y%m%d%H%M%S')}-"
            first = create_devices(
                self.client, self.profile_token, 1, prefix, device_type="mutable"
            )[0]
            self.created.append(first)
        record = self._probe_record(first.token)
        plan_limit = ratelimits.rate_limits().per_minute(self.plan, "POST /data") or 0
        rpm = self.options.device_rpm or min(20, plan_limit)
        rpm_device = None
        if self.profile_token and rpm:
            done = self.client.request(
                "PUT",
                f"/device/{second.id}",
                token=self.profile_token,
                token_kind="profile",
                json={"rpm": {"data_input": rpm, "data_output": rpm}},
            )
            if done.ok:
                rpm_device = (1, second.token)
                self.device_limits[("1", "POST /data")] = rpm
                self.device_limits[("1", "GET /data")] = rpm
        network = None
        if self.fleet.config.via == "network" and self.network is not None:
            serial = self.fleet.senders[0]
            network = (self.network.token, self.network.authorization, serial)
        return plan_probes(
            self.plan,
            profile_token=self.profile_token or "",
            device=(first.id, first.token),
            record_id=record,
            rpm_device=rpm_device,
            rpm=rpm,
            network=network,
        )

    def _probe_record(self, token: str) -> str:
        """A record for PUT /data to edit: written, then read back for its id."""
        sent = self._setup_request("POST", "/data", token, json=[{"variable": "probe", "value": 1}])
        read = self._setup_request("GET", "/data", token, params={"variables": "probe", "qty": 1})
        if sent.ok and read.ok and read.result:
            return read.result[0]["id"]
        failed, what = (sent, "POST /data") if not sent.ok else (read, "GET /data")
        said = f": {failed.message}" if failed.message else ""
        if failed is read and read.ok:
            said = ": no record came back"
        raise RunError(
            f"could not write and read a probe record: {what} HTTP {failed.status}{said}"
        )

    def _setup_request(self, method: str, path: str, token: str, tries: int = 8, **kwargs: Any):
        """A set-up request with a device token; a server error is tried again, as the official
        SDKs retry 5xx (a failing target fails the run's probes, not its set-up)."""
        for _ in range(tries):
            reply = self.client.request(
                method, path, token=token, token_kind="device-full", **kwargs
            )
            if reply.verdict.outcome != checks.SERVER_ERROR:
                break
            gevent.sleep(0.2)
        return reply

    def _write_config(self) -> None:
        options = self.options
        settings = {k: v for k, v in vars(options).items() if _plain(v)}
        for option in OPTIONS:
            if option.secret and settings.get(option.dest):
                settings[option.dest] = redact_token(settings[option.dest])
        (self.run_dir / "config.json").write_text(
            json.dumps(
                {
                    "scenario": self.scenario,
                    "host": self.environment.host,
                    "embedded_target": self.target is not None,
                    "plan": self.plan,
                    "rate_window_seconds": self.window,
                    "devices": len(self.fleet),
                    "via": self.fleet.config.via,
                    "offered_reports_per_second": self.fleet.offered_rate(),
                    "probes": [{"route": p.label, "limit": p.limit} for p in self.probes],
                    # each probe drives every other window
                    "probe_requests_per_second": sum(
                        self.options.probe_factor * p.limit / self.window for p in self.probes
                    )
                    / 2,
                    "distributed": self.distributed,
                    "workers": len(self.shards) or 1,
                    "started": time.time(),
                    "versions": versions(),
                    "options": settings,
                },
                indent=2,
            )
        )

    # -- the schedule starts, at spawning_complete ----------------------------------------------

    def go(self) -> None:
        """The schedule starts once every gateway is up: a ramp still spawning users would make
        the first reports late for the generator's sake, not the target's."""
        if self.going:
            return
        self.going = True
        self._write_config()  # once more: the shards are known now
        self.schedule_at = time.time()
        if self.distributed:
            self.environment.runner.send_message(GO)
        else:
            this_process.current.begin(lambda: self.environment.runner.user_count)
        if self.scenario == "ratelimit" and self.plan == ratelimits.NO_PLAN:
            self.say("schedule", "no plan (--plan none): no documented limit to drive, none judged")
        elif self.scenario == "ratelimit":
            first = first_probed_window(time.time(), self.window)
            at = time.strftime("%H:%M:%S", time.localtime(first))
            self.say(
                "schedule",
                f"probing {counted(len(self.probes), 'limit')} from {at}, the first whole "
                f"{self.window:g}-s window after the setup's requests",
                probing_from=first,
            )
        else:
            self.say(
                "schedule",
                f"schedule started: {self.first_devices():,} devices, offered "
                f"{self.fleet.offered_rate(range(self.first_devices())):,.1f} reports/s",
            )
        self.watch(gevent.spawn(self._collect_every_second))
        if self.stepping is not None:
            self.watch(gevent.spawn(self._run_steps, self.stepping))

    def _run_steps(self, stepping: Stepping) -> None:
        """The steps, then the end of the swarm: a capacity run stops once its answer is found."""
        stepping.run()
        self.end_swarm()

    def _stepping(self) -> Stepping | None:
        """The capacity steps, when the run has any: the capacity scenario's search (--steps
        0) or ramp, or any fleet scenario's ramp of more than one step."""
        steps = self.options.steps
        if self.scenario == "ratelimit" or (self.scenario != "capacity" and steps <= 1):
            return None
        return Stepping(
            plan_for(steps, len(self.fleet), self.options.step_seconds, self.options.precision),
            self.fleet,
            self.options.step_seconds,
            self._threshold_settings(),
            grow=self._grow,
            samples=lambda: self.timeline.samples,
            say=self.say,
            budget=self.options.search_seconds,
            distributed=self.distributed,
            idle=None if self.distributed else lambda: this_process.current.in_flight == 0,
        )

    def first_devices(self) -> int:
        """Devices reporting from the start: all, or the first capacity step's."""
        return self.stepping.first() if self.stepping is not None else len(self.fleet)

    def _collect_every_second(self) -> None:
        while True:
            gevent.sleep(1.0)
            if not self.distributed and this_process.current is not None:
                self.absorb(*this_process.current.take())
            self.timeline.flush(time.time() - SETTLED_SECONDS[self.distributed])

    def absorb(self, observer: FleetObserver, samples: list[Sample]) -> None:
        self.observer.merge(observer)
        for sample in samples:
            self.timeline.add(sample)

    def _grow(self, active: int) -> None:
        if self.distributed:
            self.environment.runner.send_message(GROW, {"active": active})
        else:
            this_process.current.grow(active)

    # -- the end -------------------------------------------------------------------------------

    def on_final(self, worker: str, observer: FleetObserver, samples: list[Sample]) -> None:
        self.absorb(observer, samples)
        self.finals.add(worker)

    def collect(self) -> None:
        """Every shard's last observations: its schedule stops, answers in flight are waited for."""
        if self.collected or self.observer is None:
            return
        self.collected = True
        if not self.distributed:
            shard = this_process.current
            if shard is not None:
                shard.stop()
                shard.settle()
                self.absorb(*shard.take())
            return
        self.environment.runner.send_message(FINISH)
        deadline = time.time() + FINAL_WAIT_SECONDS
        while set(self.shards) - self.finals and time.time() < deadline:
            gevent.sleep(0.1)
        missing = set(self.shards) - self.finals
        if missing:
            print(
                f"tagocheck load: {len(missing)} workers sent no final report; their last "
                "seconds are missing"
            )

    def finish(self) -> None:
        """At quitting: the run (or the swarm still running) is written, and what was created
        is removed."""
        if self.finished:
            return
        self.finished = True
        try:
            if not self.web or self.observer is not None or self.swarms == 0:
                self.close_run()
        finally:
            self._clean_up()

    def close_run(self) -> None:
        """Integrity, findings, thresholds and the run directory, the report, and the exit
        status its verdict calls for. Whatever happened before, something is written: a run
        that could not start says why."""
        if self.closed:
            return
        self.closed = True
        for greenlet in self.greenlets:
            greenlet.kill(block=False)
        runner = self.environment.runner
        # asked to quit while the users still run: Locust's SIGTERM shutdown
        midrun = runner is not None and runner.state in ("running", "spawning")
        if self.ending.how == COMPLETED and self.going and midrun:
            self.ending = Ending(INTERRUPTED, "interrupted", "SIGTERM")
        if not self.run_dir_ours:
            return
        if self.ending.how == NOT_RUN and not self.web:
            self._abandon()
            return
        if self.observer is None:
            self._write_not_run()
        else:
            try:
                self._write_run()
            except Exception as error:  # the end itself failed: still say so
                self.ending = self.ending.then(Ending(CRASHED, cause(error)))
                self.say("error", f"could not finish the run: {self.ending.why}")
                self._write_not_run()
        self._verdict()

    def _write_run(self) -> None:
        self.collect()
        self._final_csvs()
        self.timeline.rewrite()
        integrity = self._integrity() if self.scenario != "ratelimit" else {"skipped": True}
        sharing = self._network_sharing()
        findings = [f.as_dict() for f in self.observer.ledger.findings(self.limit_for)]
        enforcement = self.observer.ledger.enforcement(self.limit_for)
        trouble = self._trouble()
        limit = self.timeline.limit(
            self.observer.reasons,
            self.observer.silence(),
            probing=self.scenario == "ratelimit",
            expected_errors=self._backfill_throttled(),
            apart=outage_spans((trouble.get("outages") or {}).get("outages") or [], time.time()),
        )
        samples = self.timeline.samples
        if self.ending.how == COMPLETED:
            self.ending = Ending()  # ended now
        extra: dict[str, Any] = {
            "scenario": self.scenario,
            "ended": self.ending.as_dict(),
            "timeline_seconds": len(samples),
            "integrity": integrity,
            "rate_limit_findings": findings,
            "rate_limit_enforcement": enforcement,
            "limit": limit,
            "drift": {**drift(samples), "checked": self.options.check_drift >= 0},
            "generator_peak_rss_mb": max((s.rss_mb for s in samples), default=0),
        }
        extra.update(trouble)
        if self.scenario == "ratelimit":
            extra["not_driven"] = self.not_driven()
            if sharing is not None:
                extra["network_limit"] = sharing
        thresholds = self._threshold_settings()
        capacity = (
            self.stepping.summary(self.observer.reasons) if self.stepping is not None else None
        )
        if capacity is not None:
            (self.run_dir / "steps.json").write_text(json.dumps(capacity, indent=2))
            extra["capacity"] = capacity
        broken = self._thresholds(integrity, findings, extra["drift"])
        extra["thresholds"] = {"checked": thresholds, "broken": broken}
        self.observer.write(self.run_dir, extra)
        self._print(extra)
        for line in broken:
            self.say("threshold", f"threshold broken: {line['text']}")
        self.say("run", f"run written to {self.run_dir}")

    def _trouble(self) -> dict[str, Any]:
        """The devices' retries (attempts beside reports) and each outage's backfill."""
        config = self.fleet.config if self.fleet is not None else None
        if config is None or not config.in_trouble or self.scenario == "ratelimit":
            return {}
        attempts = self.observer.attempts
        policy = config.retry_policy
        found: dict[str, Any] = {
            "retries": {"policy": str(policy), "described": policy.describe(), **attempts.summary()}
        }
        if config.outages:
            windows = self.observer.ledger.windows_of(ROUTES[config.via])

            def throttled(since: float, until: float) -> int:
                first, last = int(since // self.window), int(until // self.window)
                return sum(1 for i, w in windows.items() if first <= i <= last and w.throttled)

            found["outages"] = {
                "buffer": config.buffer,
                "backfill": str(config.backfill_policy),
                "reconnect": str(config.reconnect_policy),
                "outages": outage_results(
                    config.outages,
                    config.reconnect_policy,
                    self.schedule_at,
                    attempts.backfill,
                    attempts.backfill_last,
                    throttled,
                    time.time(),
                ),
            }
            before = attempts.backfill.get(OUTSIDE)
            if before:
                found["outages"]["before_any"] = dict(before)
        return found

    def _backfill_throttled(self) -> int:
        """Backfill requests answered 429 (Attempts.throttled)."""
        return self.observer.attempts.throttled()

    def _network_sharing(self) -> dict[str, Any] | None:
        """The ratelimit scenario on the network path: whether uplinks count in POST /data's
        window. POST /data sent beside the uplinks is always counted in POST /data's window by
        the target, and the uplinks too when they share it: their requests near a boundary are
        POST /data's slack (else one request a boundary away would look like an early 429)."""
        if self.scenario != "ratelimit" or self.fleet is None or self.fleet.config.via != "network":
            return None
        ledger = self.observer.ledger
        found = network_sharing(ledger, self.probes, self.plan)
        shared = {BESIDE_UPLINKS} | ({NETWORK_INGEST} if found["answer"] != "no" else set())
        ledger.counted_with["POST /data"] = shared
        beside = next((p for p in self.probes if p.label == BESIDE_UPLINKS), None)
        if found["answer"] == "yes" and beside is not None and not self._early_apart(ledger):
            counted_in = ("POST /data", BESIDE_UPLINKS, NETWORK_INGEST)
            for route in counted_in:  # either side may get the shared window's 429
                ledger.also_limited_by[route] = (beside.limit, counted_in)
        return found

    def _early_apart(self, ledger: Any) -> bool:
        """POST /data throttled early in a window without uplinks: its limit is broken on its
        own, so a full shared window explains none of the 429s beside the uplinks (a target
        throttling at half the limit otherwise looks like one that shares its window)."""
        with_uplinks = set(ledger.windows_of(NETWORK_INGEST))
        return any(
            f.kind == "early-throttle"
            and f.route == "POST /data"
            and math.floor(f.window_start / ledger.window) not in with_uplinks
            for f in ledger.findings(self.limit_for)
        )

    def _abandon(self) -> None:
        """A run that could not start leaves nothing behind (what it created on the target is
        removed by _clean_up) and says why in one line on stderr, exit status 2."""
        rundir.take_back(self.run_dir, self.run_dir_kept)
        self.run_dir_ours = False
        self.environment.process_exit_code = 2
        if not self.cause_said:  # an init-time failure is said by the hooks, once
            self.cause_said = True
            print(f"tagocheck {self.scenario}: {could_not_start(self.ending.why)}", file=sys.stderr)

    def _write_not_run(self) -> None:
        write_not_run(self.run_dir, self.scenario, self.ending)

    def _verdict(self) -> None:
        """The report, its headline on the console, and the exit status it calls for."""
        from tagocheck.report import rundata, verdict

        self._write_report()
        try:
            found = verdict.judge_dir(self.run_dir)
        except rundata.RunDirError as error:
            self.say("verdict", f"no verdict: {error}")
            self.environment.process_exit_code = 1
            return
        self.environment.process_exit_code = found.exit_code
        self.say("verdict", found.headline, outcome=found.outcome)
        report = self.run_dir / "report.html"
        self.verdicts.append(
            {
                "swarm": self.swarms,
                "headline": found.headline,
                "outcome": found.outcome,
                "report": str(report) if report.exists() else None,
            }
        )
        for line in found.problems:
            self.say("verdict", f"  {line}")

    def _write_report(self) -> None:
        """The HTML report, at the end of every run; a report that fails says why in one line
        and leaves the run directory as it is."""
        from tagocheck.report import ReportError, write_report

        try:
            written = write_report(self.run_dir)
        except (ReportError, OSError) as error:
            self.say("report", f"no report written: {error}")
            return
        if not self.cause_said:  # a run that could not start said so in one line
            self.say("report", f"report: {written}")

    def _clean_up(self) -> None:
        if self.created:
            try:
                total = len(self.created)
                self.say("cleanup", f"removing the {total:,} devices it created")
                with self._counting("cleanup", "removed", total) as progress:
                    left = remove_devices(self.client, self.profile_token, self.created, progress)
                if left:
                    self.say(
                        "cleanup",
                        f"could not remove {len(left)} devices it created; their ids are in "
                        "the events log",
                        devices=[d.id for d in left],
                    )
            except OSError as error:  # requests.RequestException is one
                self.say(
                    "cleanup",
                    f"could not remove {len(self.created)} devices it created "
                    f"({type(error).__name__}); their ids are in the events log",
                    devices=[d.id for d in self.created],
                )
            self.created = []
        if self.target is not None:
            self.target.stop()
            self.state_dir.cleanup()
            self.target = None

    def _print(self, extra: dict[str, Any]) -> None:
        limit = extra["limit"]
        self.say("limit", f"limit: {limit['limit']} ({limit.get('why', '')})")
        if self.scenario == "soak":
            found = extra["drift"].get("findings") or []
            print(
                f"tagocheck soak: {extra['drift']['verdict']}"
                + (f": {'; '.join(found)}" if found else "")
            )
        if self.scenario == "ratelimit":
            for row in extra["rate_limit_enforcement"]:
                print(
                    f"tagocheck ratelimit: {row['scope']:>10} {row['route']:<28} limit "
                    f"{row['limit']:>6}/window: {counted(row['windows'], 'window')}, "
                    f"{row['enforced']} "
                    f"enforced, {row['under']} under, {row['early-throttle']} early throttle, "
                    f"{row['leak']} leak (max accepted {row['max_accepted']})"
                )
            for route, why in self.not_driven().items():
                print(f"tagocheck ratelimit: not driven: {route} ({why})")
            shared = extra.get("network_limit")
            if shared:
                said = f"{shared['question']} {shared['answer']} ({shared['why']})"
                print(f"tagocheck ratelimit: {said}")

    def limit_for(self, scope: str, route: str) -> int | None:
        """The limit a ledger window is held to: the plan's for the profile, rpm for a device."""
        if scope != PROFILE:
            return self.device_limits.get((scope.removeprefix("device:"), route))
        if self.plan == ratelimits.NO_PLAN:
            return None
        path, _, query = route.partition("?")
        params = dict(part.split("=", 1) for part in query.split("&")) if query else {}
        try:
            return ratelimits.rate_limits().per_minute(self.plan, path, params)
        except KeyError:
            return None

    def _final_csvs(self) -> None:
        """The history CSV is written as the run goes; the totals are written once more."""
        if self.csv_writer is None:
            return
        self.csv_writer.close_files()
        final = StatsCSV(self.environment, PERCENTILES_TO_REPORT)
        for name, write in (
            ("stats", final.requests_csv),
            ("failures", final.failures_csv),
            ("exceptions", final.exceptions_csv),
        ):
            with open(self.run_dir / f"locust_{name}.csv", "w", newline="") as handle:
                write(csv.writer(handle))

    def traced(self) -> list[int]:
        """The devices whose reports are reconciled one by one at the end (none when probing)."""
        if self.scenario == "ratelimit" or self.fleet is None:
            return []
        return traced_devices(len(self.fleet), self.options.integrity_devices)

    def _integrity(self) -> dict[str, Any]:
        """The traced devices' acknowledged reports against the records the target returns.

        Every device when the fleet has at most --integrity-devices of them, else a fixed random
        sample: the check reads each one's records back (one request per 10,000 records), twenty
        devices at a time.
        """
        unanswered = 0
        prefix = self.run_tag + "."
        # records from before the run (a fleet file's devices may have years of them) are left
        # unread; an hour's margin for a target whose clock differs from ours
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started_at - 3600))

        timed = bool(self.fleet.config.outages)  # readings carry the time they were measured

        def stored(index: int) -> tuple[int, Counter | None, list[tuple[str, int]]]:
            nonlocal unanswered
            groups: Counter = Counter()
            times: list[tuple[str, int]] = []
            skip = 0
            while True:
                try:
                    reply = self.client.request(
                        "GET",
                        "/data",
                        token=self.devices[index].token,
                        token_kind="device-full",
                        params={"qty": READ_BACK_PAGE, "skip": skip, "start_date": since},
                        check=False,
                    )
                except OSError:  # requests.RequestException: a target gone away: say so, go on
                    unanswered += 1
                    return index, None, times
                if not reply.ok or not isinstance(reply.result, list):
                    unanswered += 1
                    return index, None, times
                for record in reply.result:
                    group = record.get("group") if isinstance(record, dict) else None
                    if isinstance(group, str) and group.startswith(prefix):
                        groups[group] += 1
                        moment = _millis(record.get("time")) if timed else None
                        if moment is not None:
                            times.append((group, moment))
                if len(reply.result) < READ_BACK_PAGE:
                    return index, groups, times
                skip += READ_BACK_PAGE

        acknowledged = self.observer.acknowledged_reports
        attempts = self.observer.attempts
        per_report = self.fleet.config.records_per_request
        per_device = {}
        for index, groups, times in gevent.pool.Pool(20).imap_unordered(stored, self.traced()):
            if groups is not None:
                device, key = self.devices[index].id, str(index)
                found = reconcile(
                    acknowledged.get(key, ()), groups, per_report, attempts.resent.get(key)
                )
                if timed:
                    check_times(found, attempts.measured.get(key, {}), times)
                per_device[device] = found
        found = summarise(per_device, fleet_size=len(self.fleet), unanswered=unanswered)
        found["acknowledged"] = sum(self.observer.acknowledged.values())
        found["acknowledgements_miscounted"] = self.observer.miscounted
        found["count_not_understood"] = self.observer.count_not_understood
        return found

    def _threshold_settings(self) -> dict[str, float]:
        """The thresholds this run was held to (those set on the command line or in the form)."""
        options = self.options
        settings = {
            "p99_ms": options.check_p99_ms if options.check_p99_ms > 0 else None,
            "error_rate": options.check_error_rate,
            "schema_violations": options.check_schema_violations,
            "rate_limit_findings": options.check_rate_limit_leaks,
            "drift_findings": options.check_drift,
        }
        return {k: v for k, v in settings.items() if v is not None and v >= 0}

    def _failed_reports(self) -> tuple[int, int, str]:
        """(total, failed, what is counted) for the error rate. Reports, not attempts: where
        devices retry, a report failed only when it was given up (a retry that succeeded is
        no failure, and its attempts are counted apart); without retries each report is one
        attempt. Throttling by design is left out: the ratelimit scenario's 429s are what it
        is after, and a throttled backfill is sent again until stored."""
        observer = self.observer
        config = self.fleet.config if self.fleet is not None else None
        if config is not None and config.in_trouble and self.scenario != "ratelimit":
            tally = observer.attempts
            if tally.first:
                given_up = sum(tally.given_up.values())
                return tally.first, given_up, "reports given up"
        if self.scenario == "ratelimit":
            expected = sum(c.get(checks.RATE_LIMITED, 0) for c in observer.outcomes.values())
        else:
            expected = self._backfill_throttled()
        return observer.reports, observer.failed - expected, "reports failed"

    def _thresholds(
        self, integrity: dict[str, Any], findings: list, drifted: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Each threshold broken: {check, text, value, limit}. In a capacity run p99 and the
        error rate are held per step (the highest good step is the answer, and the steps past
        the knee are meant to break them), not over the whole run."""
        options = self.options
        observer = self.observer
        broken = []

        def breaks(check: str, text: str, value: Any = None, limit: Any = None, **of: Any) -> None:
            broken.append({"check": check, "text": text, "value": value, "limit": limit, **of})

        p99 = observer.summary()["latency_ms"]["corrected"]["p99"]
        if self.stepping is None and options.check_p99_ms > 0 and p99 > options.check_p99_ms:
            breaks("p99_ms", f"p99 {p99:.1f} ms > {options.check_p99_ms:g} ms", p99)
        total, failed, denominator = self._failed_reports()
        share = failed / total if total else 0.0
        if (
            self.stepping is None
            and options.check_error_rate >= 0
            and share > options.check_error_rate
        ):
            text = (
                f"error rate {share:.4f} > {options.check_error_rate:g} ({failed:,} of "
                f"{total:,} {denominator})"
            )
            breaks(
                "error_rate",
                text,
                share,
                options.check_error_rate,
                failed=failed,
                of=total,
                denominator=denominator,
            )
        elif (
            self.stepping is None
            and options.check_error_rate >= 0
            and denominator != "reports failed"
        ):
            # devices retried: their reports held, but the target failed the attempts, which
            # retries only hid from the devices (a finding of its own, never folded in)
            attempts = observer.reports
            failed_attempts = observer.failed - self._backfill_throttled()
            tried = failed_attempts / attempts if attempts else 0.0
            if tried > options.check_error_rate:
                answered = observer.attempts.finals - failed
                text = (
                    f"{tried:.1%} of {attempts:,} attempts failed (threshold "
                    f"{options.check_error_rate:g}); of {total:,} reports {answered:,} were "
                    f"answered and {failed:,} given up, the rest still being tried at the end"
                )
                breaks("attempt_error_rate", text, tried, options.check_error_rate)
        responses = observer.nonconforming
        if options.check_schema_violations >= 0 and responses > options.check_schema_violations:
            text = f"{responses} responses broke the contract > {options.check_schema_violations}"
            breaks("schema_violations", text, responses)
        if options.check_rate_limit_leaks >= 0 and len(findings) > options.check_rate_limit_leaks:
            text = f"{len(findings)} rate-limit findings > {options.check_rate_limit_leaks}"
            breaks("rate_limit_findings", text, len(findings))
        found = len(drifted.get("findings") or [])
        if options.check_drift >= 0 and found > options.check_drift:
            breaks("drift", f"drift: {'; '.join(drifted['findings'])}", found)
        for line in integrity_problems(integrity):
            breaks("integrity", line)
        return broken


def versions() -> dict[str, str]:
    return {
        "tagocheck": _version("tagocheck"),
        "locust": _version("locust"),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _millis(value: Any) -> int | None:
    """A stored record's ISO 8601 time in ms since the epoch; None when it is none."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return round(moment.timestamp() * 1000)


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | type(None))
