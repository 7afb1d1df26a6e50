"""Every route in the route table answers a well-formed request with its documented result.

The client validates each response against the envelope and the route's result schema; these
tests add the status code and the outcome.
"""

from __future__ import annotations

import pytest
from calls import build

from tagocheck import permissions, routes

TABLE = routes.route_table()
MATRIX = permissions.permission_matrix()
PREFERRED = ("device-full", "profile", "network")


def allowed_kind(route: str) -> str:
    kinds = MATRIX.allowed_kinds(route)
    return next((k for k in PREFERRED if k in kinds), kinds[0])


@pytest.mark.parametrize("route_id", TABLE.ids)
def test_route(route_id, fleet):
    route = TABLE[route_id]
    kind = allowed_kind(route_id)
    token = fleet.tokens_for(kind)
    if token is None:
        pytest.skip(f"no {kind} token for this target (see --network-token)")
    call = build(route_id, fleet)
    try:
        reply = fleet.client.request(
            call.method, call.path, token=token, token_kind=kind, params=call.params, json=call.json
        )
        assert reply.ok, f"{route_id}: HTTP {reply.status}: {reply.message}"
        assert reply.status in route.success_status
    finally:
        for undo in call.cleanup:
            undo()
