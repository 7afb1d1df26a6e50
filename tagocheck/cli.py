"""The `tagocheck` command.

Errors a user can cause (a wrong flag, a missing file, a body that is not JSON) end in one clear
line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tagocheck import permissions, ratelimits, routes, schemas
from tagocheck.redact import scrub

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

EPILOG_CAPACITY = """examples:
  make demo                        the same, with the project's virtual environment
  tagocheck capacity
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

# What `tagocheck capacity` will do, and the issue that builds each part.
CAPACITY_PARTS = [
    ("contract as data (schemas/, route table, permissions, plans)", None),
    ("embedded TagoIO-compatible target: tagocheck serve", None),
    ("contract suite: pytest contract/", None),
    ("fleet load tests and capacity steps: loadtests/", None),
    ("distributed load runs, ratelimit and soak scenarios", None),
    ("HTML capacity report: tagocheck report", None),
    ("the main job end to end: tagocheck capacity", "issue 7"),
]


class UsageError(Exception):
    """Something the user can fix; reported as one line, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # Soft wrap: long lines stay whole, so output piped to a file or grep is not broken up.
    out = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    try:
        return args.run(args, out)
    except (UsageError, schemas.ContractDataError) as error:
        err.print(f"tagocheck: {error}", markup=False, highlight=False)
        return 2
    except KeyboardInterrupt:
        err.print("tagocheck: interrupted", highlight=False)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tagocheck",
        description="Load-testing and compliance-checking for the TagoIO REST API.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    capacity = commands.add_parser(
        "capacity",
        help="the main job: how much fleet traffic the target takes (being built)",
        description="Start the target, provision a fleet, check the contract, raise the load in "
        "steps until the knee, and write the HTML report. Runs what exists so far and says what "
        "is still missing.",
        epilog=EPILOG_CAPACITY,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        "--contract",
        type=Path,
        metavar="FILE",
        help="the contract suite's contract-report.json (its junit.xml beside it is read too)",
    )
    report.set_defaults(run=_report)

    from tagocheck.target import serve

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
    return parser


def _capacity(args: argparse.Namespace, out: Console) -> int:
    table = routes.route_table()
    matrix = permissions.permission_matrix()
    limits = ratelimits.rate_limits()
    out.print("[bold]tagocheck capacity[/bold]")
    out.print(
        f"Contract loaded and checked against its own schemas: {len(schemas.schema_files())} "
        f"schemas, {len(table)} routes, {len(matrix)} permission cells "
        f"({len(matrix.token_kinds)} token kinds), plans {', '.join(limits.plans)}."
    )
    from tagocheck.smoke import ingest_round_trip

    summary = ingest_round_trip(out)
    out.print(summary.describe())
    status = Table(title="What the main job is made of", show_lines=False)
    status.add_column("part")
    status.add_column("state")
    for part, issue in CAPACITY_PARTS:
        status.add_row(part, "ready" if issue is None else f"[yellow]not built yet ({issue})")
    out.print(status)
    missing = sum(1 for _, issue in CAPACITY_PARTS if issue)
    out.print(
        f"{missing} parts are still missing, so no capacity steps ran and no report was written. "
        "`tagocheck routes --plan free` shows the contract a run checks."
    )
    return 0 if summary.ok else 1


def _report(args: argparse.Namespace, out: Console) -> int:
    from tagocheck.report import ReportError, write_report

    try:
        written = write_report(args.run_dir, baseline=args.baseline, contract=args.contract)
    except ReportError as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot write the report: {error.strerror}: {error.filename}") from None
    out.print(f"report written to {written}", highlight=False)
    return 0


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


def _validate(args: argparse.Namespace, out: Console) -> int:
    if args.list:
        for name in schemas.schema_names():
            out.print(name, highlight=False)
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
