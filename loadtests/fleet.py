"""The `fleet` scenario: a fleet of devices reporting on their own schedules.

    locust -f loadtests/fleet.py                      # web UI; the fleet options are in the form
    locust -f loadtests/fleet.py --headless -u 50 -r 50 -t 60s --devices 2000 --interval 10

Locust users are gateways (concurrent connections), not devices: the fleet is `--devices` devices,
each with its own token, interval, random phase and jitter, and every report is sent at its
scheduled time whatever happened to earlier ones (the open model). Every response is judged by the
registry of checks and classified; Locust's stats show each class as a failure with its reason.

With no --host, the embedded target is started for the run and the fleet is created on it; with
--host and --profile-token the fleet is created there and removed afterwards; with --fleet-file
the devices in the file are used as they are. At the end the run directory (--run-dir, default
reports/<timestamp>/) gets Locust's CSVs with full history, the HDR histograms, the rate-limit
ledger, the integrity check and a summary with the configuration (tokens redacted).
"""

from __future__ import annotations

import csv
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent
import gevent.pool
import orjson
from locust import FastHttpUser, constant, events, task
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV, StatsCSVFileWriter

from tagocheck import checks, ratelimits
from tagocheck.client import TagoClient
from tagocheck.fleet.capacity import highest_good, knee, step_from
from tagocheck.fleet.httpclient import patch_connection_pool
from tagocheck.fleet.ledger import PROFILE
from tagocheck.fleet.model import CONNECTION_MODES, Fleet, FleetConfig, FleetConfigError, Interval
from tagocheck.fleet.observe import FleetObserver
from tagocheck.fleet.payloads import PROFILES
from tagocheck.fleet.provision import (
    ProvisionError,
    create_devices,
    read_fleet_file,
    remove_devices,
    write_fleet_file,
)
from tagocheck.fleet.schedule import Schedule
from tagocheck.fleet.timeline import Sample, Timeline
from tagocheck.redact import redact_token
from tagocheck.target.launcher import start_target

patch_connection_pool()  # keep-alive must survive past 1,024 open sockets


class Run:
    """This process's part of the run (one per Locust process)."""

    fleet: Fleet | None = None
    devices: list = []  # noqa: RUF012 - one Run per process, never instantiated
    observer: FleetObserver | None = None
    target = None
    run_dir: Path | None = None
    created: list = []  # noqa: RUF012
    client: TagoClient | None = None
    profile_token: str | None = None
    schedule: Schedule | None = None
    timeline: Timeline | None = None
    sampler = None
    stepper = None
    steps: list = []  # noqa: RUF012
    environment = None
    csv_writer = None
    csv_greenlet = None
    state_dir = None
    plan: str = "unlimited"
    window: float = 60.0


@events.init_command_line_parser.add_listener
def add_arguments(parser) -> None:
    group = parser  # Locust's own parser: it puts these in the web UI (and masks secrets)
    group.add_argument("--devices", type=int, default=100, help="devices in the fleet")
    group.add_argument(
        "--interval",
        default="10",
        help="seconds between a device's reports, or uniform:LOW:HIGH, "
        "exponential:MEAN, normal:MEAN:SD",
    )
    group.add_argument("--jitter", type=float, default=0.5, help="± seconds on every report")
    group.add_argument("--payload", choices=list(PROFILES), default="smart-meter")
    group.add_argument("--records-per-request", type=int, default=1)
    group.add_argument("--connection", choices=list(CONNECTION_MODES), default="keep-alive")
    group.add_argument(
        "--plan",
        default="",
        help="rate-limit plan to expect (default: unlimited on the embedded target, "
        "free elsewhere)",
    )
    group.add_argument(
        "--profile-token",
        default="",
        is_secret=True,
        help="creates the fleet on --host, and removes it afterwards",
    )
    group.add_argument("--fleet-file", default="", help="JSON file of existing devices (mode 600)")
    group.add_argument("--run-dir", default="", help="where the run's data goes")
    group.add_argument(
        "--steps",
        type=int,
        default=1,
        help="capacity: bring the fleet in over this many steps, stopping after the knee "
        "(1: the whole fleet at once)",
    )
    group.add_argument(
        "--step-seconds", type=float, default=30, help="how long each capacity step is held"
    )
    group.add_argument(
        "--integrity-devices",
        type=int,
        default=2000,
        help="devices whose stored records are reconciled at the end "
        "(all of them when the fleet is smaller)",
    )
    group.add_argument(
        "--rate-window", type=float, default=0, help="rate-limit window seconds (default 60)"
    )
    group.add_argument(
        "--check-p99-ms",
        type=float,
        default=0,
        help="fail the run if p99 latency (corrected) is above this",
    )
    group.add_argument(
        "--check-error-rate",
        type=float,
        default=-1,
        help="fail the run if the share of non-accepted reports is above this",
    )
    group.add_argument(
        "--check-schema-violations",
        type=int,
        default=-1,
        help="fail the run if there are more violations than this",
    )
    group.add_argument(
        "--check-rate-limit-leaks",
        type=int,
        default=-1,
        help="fail the run if more windows than this leaked or throttled early",
    )


