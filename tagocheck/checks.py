"""The one registry of checks every response goes through.

The contract suite's recorder, the Locust request hook and `tagocheck capacity` all call `judge`,
so a response is classified and checked the same way wherever it was seen. Checks read the
contract from schemas/ (through the route table); none of them knows the embedded target.

Each response gets an outcome (accepted, rate-limited, rejected, server-error, not-envelope) and a
list of violations, each naming the check that failed. `variants` records which documented variant
the response used where official sources disagree, so drift is counted rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from tagocheck import ratelimits, routes, schemas
from tagocheck.redact import scrub

ACCEPTED = "accepted"
RATE_LIMITED = "rate-limited"
REJECTED = "rejected"
SERVER_ERROR = "server-error"
NOT_ENVELOPE = "not-envelope"
TRANSPORT_ERROR = "transport-error"
OUTCOMES = (ACCEPTED, RATE_LIMITED, REJECTED, SERVER_ERROR, NOT_ENVELOPE, TRANSPORT_ERROR)


@dataclass(frozen=True)
class Violation:
    check: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.check} at {self.where}: {self.message}"


@dataclass
class Verdict:
    route: str | None
    status: int
    outcome: str
    violations: list[Violation] = field(default_factory=list)
    variants: dict[str, list[str]] = field(default_factory=dict)
    """Drift point -> the documented variants this response matched."""
    message: str | None = None
    """A failure envelope's message (tokens redacted)."""
    added: int | None = None
    """N of an accepted "N Data Added"."""
    succeeded: bool = False
    """The body is an envelope with status true: the target says it did what was asked, whatever
    else is wrong with the answer."""

    @property
    def ok(self) -> bool:
        return not self.violations


def parse_body(body: bytes | str | Any) -> tuple[bool, Any]:
    """(parsed, value): raw bytes or text are parsed as JSON; anything else is taken as parsed."""
    if isinstance(body, bytes | str):
        try:
            return True, orjson.loads(body)
        except orjson.JSONDecodeError:
            return False, None
    return True, body


CACHEABLE_BODY = 1024
"""Bodies up to this size are judged once: a load run sees the same few answers again and again."""


def judge(
    method: str,
    path: str,
    status: int,
    body: bytes | str | Any,
    *,
    headers: Mapping[str, str] | None = None,
    token_kind: str | None = None,
    query: Mapping[str, Any] | None = None,
) -> Verdict:
    """Classify one response and run every check that applies to it.

    A verdict depends only on the request line, the status, the body, the Retry-After header, the
    token kind and the query, so for small bodies it is computed once and reused: a load run's
    millions of `"1 Data Added"` answers cost a dictionary lookup each, not a schema validation.
    Callers must treat a verdict as read-only.
    """
    if isinstance(body, bytes) and len(body) <= CACHEABLE_BODY:
        retry_after = None
        if headers is not None and status == 429:
            retry_after = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        frozen_query = (
            tuple(
                sorted(
                    (k, tuple(v) if isinstance(v, list | tuple) else v) for k, v in query.items()
                )
            )
            if query
            else ()
        )
        return _judge_cached(method, path, status, body, retry_after, token_kind, frozen_query)
    return _judge(method, path, status, body, headers=headers, token_kind=token_kind, query=query)


@lru_cache(maxsize=4096)
def _judge_cached(
    method: str,
    path: str,
    status: int,
    body: bytes,
    retry_after: str | None,
    token_kind: str | None,
    query: tuple,
) -> Verdict:
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    return _judge(
        method,
        path,
        status,
        body,
        headers=headers,
        token_kind=token_kind,
        query={k: list(v) if isinstance(v, tuple) else v for k, v in query},
    )


def _judge(
    method: str,
    path: str,
    status: int,
    body: bytes | str | Any,
    *,
    headers: Mapping[str, str] | None = None,
    token_kind: str | None = None,
    query: Mapping[str, Any] | None = None,
) -> Verdict:
    table = routes.route_table()
    found = table.match(method, path)
    route = found.route if found else None
    verdict = Verdict(route=route.id if route else None, status=status, outcome=_outcome(status))
    parsed, value = parse_body(body)
    if not parsed:
        verdict.outcome = NOT_ENVELOPE
        verdict.violations.append(Violation("envelope", "/", "the body is not JSON"))
        return verdict
    problems = schemas.errors(table.envelope, value)
    if problems:
        verdict.outcome = NOT_ENVELOPE
        verdict.violations += [_violation("envelope", p) for p in problems]
        return verdict
    succeeded = verdict.succeeded = value["status"] is True
    if not succeeded:
        verdict.message = scrub(_failure_message(value))
        verdict.variants["failure-message"] = schemas.variants(table.envelope, value)
    if succeeded != (200 <= status < 300):
        verdict.violations.append(
            Violation(
                "status-code",
                "/status",
                f"HTTP {status} with a {'success' if succeeded else 'failure'} envelope",
            )
        )
    if status == 429:
        verdict.violations += _check_too_many_requests(table, value, headers or {})
    if route is not None and succeeded and 200 <= status < 300:
        if status not in route.success_status:
            expected = " or ".join(map(str, route.success_status))
            message = f"HTTP {status}; {route.id} answers {expected}"
            verdict.violations.append(Violation("status-code", "/status", message))
        if len(route.success_status) > 1:
            verdict.variants["success-status"] = [str(status)]
        name = route.result_schema(token_kind, query or {})
        verdict.violations += [
            _violation("result", p, prefix="/result") for p in schemas.errors(name, value["result"])
        ]
        result = value["result"]
        if isinstance(result, str) and result.endswith(" Data Added"):
            count = result.split(" ", 1)[0]
            verdict.added = int(count) if count.isdigit() else None
        matched = schemas.variants(name, value["result"])
        if matched:
            verdict.variants[f"{route.id} result"] = matched
    return verdict


def _outcome(status: int) -> str:
    if status == 429:
        return RATE_LIMITED
    if status >= 500:
        return SERVER_ERROR
    if status >= 400:
        return REJECTED
    return ACCEPTED


def _failure_message(value: Mapping[str, Any]) -> str:
    if isinstance(value.get("message"), str):
        return value["message"]
    result = value.get("result")
    return result.get("message", "") if isinstance(result, dict) else ""


def _violation(check: str, error: Any, prefix: str = "") -> Violation:
    where, _, message = schemas.explain(error).partition(": ")
    return Violation(check, (prefix + where).rstrip("/") or "/", scrub(message))


def _check_too_many_requests(
    table: routes.RouteTable, value: Any, headers: Mapping[str, str]
) -> list[Violation]:
    limits = ratelimits.rate_limits()
    found = [
        _violation("too-many-requests", p) for p in schemas.errors(table.status_bodies[429], value)
    ]
    lowered = {k.lower(): v for k, v in headers.items()}
    header = lowered.get(limits.retry_after_header.lower())
    if header is not None and not header.strip().isdigit():
        found.append(
            Violation("too-many-requests", "Retry-After", f"not whole seconds: {header!r}")
        )
    return found
