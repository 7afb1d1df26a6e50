"""`tagocheck capacity`: its options checked in one line each, the preflight shown, and the
job run (tagocheck.job.run); the exit status is the verdict's."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tagocheck.spec import ratelimits
from tagocheck.tagotip import bindings
from tagocheck.usage import UsageError

PATH_NEEDS = {
    "network": (
        ("TAGOIO_NETWORK_TOKEN", "TAGOIO_AUTHORIZATION"),
        "the network token the uplinks are posted with, the profile's authorization key",
    ),
    bindings.HTTP: (
        ("TAGOIO_TAGOTIP_URL", "TAGOIO_AUTHORIZATION"),
        "the TagoTiP HTTP endpoint, the profile's authorization key its hash is made of",
    ),
    bindings.MQTT: (
        ("TAGOIO_TAGOTIP_MQTT", "TAGOIO_AUTHORIZATION"),
        "the TagoTiP MQTT broker as HOST:PORT, the profile's authorization key",
    ),
    bindings.UDP: (
        ("TAGOIO_TAGOTIP_UDP", "TAGOIO_AUTHORIZATION"),
        "the TagoTiP UDP endpoint as HOST:PORT, the profile's authorization key",
    ),
    bindings.TCP: (
        ("TAGOIO_TAGOTIP_TCP", "TAGOIO_AUTHORIZATION"),
        "the TagoTiP TCP endpoint as HOST:PORT, the profile's authorization key",
    ),
}
"""What a path needs from the environment on a real target, beside the profile token."""

EMBEDDED_FLEET = 40_000
"""The embedded target's default fleet: 20,000 reports/s at the 2-s interval, above what this
machine's generator and target take together, so the default search finds their limit rather
than the fleet's end (the embedded target seeds it in a second)."""


