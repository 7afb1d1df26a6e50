"""The contract's own commands: `tagocheck routes` (the route table with token kinds and a
plan's limits), `tagocheck openapi` and `tagocheck validate`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tagocheck.redact import scrub
from tagocheck.spec import permissions, ratelimits, routes, schemas
from tagocheck.usage import UsageError


def show_routes(args: argparse.Namespace, out: Console) -> int:
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


def write_openapi(args: argparse.Namespace, out: Console) -> int:
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


def run_validate(args: argparse.Namespace, out: Console) -> int:
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
    instance = read_json(args.file)
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


def read_json(file: str) -> Any:
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
