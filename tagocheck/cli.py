"""The `tagocheck` command.

Errors a user can cause (a wrong flag, a missing file, a body that is not JSON) end in one clear
line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from tagocheck.fuzz.command import run_fuzz
from tagocheck.job.command import run_capacity
from tagocheck.report.command import run_report
from tagocheck.spec import schemas
from tagocheck.spec.commands import run_validate, show_routes, write_openapi
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

EPILOG_FUZZ = """examples:
  tagocheck fuzz --spec tagoio-api.yaml                  TagoIO's file, the embedded target
  tagocheck openapi --out ours.json && tagocheck fuzz --spec ours.json --seed 1
  TAGOIO_PROFILE_TOKEN=... TAGOIO_DEVICE_TOKEN=... \\
      tagocheck fuzz --spec https://example.com/openapi.yaml --target https://tago.example.com
"""

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
    capacity.set_defaults(run=run_capacity)

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
    report.set_defaults(run=run_report)

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
    route_list.set_defaults(run=show_routes)

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
    validate.set_defaults(run=run_validate)

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
    openapi_parser.set_defaults(run=write_openapi)

    fuzz = commands.add_parser(
        "fuzz",
        help="Schemathesis with an OpenAPI file, judged by tagocheck's checks",
        description="Run Schemathesis (st run) with an OpenAPI file of TagoIO's API (TagoIO's "
        "own, a compatible server's, or `tagocheck openapi`'s): its known defects are worked "
        "around, each said on a line, and every response of every operation is judged by "
        "tagocheck's envelope, result and permission checks and Schemathesis' "
        "not_a_server_error. Exit 0: no failure; 1: failures; 2: bad input.",
        epilog=EPILOG_FUZZ,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fuzz.add_argument("--spec", required=True, metavar="FILE|URL", help="the OpenAPI file")
    fuzz.add_argument(
        "--target",
        default=os.environ.get("TAGOIO_API"),
        help="base URL (default $TAGOIO_API; none: the embedded target); tokens from "
        "TAGOIO_PROFILE_TOKEN, TAGOIO_DEVICE_TOKEN (full), TAGOIO_NETWORK_TOKEN, "
        "TAGOIO_AUTHORIZATION and TAGOIO_SERIAL",
    )
    fuzz.add_argument("--seed", type=int, help="Schemathesis' seed (default: random)")
    fuzz.add_argument(
        "--max-examples", type=_positive, default=20, help="examples per operation (20)"
    )
    fuzz.add_argument("--phases", help="Schemathesis' phases (default: all of them)")
    fuzz.add_argument("--max-failures", type=_positive, help="stop after this many failures")
    fuzz.add_argument(
        "--all-checks", action="store_true", help="also every default check of Schemathesis"
    )
    fuzz.set_defaults(run=lambda args, out: run_fuzz(args))
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1")
    return int(text)