def run_capacity(args: argparse.Namespace, out: Console) -> int:
    from tagocheck.fleet import integrity
    from tagocheck.fleet.model import FleetConfigError
    from tagocheck.job import preflight
    from tagocheck.job.run import Job, JobError, Runner
    from tagocheck.load import rundir
    from tagocheck.load.options import fleet_config
    from tagocheck.options import OptionError, check_step, check_users
    from tagocheck.report.verdict import judge_dir

    embedded = not args.target
    if args.plan is None and not embedded:
        raise UsageError(
            f"--plan is needed against {args.target}: one of {', '.join(ratelimits.plan_choices())}"
        )
    try:
        plan = ratelimits.parse_plan(args.plan or ratelimits.NO_PLAN)
    except ratelimits.UnknownPlan as error:
        raise UsageError(error.args[0]) from None
    token = os.environ.get("TAGOIO_PROFILE_TOKEN")
    if not embedded and not token:
        raise UsageError("a real target needs $TAGOIO_PROFILE_TOKEN (the profile token)")
    needed = PATH_NEEDS.get(args.via)
    if not embedded and needed is not None:
        names, what = needed
        unset = [name for name in names if not os.environ.get(name)]
        if unset:
            raise UsageError(
                f"--via {args.via} on a real target needs ${' and $'.join(unset)} ({what})"
            )
    if args.devices is None:
        args.devices = EMBEDDED_FLEET if embedded else 50
    try:
        config = fleet_config(args)
        check_users(args.users, args.processes)
        check_step(args.step_seconds, config.interval)
    except (FleetConfigError, OptionError) as error:
        raise UsageError(str(error)) from None
    # the caller's working directory, whichever directory the job's parts run in
    run_dir = (
        args.run_dir or Path("reports") / f"capacity-{time.strftime('%Y%m%d-%H%M%S')}"
    ).absolute()
    try:
        rundir.check(run_dir, args.overwrite)
    except rundir.RunDirRefused as error:
        raise UsageError(str(error)) from None
    if not embedded:  # before the plan is worked out: a target that cannot be used, first
        _reachable(args.target, token, args.ssl_false, args.ca_cert)  # the job's first request
    planned = preflight.plan_run(
        config,
        plan=plan,
        steps=args.steps,
        step_seconds=args.step_seconds,
        search_seconds=args.search_seconds,
        integrity_devices=integrity.SAMPLE,
        contract=not args.no_contract,
        create_devices=not embedded,
        budget=None if embedded else args.budget,
        users=args.users,
    )
    _print_preflight(out, planned, args.target or "the embedded target")
    if planned.problems and not args.yes:
        for problem in planned.problems:
            out.print(f"  [red]over:[/red] {problem}", highlight=False)
        raise UsageError("the run would exceed the limits above; rerun with --yes to start anyway")
    try:  # only now: a refused or unreachable run leaves no empty run directory behind
        rundir.empty_or_new(run_dir, args.overwrite, folders=True)
        rundir.make(run_dir)
    except rundir.RunDirRefused as error:
        raise UsageError(str(error)) from None
    job = Job(
        config=config,
        plan=plan,
        steps=args.steps,
        step_seconds=args.step_seconds,
        search_seconds=args.search_seconds,
        precision=args.precision,
        users=args.users,
        run_dir=run_dir,
        target=args.target,
        profile_token=token,
        contract=not args.no_contract,
        processes=args.processes,
        check_p99_ms=args.check_p99_ms,
        check_error_rate=args.check_error_rate,
        ssl_false=args.ssl_false,
        ca_cert=args.ca_cert or None,
    )
    try:
        outcome = Runner(job, out).run(planned)
    except JobError as error:
        raise UsageError(str(error)) from None
    if outcome.error:
        err = Console(stderr=True, soft_wrap=True)
        err.print(f"tagocheck: {outcome.error}", markup=False, highlight=False)
    if outcome.report is None:
        out.print(f"tagocheck: no report: the run wrote nothing to {run_dir}")
        return 130 if outcome.interrupted else 1
    out.print(f"\n[bold]Report:[/bold] {outcome.report}", highlight=False)
    found = judge_dir(run_dir)
    contract = outcome.contract_verdict
    contract_red = bool(contract) and contract.get("status") != "the contract holds"
    said = (
        f"Contract suite: {contract.get('status')}: {contract.get('why', '')}." if contract else ""
    )
    if contract_red and found.good:  # the worst finding of any part leads
        out.print(said, markup=False, highlight=False)
        said = ""
    out.print(" ".join([found.headline, *found.facts, *found.problems]), highlight=False)
    if said:
        out.print(said, markup=False, highlight=False)
    if outcome.interrupted:
        out.print("tagocheck: interrupted; the report shows what the run had")
        return 130
    if found.exit_code == 0 and (outcome.contract_failed or contract_red or outcome.error):
        return 1
    return found.exit_code


def _reachable(url: str, token: str, ssl_false: bool, ca_cert: str | None) -> None:
    """One GET /info with the profile token: a wrong address or token stops the job here."""
    from tagocheck.wire import reach

    try:
        reach.probe(url, token, verify=ca_cert or True, ssl_false=ssl_false, say=_say)
    except reach.Unreachable as error:
        raise UsageError(str(error)) from None


def _say(line: str) -> None:
    Console(stderr=True, soft_wrap=True).print(f"tagocheck: {line}", markup=False, highlight=False)


def _print_preflight(out: Console, planned: Any, where: str) -> None:
    table = Table(title=f"Preflight: {where}, plan {planned.plan}", show_lines=False)
    table.add_column("what")
    table.add_column("amount", justify="right")
    table.add_column("limit", justify="right")
    table.add_column("note")
    for line in planned.lines:
        limit = "-" if line.limit is None else f"{line.limit:,.0f}"
        amount = f"[red]{line.amount:,.0f}[/red]" if line.over else f"{line.amount:,.0f}"
        table.add_row(line.what, amount, limit, line.note)
    out.print(table)
    budget = f" (budget {planned.budget:,})" if planned.budget is not None else ""
    out.print(f"Transactions in all, at most: {planned.transactions:,}{budget}", highlight=False)
