"""The one registry of checks every response goes through.

The contract suite's recorder, the Locust request hook and `tagocheck capacity` all call `judge`,
so a response is classified and checked the same way wherever it was seen. Checks read the
contract from schemas/ (through the route table); none of them knows the embedded target.

Each response gets an outcome (accepted, rate-limited, rejected, server-error, not-envelope) and a
list of violations, each naming the check that failed. `variants` records which documented variant
the response used where official sources disagree, so drift is counted rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from tagocheck.judge.findings import DEVIATION, VIOLATION, graded, label_of
from tagocheck.redact import scrub
from tagocheck.spec import ratelimits, routes, schemas

ACCEPTED = "accepted"
RATE_LIMITED = "rate-limited"
REJECTED = "rejected"
SERVER_ERROR = "server-error"
NOT_ENVELOPE = "not-envelope"
TRANSPORT_ERROR = "transport-error"
OUTCOMES = (ACCEPTED, RATE_LIMITED, REJECTED, SERVER_ERROR, NOT_ENVELOPE, TRANSPORT_ERROR)


@dataclass(frozen=True)
class Violation:
    """One check a response did not pass, at its severity (tagocheck.judge.findings)."""

    check: str
    where: str
    message: str
    severity: str = VIOLATION
    expected: str = ""
    """What the contract says there, for a person: the schema's description or the keyword."""
    label: str | None = None
    """The source label of the rule (tagocheck.judge.findings.LABELS); the one `expected` ends on
    when not given."""

    def __post_init__(self) -> None:
        if self.label is None:
            object.__setattr__(self, "label", label_of(self.expected))
        # what no source states is an observation, in a load run as in the contract suite
        object.__setattr__(self, "severity", graded(self.severity, self.label or ""))

    def __str__(self) -> str:
        return f"{self.check} at {self.where}: {self.message}"


@dataclass
class Verdict:
    route: str | None
    status: int
    outcome: str
    violations: list[Violation] = field(default_factory=list)
    """Rules broken: the answer does not conform."""
    minor: list[Violation] = field(default_factory=list)
    """Deviations from a documented-by-example form, and observations: listed, not failures."""
    variants: dict[str, list[str]] = field(default_factory=dict)
    """Drift point -> the documented variants this response matched."""
    message: str | None = None
    """A failure envelope's message (tokens redacted)."""
    explanation: str | None = None
    """The keys a failure carried beside its message (`field_errors`...), compact and redacted:
    the target's own account of what it refused."""
    added: int | None = None
    """N of an accepted "N Data Added"."""
    succeeded: bool = False
    """The body is an envelope with status true: the target says it did what was asked, whatever
    else is wrong with the answer."""

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def said(self) -> str | None:
        """The message with the target's explanation, for a person to read."""
        if self.explanation:
            return f"{self.message or ''} [{self.explanation}]".strip()
        return self.message

    @property
    def findings(self) -> list[Violation]:
        return [*self.violations, *self.minor]

    def add(self, found: Violation) -> None:
        (self.violations if found.severity == VIOLATION else self.minor).append(found)


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
        verdict.add(Violation("envelope", "/", "the body is not JSON", expected=ENVELOPE_RULE))
        return verdict
    for problem in schemas.errors(table.envelope, value):
        verdict.add(_violation("envelope", problem))
    if verdict.violations:
        verdict.outcome = NOT_ENVELOPE
        return verdict
    succeeded = verdict.succeeded = value["status"] is True
    if not succeeded:
        verdict.message = scrub(_failure_message(value))
        explanation = _explanation(value)
        verdict.explanation = scrub(explanation) if explanation else None
        verdict.variants["failure-message"] = schemas.variants(table.envelope, value)
    if succeeded != (200 <= status < 300):
        verdict.add(
            Violation(
                "status-code",
                "/status",
                f"HTTP {status} with a {'success' if succeeded else 'failure'} envelope",
                expected="a success comes with a 2xx status, a failure with 4xx or 5xx [C]",
            )
        )
    if (
        route is not None
        and not succeeded
        and status == 404
        and _says_route_absent(verdict.message)
    ):
        verdict.add(
            Violation(
                "route-absent",
                "/",
                f"HTTP 404: {verdict.said}",
                expected=f"{route.id} is a documented route ({route.summary}) [{route.basis}]",
            )
        )
    if status == 429:
        for found_429 in _check_too_many_requests(table, value, headers or {}):
            verdict.add(found_429)
    if route is not None and succeeded and 200 <= status < 300:
        _check_success(verdict, route, status, value, token_kind, query or {})
    return verdict


