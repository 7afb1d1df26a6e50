"""Every route in the route table answers a well-formed request with its documented result, and
a malformed body with a failure envelope that says why.

The client validates each response against the envelope and the route's result schema; these
tests add the outcome. Each test is about its route alone: a finding on a route it only used to
set itself up (seeding data, making a scratch device) is that route's finding, not this test's.
"""

from __future__ import annotations

import pytest
from calls import build, quota_refused
from fleet_setup import fail_with

from tagocheck.judge import checks
from tagocheck.judge.findings import VIOLATION
from tagocheck.spec import permissions, routes

TABLE = routes.route_table()
MATRIX = permissions.permission_matrix()
PREFERRED = ("device-full", "profile", "network")
NO_BODY = {"PUT /device/params/{id}", "POST /device/{id}/empty"}
WRITES = [r.id for r in TABLE if r.method in ("POST", "PUT") and r.id not in NO_BODY]
"""Routes that read a JSON body."""


def allowed_kind(route: str) -> str:
    kinds = MATRIX.allowed_kinds(route)
    return next((k for k in PREFERRED if k in kinds), kinds[0])


def token_or_skip(fleet, route_id: str) -> tuple[str, str]:
    kind = allowed_kind(route_id)
    token = fleet.tokens_for(kind)
    if token is None:
        pytest.skip(f"no {kind} token for this target (see --network-token)")
    return kind, token


@pytest.mark.parametrize("route_id", TABLE.ids)
def test_route(route_id, fleet):
    """A well-formed request with an allowed token succeeds, with the documented result [C]."""
    kind, token = token_or_skip(fleet, route_id)
    call = build(route_id, fleet)
    if call.missing:
        pytest.skip(f"not judged: {call.missing}")
    try:
        reply = fleet.client.request(
            call.method, call.path, token=token, token_kind=kind, params=call.params, json=call.json
        )
        quota = quota_refused(route_id, reply)
        if quota:
            pytest.skip(f"not judged: {quota}")
        if not reply.verdict.succeeded:
            fail_with(
                fleet.recorder.find(
                    route_id,
                    "refused",
                    VIOLATION,
                    expected=f"a well-formed request with a {kind} token succeeds "
                    f"[{MATRIX.cell(route_id, kind).basis}]",
                    observed=f"HTTP {reply.status}: {reply.said or reply.verdict.outcome}",
                    reproduction=reply.curl,
                )
            )
    finally:
        for undo in call.cleanup:
            undo()


MALFORMED = b'{"variable": "temp", "value": '


@pytest.mark.parametrize("route_id", WRITES)
def test_malformed_json_is_refused_with_a_message(route_id, fleet):
    """A body that is not JSON gets a failure envelope (4xx) with a message, never a success or
    a server error: a validation failure is a 400 [C]."""
    kind, token = token_or_skip(fleet, route_id)
    call = build(route_id, fleet)
    try:
        reply = fleet.client.request(
            call.method,
            call.path,
            token=token,
            token_kind=kind,
            params=call.params,
            data=MALFORMED,
            headers={"Content-Type": "application/json"},
        )
        if reply.verdict.outcome != checks.REJECTED or not reply.message:
            what = "no message" if reply.verdict.outcome == checks.REJECTED else "not refused"
            fail_with(
                fleet.recorder.find(
                    route_id,
                    "malformed-json",
                    VIOLATION,
                    expected="a body that is not JSON is refused (4xx, validation) with a "
                    "failure message [C]",
                    observed=f"HTTP {reply.status} ({reply.verdict.outcome}, {what}): "
                    f"{reply.said or reply.raw[:120].decode('utf-8', 'replace')}",
                    reproduction=reply.curl,
                )
            )
    finally:
        for undo in call.cleanup:
            undo()