def _fail(environment, message: str) -> None:
    environment.runner.quit() if environment.runner else None
    raise SystemExit(f"tagocheck fleet: {message}")


@events.init.add_listener
def on_init(environment, **_kwargs) -> None:
    options = environment.parsed_options
    if options is None:
        return
    from locust.runners import WorkerRunner

    if isinstance(environment.runner, WorkerRunner):
        return  # distributed runs get their shard from the master (not built yet)
    try:
        config = FleetConfig(
            devices=options.devices,
            interval=Interval.parse(options.interval),
            jitter=options.jitter,
            payload=options.payload,
            records_per_request=options.records_per_request,
            connection=options.connection,
        )
    except FleetConfigError as error:
        _fail(environment, str(error))
    Run.environment = environment
    Run.run_dir = Path(options.run_dir or f"reports/{time.strftime('%Y%m%d-%H%M%S')}")
    Run.run_dir.mkdir(parents=True, exist_ok=True)
    Run.window = options.rate_window or 60.0
    if not environment.host:
        Run.plan = options.plan or "unlimited"
        Run.state_dir = tempfile.TemporaryDirectory(prefix="tagocheck-fleet-target-")
        # The embedded target seeds the fleet itself: a million devices in one commit, not a
        # million API calls.
        Run.target = start_target(
            Path(Run.state_dir.name),
            "--plan",
            Run.plan,
            "--rate-window-seconds",
            str(Run.window),
            "--seed-devices",
            str(config.devices),
            timeout=600,
        )
        environment.host = Run.target.url
        Gateway.host = Run.target.url  # the web UI's empty host field must not unset it
        Run.profile_token = Run.target.profile_token
        options.fleet_file = options.fleet_file or Run.target.info["fleet_file"]
    else:
        Run.plan = options.plan or "free"
        Run.profile_token = options.profile_token or None
    Run.client = TagoClient(environment.host)
    try:
        if options.fleet_file:
            Run.devices = read_fleet_file(Path(options.fleet_file))
            if len(Run.devices) < config.devices:
                _fail(
                    environment,
                    f"the fleet file has {len(Run.devices)} devices, --devices is {config.devices}",
                )
            Run.devices = Run.devices[: config.devices]
        elif Run.profile_token:
            prefix = f"tagocheck-fleet-{time.strftime('%Y%m%d%H%M%S')}-"
            Run.devices = create_devices(Run.client, Run.profile_token, config.devices, prefix)
            Run.created = list(Run.devices)
            write_fleet_file(Run.run_dir / "fleet.json", Run.devices)
        else:
            _fail(environment, "--host needs --profile-token or --fleet-file")
    except ProvisionError as error:
        _fail(environment, str(error))
    Run.fleet = Fleet(config, [d.token for d in Run.devices])
    Run.observer = FleetObserver(Run.window)
    Run.csv_writer = StatsCSVFileWriter(
        environment, PERCENTILES_TO_REPORT, str(Run.run_dir / "locust"), full_history=True
    )
    Run.csv_greenlet = gevent.spawn(Run.csv_writer.stats_writer)
    _write_config(options, environment)


def _write_config(options, environment) -> None:
    settings = {k: v for k, v in vars(options).items() if _plain(v)}
    settings["profile_token"] = redact_token(options.profile_token) if options.profile_token else ""
    (Run.run_dir / "config.json").write_text(
        json.dumps(
            {
                "scenario": "fleet",
                "host": environment.host,
                "embedded_target": Run.target is not None,
                "plan": Run.plan,
                "rate_window_seconds": Run.window,
                "offered_reports_per_second": Run.fleet.offered_rate(),
                "options": settings,
            },
            indent=2,
        )
    )


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | type(None))


@events.spawning_complete.add_listener
def on_spawning_complete(user_count: int, **_kwargs) -> None:
    """The schedule starts once every gateway is up: a ramp still spawning users would make the
    first reports late for the generator's sake, not the target's."""
    environment = Run.environment
    if Run.fleet is not None and Run.schedule is None:
        steps = max(1, environment.parsed_options.steps)
        first = _devices_at(1, steps)
        Run.schedule = Schedule(Run.fleet, range(first), start=time.time())
        Run.timeline = Timeline(Run.run_dir / "timeline.jsonl")
        Run.sampler = gevent.spawn(sample_every_second, environment)
        if steps > 1:
            Run.stepper = gevent.spawn(run_steps, environment, steps)