ENVELOPE_RULE = "a JSON object with a boolean status (facts section 2) [C]"


def _check_success(
    verdict: Verdict,
    route: routes.Route,
    status: int,
    value: Mapping[str, Any],
    token_kind: str | None,
    query: Mapping[str, Any],
) -> None:
    if status not in route.success_status:
        expected = " or ".join(map(str, route.success_status))
        verdict.add(
            Violation(
                "status-code",
                "/status",
                f"HTTP {status}; {route.id} answers {expected}",
                severity=DEVIATION,
                expected=f"HTTP {expected}, as the docs show it (no rule forbids another 2xx) [C]",
            )
        )
    if len(route.success_status) > 1:
        verdict.variants["success-status"] = [str(status)]
    if "result" not in value:
        # The envelope graded this a deviation; for a route whose result is the data asked for,
        # nothing of the answer is left: a violation, named once.
        verdict.minor = [v for v in verdict.minor if v.where != "/" or "result" not in v.message]
        verdict.add(
            Violation(
                "result",
                "/result",
                "status true without a result",
                severity=DEVIATION if route.acknowledgement else VIOLATION,
                expected=f"{{status: true, result}} [C]; {route.id}'s result is "
                + ("only an acknowledgement" if route.acknowledgement else "the data asked for"),
            )
        )
        return
    name = route.result_schema(token_kind, query)
    for problem in schemas.errors(name, value["result"]):
        verdict.add(_violation("result", problem, prefix="/result"))
    result = value["result"]
    if isinstance(result, str) and result.endswith(" Data Added"):
        count = result.split(" ", 1)[0]
        verdict.added = int(count) if count.isdigit() else None
    matched = schemas.variants(name, value["result"])
    if matched:
        verdict.variants[f"{route.id} result"] = matched


def _outcome(status: int) -> str:
    if status == 429:
        return RATE_LIMITED
    if status >= 500:
        return SERVER_ERROR
    if status >= 400:
        return REJECTED
    return ACCEPTED


ROUTE_ABSENT = re.compile(
    r"\b(route|path|endpoint|resource)\b.*\bnot found\b|\bcannot (get|post|put|delete)\b", re.I
)


def _says_route_absent(message: str | None) -> bool:
    """A 404 that says the route, not the thing asked for, is missing ("route not found")."""
    return bool(message and ROUTE_ABSENT.search(message))


ENVELOPE_KEYS = {"status", "message", "result"}


def _failure_message(value: Mapping[str, Any]) -> str:
    """The failure's message wherever the target put it."""
    result = value.get("result")
    if isinstance(value.get("message"), str):
        return value["message"]
    if isinstance(result, dict) and isinstance(result.get("message"), str):
        return result["message"]
    return result if isinstance(result, str) else ""


def _explanation(value: Mapping[str, Any]) -> str | None:
    """Keys beside the failure's message (`field_errors`, `details`), compactly."""
    extra = {k: v for k, v in value.items() if k not in ENVELOPE_KEYS}
    result = value.get("result")
    if isinstance(result, dict):
        extra.update({k: v for k, v in result.items() if k != "message"})
    if not extra:
        return None
    said = orjson.dumps(extra).decode()
    return said if len(said) <= 300 else said[:300] + "..."


def _violation(check: str, error: Any, prefix: str = "") -> Violation:
    where, _, message = schemas.explain(error).partition(": ")
    expected = _expected(error)
    return Violation(
        check,
        (prefix + where).rstrip("/") or "/",
        scrub(message),
        severity=schemas.severity(error),
        expected=expected,
        label=schemas.label(error),  # else the one `expected` ends on (Violation)
    )


def _expected(error: Any) -> str:
    """What the schema asks there: its description where it has one, else the keyword."""
    described = error.schema.get("description") if isinstance(error.schema, dict) else None
    if described:
        return described
    said = orjson.dumps(error.validator_value).decode() if error.validator_value is not None else ""
    return f"{error.validator} {said[:120]}".strip()


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
            Violation(
                "too-many-requests",
                "Retry-After",
                f"not whole seconds: {header!r}",
                expected="Retry-After in whole seconds, as the 429 message gives them [SDK]",
            )
        )
    return found
