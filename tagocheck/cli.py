"""The `tagocheck` command.

Errors a user can cause (a wrong flag, a missing file, a body that is not JSON) end in one clear
line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tagocheck.redact import scrub
from tagocheck.spec import permissions, ratelimits, routes, schemas
from tagocheck.usage import OneLineParser, UsageError

EPILOG_ROUTES = """examples:
  tagocheck routes                 every route with its result schema and who may call it
  tagocheck routes --plan starter  ... and the starter plan's requests per minute
"""

EPILOG_VALIDATE = """examples:
  tagocheck validate envelope response.json
  curl -s "$URL/data" -H "Device-Token: $T" | tagocheck validate envelope
  tagocheck validate 'results/data#records' records.json
  tagocheck validate --list        the names of every schema
"""

EPILOG_OPENAPI = """examples:
  tagocheck openapi --out tagoio.openapi.json
  tagocheck openapi --server https://api.us-e1.tago.io | jq '.paths | keys'
  SCHEMATHESIS_HOOKS=tagocheck.schemathesis_hooks st run tagoio.openapi.json ...   (README)
"""

EMBEDDED_FLEET = 40_000
"""The embedded target's default fleet: 20,000 reports/s at the 2-s interval, above what this
machine's generator and target take together, so the default search finds their limit rather
than the fleet's end (the embedded target seeds it in a second)."""

EPILOG_CAPACITY = """examples:
  tagocheck capacity                                   the embedded target, defaults (make demo)
  tagocheck capacity --devices 40000 --search-seconds 300 --precision 0.02
  tagocheck capacity --devices 20000 --interval 2 --steps 8 --step-seconds 30   a fixed ramp
  TAGOIO_API=https://api.us-e1.tago.io TAGOIO_PROFILE_TOKEN=... \\
      tagocheck capacity --plan starter --devices 50    a real account: preflight first
  tagocheck capacity --plan starter --devices 50 --budget 20000 --yes

Against a real account it prints what it will create and consume, and refuses to start without
--yes when the run would exceed a plan limit or the --budget. Ctrl-C stops it cleanly: what it
created is removed and the report of what it had is written.
"""

EPILOG_REPORT = """examples:
  tagocheck report reports/20261126-120000
  tagocheck report reports/today --baseline reports/last-week
  tagocheck report reports/today --contract reports/contract/contract-report.json
"""

EPILOG_SERVE = """

examples:
  tagocheck serve --port 0 --state-dir /tmp/target      a free port; prints the ready line
  tagocheck serve --plan starter --rate-window-seconds 5 --fault lose-writes=0.05
  tagocheck serve --tls --port 8443                      HTTPS, CA path in the ready line
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # Soft wrap: long lines stay whole, so output piped to a file or grep is not broken up; and
    # a table or progress line piped is not cut to the 80 columns rich assumes off a terminal.
    width = None if sys.stdout.isatty() else PIPED_WIDTH
    out = Console(soft_wrap=True, width=width)
    err = Console(stderr=True, soft_wrap=True)
    # SIGTERM (a timeout, a cancelled CI job) stops a run as Ctrl-C does: the parts running
    # are stopped, the report is written, temporary state holding tokens is removed
    signal.signal(signal.SIGTERM, _interrupted_by("SIGTERM"))
    try:
        return args.run(args, out)
    except (UsageError, schemas.ContractDataError) as error:
        err.print(f"tagocheck: {error}", markup=False, highlight=False)
        return 2
    except KeyboardInterrupt:
        err.print("tagocheck: interrupted", highlight=False)
        return 130


PIPED_WIDTH = 160


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as SIGINT is; its name goes in the report."""