def _devices_at(step: int, steps: int) -> int:
    return max(1, round(len(Run.fleet) * step / steps))


def run_steps(environment, steps: int) -> None:
    """Capacity: bring the fleet in over `steps` equal steps, note each, stop after the knee."""
    hold = environment.parsed_options.step_seconds
    active = 0
    for index in range(1, steps + 1):
        began = time.time()
        target = _devices_at(index, steps)
        if target > active:
            Run.schedule.add(range(active, target), began)
        active = target
        gevent.sleep(hold)
        offered = Run.fleet.offered_rate(range(active))
        Run.steps.append(
            step_from(index, active, began, time.time(), offered, Run.timeline.samples)
        )
        print(
            f"tagocheck capacity: step {index}/{steps}: {active} devices, offered "
            f"{offered:,.0f}/s, achieved {Run.steps[-1].achieved:,.0f}/s, "
            f"p99 {Run.steps[-1].p99_ms:,.0f} ms"
        )
        if knee(Run.steps) is not None:
            break
    environment.runner.quit()


def _p99_ms(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def sample_every_second(environment) -> None:
    """The run's timeline: offered and achieved rates, lateness, latency, errors, CPU."""
    offered = Run.fleet.offered_rate()
    reports, failed, last, cpu_last = 0, 0, time.time(), time.process_time()
    while True:
        gevent.sleep(1.0)
        now, cpu_now = time.time(), time.process_time()
        recent = Run.observer.take_recent()
        elapsed = now - last
        Run.timeline.add(
            Sample(
                t=now,
                users=environment.runner.user_count,
                cpu=100 * (cpu_now - cpu_last) / (now - last),
                offered=offered,
                achieved=(Run.observer.reports - reports) / elapsed,
                errors=Run.observer.failed - failed,
                lateness_p99_ms=_p99_ms([r[0] for r in recent]),
                corrected_p99_ms=_p99_ms([r[1] for r in recent]),
                service_p99_ms=_p99_ms([r[2] for r in recent]),
            )
        )
        reports, failed, last, cpu_last = Run.observer.reports, Run.observer.failed, now, cpu_now


class Gateway(FastHttpUser):
    """A connection that sends whichever device's report is due next.

    Gateways take due reports straight from the process's schedule (greenlets share it without
    locks); one with nothing due sleeps until the next report is.
    """

    wait_time = constant(0)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.per_report = Run.fleet is not None and Run.fleet.config.connection == "per-report"

    @task
    def report(self) -> None:
        schedule = Run.schedule
        if schedule is None:
            gevent.sleep(0.05)
            return
        now = time.time()
        due = schedule.pop_due(now, limit=1)
        if not due:
            following = schedule.next_due()
            gevent.sleep(min(0.05, following - now) if following else 0.05)
            return
        self.send(due[0])

    def send(self, report) -> None:
        fleet = Run.fleet
        records = PROFILES[fleet.config.payload](
            self.rng, report.device, report.sequence, fleet.config.records_per_request
        )
        headers = {"Device-Token": fleet.tokens[report.device], "Content-Type": "application/json"}
        if self.per_report:
            headers["Connection"] = "close"
        sent = time.time()
        with self.client.post(
            "/data",
            data=orjson.dumps(records),
            headers=headers,
            name="POST /data",
            catch_response=True,
        ) as response:
            answered = time.time()
            error = response.error if response.status_code == 0 else None
            verdict = Run.observer.observe(
                method="POST",
                path="/data",
                status=response.status_code or 0,
                body=response.content or b"",
                due=report.due,
                sent_at=sent,
                answered_at=answered,
                device=str(report.device),
                transport_error=type(error).__name__ if error else None,
            )
            if verdict.outcome == checks.ACCEPTED and verdict.ok:
                response.success()
            else:
                checks_broken = ", ".join(sorted({v.check for v in verdict.violations}))
                reason = verdict.message or checks_broken or ""
                label = f"{verdict.outcome} {verdict.status}" + (f": {reason}" if reason else "")
                response.failure(label[:200])


def _final_csvs(environment) -> None:
    """The history CSV is written as the run goes; the totals are written once more at the end."""
    Run.csv_greenlet.kill()
    Run.csv_writer.close_files()
    final = StatsCSV(environment, PERCENTILES_TO_REPORT)
    for name, write in (
        ("stats", final.requests_csv),
        ("failures", final.failures_csv),
        ("exceptions", final.exceptions_csv),
    ):
        with open(Run.run_dir / f"locust_{name}.csv", "w", newline="") as handle:
            write(csv.writer(handle))


def _integrity(sample: int) -> dict[str, Any]:
    """Acknowledged records per device against what the target returns.

    Every device when the fleet has at most `sample` of them, else a fixed random sample: the
    check costs one request per device, sent twenty at a time.
    """
    indexes = list(range(len(Run.devices)))
    if len(indexes) > sample:
        indexes = sorted(random.Random(0).sample(indexes, sample))

    def stored(index: int) -> tuple[int, Any]:
        reply = Run.client.request(
            "GET",
            "/data",
            token=Run.devices[index].token,
            token_kind="device-full",
            params={"query": "count"},
            check=False,
        )
        return index, reply.result

    lost = extra = checked = 0
    worst = []
    for index, count in gevent.pool.Pool(20).imap_unordered(stored, indexes):
        if not isinstance(count, int):
            continue
        checked += 1
        acknowledged = Run.observer.acknowledged.get(str(index), 0)
        if count < acknowledged:
            lost += acknowledged - count
            worst.append(
                {"device": Run.devices[index].id, "acknowledged": acknowledged, "stored": count}
            )
        elif count > acknowledged:
            extra += count - acknowledged
    return {
        "devices_checked": checked,
        "devices_in_fleet": len(Run.devices),
        "acknowledged": sum(Run.observer.acknowledged.values()),
        "lost": lost,
        "stored_not_acknowledged": extra,
        "note": "stored but not acknowledged: requests still in flight when the run stopped",
        "worst": sorted(worst, key=lambda w: w["stored"] - w["acknowledged"])[:20],
    }


def _limit_for(scope: str, route: str) -> int | None:
    if Run.plan == "unlimited" or scope != PROFILE:
        return None
    try:
        return ratelimits.rate_limits().per_minute(Run.plan, route)
    except KeyError:
        return None


@events.quitting.add_listener
def on_quitting(environment, **_kwargs) -> None:
    if Run.observer is None:
        return
    for greenlet in (Run.sampler, Run.stepper):
        if greenlet is not None:
            greenlet.kill(block=False)
    _final_csvs(environment)
    try:
        integrity = _integrity(environment.parsed_options.integrity_devices)
        findings = [f.as_dict() for f in Run.observer.ledger.findings(_limit_for)]
        limit = Run.timeline.limit() if Run.timeline else {"limit": "unknown"}
        if Run.steps:
            best = highest_good(Run.steps)
            capacity = {
                "steps": [step.as_dict() for step in Run.steps],
                "knee": knee(Run.steps),
                "highest_good": best.as_dict() if best else None,
            }
            (Run.run_dir / "steps.json").write_text(json.dumps(capacity, indent=2))
            limit["capacity"] = capacity
        Run.observer.write(
            Run.run_dir, {"integrity": integrity, "rate_limit_findings": findings, "limit": limit}
        )
        print(f"tagocheck fleet: limit: {limit['limit']} ({limit.get('why', '')})")
        broken = _thresholds(environment.parsed_options, integrity, findings)
        if broken:
            for line in broken:
                print(f"tagocheck fleet: threshold broken: {line}")
            environment.process_exit_code = 1
        print(f"tagocheck fleet: run written to {Run.run_dir}")
    finally:
        if Run.created:
            remove_devices(Run.client, Run.profile_token, Run.created)
        if Run.target is not None:
            Run.target.stop()
            Run.state_dir.cleanup()


def _thresholds(options, integrity: dict[str, Any], findings: list) -> list[str]:
    summary = Run.observer.summary()
    broken = []
    p99 = summary["latency_ms"]["corrected"]["p99"]
    if options.check_p99_ms > 0 and p99 > options.check_p99_ms:
        broken.append(f"p99 {p99:.1f} ms > {options.check_p99_ms:g} ms")
    total = sum(sum(c.values()) for c in Run.observer.outcomes.values())
    bad = total - sum(c.get(checks.ACCEPTED, 0) for c in Run.observer.outcomes.values())
    if options.check_error_rate >= 0 and total and bad / total > options.check_error_rate:
        broken.append(f"error rate {bad / total:.4f} > {options.check_error_rate:g}")
    violations = sum(Run.observer.violations.values())
    if options.check_schema_violations >= 0 and violations > options.check_schema_violations:
        broken.append(f"{violations} schema violations > {options.check_schema_violations}")
    if options.check_rate_limit_leaks >= 0 and len(findings) > options.check_rate_limit_leaks:
        broken.append(f"{len(findings)} rate-limit findings > {options.check_rate_limit_leaks}")
    if integrity["lost"]:
        broken.append(f"{integrity['lost']} acknowledged records were lost")
    return broken
