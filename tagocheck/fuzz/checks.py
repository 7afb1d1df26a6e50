"""tagocheck's checks as Schemathesis checks (its `@schemathesis.check` extension point), so a run
of Schemathesis with any TagoIO-compatible OpenAPI file, TagoIO's own included, judges every
response as the contract suite does:

- `tagoio_envelope`: the body is TagoIO's envelope, and its status agrees with the HTTP status;
- `tagoio_result`: a success's result follows its route's result schema (routes the route table
  knows; a 429 follows the documented 429);
- `tagoio_permission`: the token sent may call the route (schemas/permissions.json): a denied
  token's request that succeeded leaked; an allowed token's 401 is a refusal.

All three grade by the source's label as the suite does: only violations fail a case (a
documented-by-example form or what no source states is not a Schemathesis failure). Loaded by
`SCHEMATHESIS_HOOKS=tagocheck.schemathesis_hooks`, which imports this module.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import parse_qs, urlsplit

import schemathesis

from tagocheck.fuzz.tokens import TOKEN_KINDS_ENV, token_fingerprint
from tagocheck.judge import checks
from tagocheck.judge.findings import VIOLATION, graded
from tagocheck.spec.permissions import permission_matrix

ENVELOPE_CHECKS = {"envelope", "status-code"}
TOKEN_HEADERS = ("device-token", "profile-token", "account-token", "token", "authorization")


def _verdict(response: Any, case: Any) -> checks.Verdict:
    request = response.request
    url = urlsplit(str(request.url))
    query = {k: v for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    return checks.judge(
        str(request.method),
        url.path,
        response.status_code,
        response.content,
        headers=dict(response.headers),
        token_kind=token_kind(request.headers),
        query=query,
    )


def _fail(found: list[checks.Violation]) -> None:
    if found:
        raise AssertionError("\n".join(f"{f} (expected: {f.expected})" for f in found))


@schemathesis.check
def tagoio_envelope(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every answer, on every operation, is TagoIO's JSON envelope [C]."""
    verdict = _verdict(response, case)
    _fail([v for v in verdict.violations if v.check in ENVELOPE_CHECKS])
    return None


@schemathesis.check
def tagoio_result(ctx: Any, response: Any, case: Any) -> bool | None:
    """A success's result, and a 429's body, follow the route table's schemas."""
    verdict = _verdict(response, case)
    _fail([v for v in verdict.violations if v.check not in ENVELOPE_CHECKS])
    return None


@schemathesis.check
def tagoio_permission(ctx: Any, response: Any, case: Any) -> bool | None:
    """The token sent may call the route, by the permission matrix."""
    verdict = _verdict(response, case)
    kind = token_kind(response.request.headers)
    if verdict.route is None or kind is None:
        return None  # a route the matrix does not list, or a token of no known kind
    matrix = permission_matrix()
    if verdict.route not in matrix.routes:
        return None
    cell = matrix.cell(verdict.route, kind)
    if graded(VIOLATION, cell.basis) != VIOLATION:
        return None  # what no source states is an observation, never a failure
    if not cell.allowed and verdict.succeeded:
        raise AssertionError(
            f"permission leak: a {kind} token is denied {verdict.route} [{cell.basis}], "
            f"yet HTTP {response.status_code} with a success envelope"
        )
    if cell.allowed and response.status_code == 401:
        raise AssertionError(
            f"permission refused: a {kind} token may call {verdict.route} [{cell.basis}], "
            f"yet HTTP 401: {verdict.said or ''}"
        )
    return None


def token_kind(headers: Any) -> str | None:
    """The kind of the one token a request carried: `none` without one; by TAGOCHECK_TOKEN_KINDS
    when `tagocheck fuzz` set it; else by the documented prefixes (p- profile, n- network) [C].
    A bare UUID is some device's (or an older) token of unknown permission: None, not judged."""
    sent = {
        str(value).strip()
        for name, value in dict(headers).items()
        if name.lower() in TOKEN_HEADERS and str(value).strip()
    }
    if not sent:
        return "none"
    if len(sent) > 1:
        return None
    token = sent.pop()
    known = json.loads(os.environ.get(TOKEN_KINDS_ENV) or "{}")
    if token_fingerprint(token) in known:
        return known[token_fingerprint(token)]
    if token.startswith("p-"):
        return "profile"
    if token.startswith("n-"):
        return "network"
    return None