def _interrupted_by(name: str):
    def handler(signum: int, frame: Any) -> None:
        raise Terminated(name)

    return handler


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="tagocheck",
        description="Load-testing and compliance-checking for the TagoIO REST API.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    capacity = commands.add_parser(
        "capacity",
        help="the main job: how much fleet traffic the target takes",
        description="Start the embedded target (or use $TAGOIO_API), provision a fleet, run the "
        "contract suite's fast tests, search for the highest load that meets the thresholds "
        "(doubling the devices reporting until a step breaks them, then bisecting; --steps N for "
        "a fixed ramp instead), and write the HTML report; print its path and the verdict.",
        epilog=EPILOG_CAPACITY,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = capacity.add_argument
    add(
        "--target",
        default=os.environ.get("TAGOIO_API"),
        help="base URL (default $TAGOIO_API; none: the embedded target)",
    )
    add(
        "--plan",
        help="the account's plan: free, starter, scale, or none (no plan: nothing judged against "
        "plan limits; embedded default: none)",
    )
    from dataclasses import replace

    from tagocheck.options import FLEET_SHAPE, OPTIONS

    defaults = {
        "--devices": (None, "devices in the fleet (embedded default 40000, else 50)"),
        "--interval": ("2", None),  # a fleet that reaches its steps fast
        "--steps": (0, None),
        "--step-seconds": (10.0, "seconds each step is held"),
        "--check-p99-ms": (500.0, "a step meets the thresholds with p99 at most this"),
        "--check-error-rate": (
            0.01,
            "... and at most this share of reports not answered: failed, refused or broke "
            "the contract",
        ),
    }
    flags = ("--devices", *FLEET_SHAPE, "--steps", "--step-seconds", "--search-seconds")
    flags += ("--precision", "--users", "--processes")
    flags += ("--ca-cert",)
    for flag in (*flags, "--check-p99-ms", "--check-error-rate"):
        option = OPTIONS[flag]
        default, help_text = defaults.get(flag, (option.default, None))
        option = replace(option, default=default, help=help_text or option.help)
        kwargs = option.argparse_kwargs()
        if default is not None:
            kwargs["help"] += f" (default {option.shown(default)})"
        add(flag, **kwargs)
    add("--run-dir", type=Path, help="where the run goes (reports/capacity-<timestamp>)")
    add("--overwrite", action="store_true", help="empty a --run-dir that holds an earlier run")
    add(
        "--budget",
        type=int,
        default=50_000,
        help="most data-input plus data-output "
        "transactions the run may consume on a real account (50,000)",
    )
    add("--yes", action="store_true", help="start even if the preflight finds a limit exceeded")
    add("--no-contract", action="store_true", help="skip the contract suite's fast tests")
    add(
        "--ssl-false",
        action="store_true",
        help="send _ssl=false with every request: what TagoIO asks of plain-HTTP clients",
    )
    capacity.set_defaults(run=_capacity)

    report = commands.add_parser(
        "report",
        help="write the HTML capacity report of a load run",
        description="Build RUN_DIR/report.html from a load run's directory: the verdict, the "
        "configuration, plots, rate limits, compliance and integrity. The file is "
        "self-contained: it opens offline and fetches nothing.",
        epilog=EPILOG_REPORT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a load run's directory")
    report.add_argument(
        "--baseline", type=Path, metavar="OTHER_RUN_DIR", help="compare every metric with this run"
    )
    report.add_argument(
        "--fail-on-regression",
        type=float,
        metavar="PERCENT",
        help="exit 1 when a metric comparable with the baseline's is worse by more than this",
    )
    report.add_argument(
        "--contract",
        type=Path,
        metavar="FILE",
        help="the contract suite's contract-report.json (its junit.xml beside it is read too)",
    )
    report.set_defaults(run=_report)

    from tagocheck.server import serve

    serve_parser = commands.add_parser(
        "serve",
        help="run the embedded TagoIO-compatible target",
        description=serve.DESCRIPTION,
        epilog=serve.fault_help() + EPILOG_SERVE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_arguments(serve_parser)
    serve_parser.set_defaults(run=lambda args, out: serve.run(args))

    route_list = commands.add_parser(
        "routes",
        help="show the route table, permissions and rate limits",
        description="The routes the suite calls, as schemas/ describes them.",
        epilog=EPILOG_ROUTES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    route_list.add_argument("--plan", help="show this plan's requests per minute per route")
    route_list.set_defaults(run=_routes)

    validate = commands.add_parser(
        "validate",
        help="validate a JSON document against a named schema",
        description="Check a response body (or any JSON) against one of the suite's schemas. "
        "Exit status 0 when it conforms, 1 when it does not, 2 on bad input.",
        epilog=EPILOG_VALIDATE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument(
        "schema", nargs="?", help="schema name, e.g. envelope, results/data#added"
    )
    validate.add_argument("file", nargs="?", default="-", help="JSON file; - or absent for stdin")
    validate.add_argument("--list", action="store_true", help="list the schema names and exit")
    validate.set_defaults(run=_validate)

    openapi_parser = commands.add_parser(
        "openapi",
        help="write the contract as one OpenAPI 3.1 document",
        description="schemas/ rendered as OpenAPI 3.1: every route with its parameters, bodies, "
        "responses per status, a security scheme per token header and links for the stateful "
        "flows. Generated from the route table, schemas and permission matrix each time, so it "
        "says what the contract suite checks, for Schemathesis and other OpenAPI tools.",
        epilog=EPILOG_OPENAPI,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    openapi_parser.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    openapi_parser.add_argument(
        "--server", metavar="URL", help="the document's server URL (default: none named)"
    )
    openapi_parser.set_defaults(run=_openapi)
    return parser


def _capacity(args: argparse.Namespace, out: Console) -> int:
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
    if not embedded and args.via == "network":
        unset = [
            name
            for name in ("TAGOIO_NETWORK_TOKEN", "TAGOIO_AUTHORIZATION")
            if not os.environ.get(name)
        ]
        if unset:
            raise UsageError(
                f"--via network on a real target needs ${' and $'.join(unset)} (the network "
                "token the uplinks are posted with, the profile's authorization key)"
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


def _report(args: argparse.Namespace, out: Console) -> int:
    """Exit 0, or 1 when the run directory is damaged (the verdict cannot vouch for the run) or
    a metric regressed beyond --fail-on-regression; 2 on bad input."""
    from tagocheck.report import ReportError, compare, rundata, verdict, write_report

    if args.fail_on_regression is not None and not args.baseline:
        raise UsageError("--fail-on-regression needs --baseline")
    if args.fail_on_regression is not None and not 0 <= args.fail_on_regression < 1e6:
        raise UsageError("--fail-on-regression takes a percentage, 0 or more")
    try:
        share = (
            args.fail_on_regression / 100
            if args.fail_on_regression is not None
            else compare.REGRESSION
        )
        written = write_report(
            args.run_dir, baseline=args.baseline, contract=args.contract, regression_share=share
        )
        run = rundata.load(args.run_dir)
        base = rundata.load(args.baseline) if args.baseline else None
    except (ReportError, rundata.RunDirError) as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot write the report: {error.strerror}: {error.filename}") from None
    out.print(f"report written to {written}", highlight=False)
    found = verdict.judge(run)  # the run already loaded, for the comparison too
    out.print(found.headline, markup=False, highlight=False)
    code = 0
    if run.missing:
        out.print(f"the run directory is damaged: {'; '.join(run.missing)}", highlight=False)
        code = 1
    if base is not None:
        comparison = compare.compare(run, base)
        for line in comparison.differences:
            out.print(f"not comparable: {line}", markup=False, highlight=False)
        if args.fail_on_regression is not None:
            worse = comparison.regressions(args.fail_on_regression / 100)
            for delta in worse:
                out.print(
                    f"regression: {delta.metric} {delta.change_text} (baseline "
                    f"{delta.baseline:g}, now {delta.current:g})",
                    markup=False,
                    highlight=False,
                )
            code = code or (1 if worse else 0)
    return code


def _routes(args: argparse.Namespace, out: Console) -> int:
    table = routes.route_table()
    matrix = permissions.permission_matrix()
    limits = ratelimits.rate_limits()
    if args.plan and args.plan not in limits.plans:
        raise UsageError(f"unknown plan {args.plan!r}; plans are {', '.join(limits.plans)}")
    view = Table(title="TagoIO routes (schemas/routes.json)")
    view.add_column("route")
    view.add_column("success")
    view.add_column("result schema")
    view.add_column("allowed token kinds")
    if args.plan:
        view.add_column(f"{args.plan} req/min", justify="right")
    for route in table:
        row = [
            route.id,
            "/".join(str(s) for s in route.success_status),
            route.result,
            ", ".join(matrix.allowed_kinds(route.id)),
        ]
        if args.plan:
            limit = limits.per_minute(args.plan, route.id)
            row.append("not documented" if limit is None else f"{limit:,}")
        view.add_row(*row)
    out.print(view)
    return 0


def _openapi(args: argparse.Namespace, out: Console) -> int:
    from tagocheck.spec import openapi
    from tagocheck.wire import reach

    try:
        server = reach.check_url(args.server) if args.server else None
    except reach.Unreachable as error:
        raise UsageError(str(error)) from None
    text = json.dumps(openapi.document(server), indent=2, ensure_ascii=False) + "\n"
    if not args.out:
        sys.stdout.write(text)
        return 0
    path = Path(args.out)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None
    out.print(f"wrote {path} (OpenAPI {openapi.OPENAPI_VERSION})", highlight=False)
    return 0


def _validate(args: argparse.Namespace, out: Console) -> int:
    if args.list:
        for name in schemas.schema_names():
            out.print(name, highlight=False)
            for anchor in schemas.anchors(name):
                out.print(f"{name}#{anchor}", highlight=False)
        return 0
    if not args.schema:
        raise UsageError("validate needs a schema name (see: tagocheck validate --list)")
    try:
        schemas.resolve(args.schema)
    except Exception:
        raise UsageError(
            f"no schema named {args.schema!r} (see: tagocheck validate --list)"
        ) from None
    instance = _read_json(args.file)
    problems = schemas.errors(args.schema, instance)
    if not problems:
        matched = schemas.variants(args.schema, instance)
        variant = f" (variant: {', '.join(matched)})" if matched else ""
        out.print(f"valid: conforms to {args.schema}{variant}", highlight=False)
        return 0
    out.print(f"invalid: {len(problems)} violation(s) of {args.schema}", highlight=False)
    for error in problems:
        out.print(f"  at {scrub(schemas.explain(error))}", markup=False, highlight=False)
    return 1


def _read_json(file: str) -> Any:
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {file}: {error.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        snippet = text.strip()[:40]
        raise UsageError(
            f"{file} is not JSON ({error.msg}); it starts with {scrub(snippet)!r}"
        ) from None
