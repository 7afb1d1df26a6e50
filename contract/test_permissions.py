"""The token-permission matrix of schemas/permissions.json, one test per cell.

An allowed cell must succeed. A denied cell must get a failure envelope with one of the accepted
status codes, and must store and reveal nothing: what the request would have changed is read back
with a token allowed to read it, before and after.
"""

from __future__ import annotations

import pytest
from calls import build

from tagocheck import checks, permissions

MATRIX = permissions.permission_matrix()
CELLS = list(MATRIX)


@pytest.mark.parametrize("cell", CELLS, ids=[c.id for c in CELLS])
def test_permission(cell, fleet):
    if cell.token_kind in ("network", "analysis-no-policy") and not fleet.tokens_for(
        cell.token_kind
    ):
        pytest.skip(f"no {cell.token_kind} token for this target")
    call = build(cell.route, fleet)
    try:
        before = call.state() if call.state and not cell.allowed else None
        reply = fleet.client.request(
            call.method,
            call.path,
            token=fleet.tokens_for(cell.token_kind),
            token_kind=cell.token_kind,
            params=call.params,
            json=call.json,
        )
        if cell.allowed:
            assert reply.ok, f"{cell.id} is allowed, but got HTTP {reply.status}: {reply.message}"
            return
        assert reply.verdict.outcome == checks.REJECTED, (
            f"{cell.id} must be denied, but got HTTP {reply.status} ({reply.verdict.outcome})"
        )
        assert reply.status in cell.status, (
            f"{cell.id}: HTTP {reply.status}; accepted: {', '.join(map(str, cell.status))}"
        )
        assert reply.body["status"] is False
        if cell.message:
            assert reply.message == cell.message
        if call.state:
            assert call.state() == before, f"{cell.id} was denied, yet it changed what it targets"
    finally:
        for undo in call.cleanup:
            undo()


def test_a_device_token_never_reads_another_devices_data(fleet):
    """Cross-device reads: data posted to device A is invisible to device B's token."""
    variable = "cross_device_secret"
    fleet.as_a(
        "POST",
        json={"variable": variable, "value": 42},
    )
    for params in ({"variables": variable, "qty": 100}, {"qty": 10000}):
        seen = fleet.client.request(
            "GET", "/data", token=fleet.b.token, token_kind="device-full", params=params
        ).result
        leaked = [r for r in seen if r.get("device") != fleet.b.id]
        assert not leaked, f"device B's token read {len(leaked)} records of other devices"
