"""The token-permission matrix of schemas/permissions.json, one test per cell.

An allowed cell must succeed. A denied cell leaks only when its request succeeded or changed what
it targets (read back with a token allowed to read it, before and after): that is a violation. A
denial with another status code or message than the documented one is a deviation. A cell whose
before-and-after state could not be read is "not judged", never a leak.
"""

from __future__ import annotations

import pytest
from calls import build, quota_refused
from fleet_setup import Blocked, fail_with

from tagocheck.judge.findings import DEVIATION, VIOLATION
from tagocheck.spec import permissions

MATRIX = permissions.permission_matrix()
CELLS = list(MATRIX)


def read_state(call, cell):
    try:
        return call.state()
    except Blocked as error:
        pytest.skip(f"not judged: what {cell.id} targets could not be read ({error})")


@pytest.mark.parametrize("cell", CELLS, ids=[c.id for c in CELLS])
def test_permission(cell, fleet):
    """One cell of the token-permission matrix: allowed, it succeeds; denied, it neither succeeds
    nor changes what it targets, at the cell's own basis (schemas/permissions.json) [C]."""
    if cell.token_kind in ("network", "analysis-no-policy") and not fleet.tokens_for(
        cell.token_kind
    ):
        pytest.skip(f"no {cell.token_kind} token for this target")
    if cell.token_kind in ("device-expired", "token-deleted") and not fleet.tokens_for(
        cell.token_kind
    ):
        pytest.skip(f"not judged: the run could not make a {cell.token_kind} token")
    call = build(cell.route, fleet)
    if cell.allowed and call.missing:
        pytest.skip(f"not judged: {call.missing}")
    recorder = fleet.recorder
    try:
        before = read_state(call, cell) if call.state and not cell.allowed else None
        reply = fleet.client.request(
            call.method,
            call.path,
            token=fleet.tokens_for(cell.token_kind),
            token_kind=cell.token_kind,
            params=call.params,
            json=call.json,
        )
        said = f"HTTP {reply.status}: {reply.said or reply.verdict.outcome}"

        def found(check: str, severity: str, expected: str, observed: str = said):
            return recorder.find(
                cell.route,
                check,
                severity,
                where=cell.token_kind,
                expected=f"{expected} [{cell.basis}]",
                observed=observed,
                reproduction=reply.curl,
            )

        if cell.allowed:
            quota = quota_refused(cell.route, reply)
            if quota:
                pytest.skip(f"not judged: {quota}")
            if not reply.verdict.succeeded:
                may = f"a {cell.token_kind} token may call {cell.route}"
                fail_with(found("permission-refused", VIOLATION, may))
            return
        changed = call.state is not None and read_state(call, cell) != before
        if reply.verdict.succeeded or changed:
            how = "succeeded" if reply.verdict.succeeded else "was refused, yet changed its target"
            denied = f"a {cell.token_kind} token is denied {cell.route}"
            fail_with(found("permission-leak", VIOLATION, denied, f"{how} ({said})"))
        if cell.status and reply.status not in cell.status:
            codes = " or ".join(map(str, cell.status))
            found("denial-status", DEVIATION, f"denied with HTTP {codes}")
        if cell.message and reply.message != cell.message:
            found("denial-message", DEVIATION, f"denied with {cell.message!r}")
    finally:
        for undo in call.cleanup:
            undo()


@pytest.mark.subjects("GET /data")
def test_a_device_token_never_reads_another_devices_data(fleet):
    """Cross-device reads: data posted to device A is invisible to device B's token, which names
    one device (facts 1) [C]."""
    variable = "cross_device_secret"
    fleet.as_a("POST", json={"variable": variable, "value": 42})
    for params in ({"variables": variable, "qty": 100}, {"qty": 10000}):
        reply = fleet.client.request(
            "GET", "/data", token=fleet.b.token, token_kind="device-full", params=params
        )
        seen = reply.result if isinstance(reply.result, list) else []
        leaked = [r for r in seen if isinstance(r, dict) and r.get("device") != fleet.b.id]
        if leaked:
            fail_with(
                fleet.recorder.find(
                    "GET /data",
                    "cross-device-read",
                    VIOLATION,
                    expected="a device token reads its own device's data only [C]",
                    observed=f"device B's token read {len(leaked)} records of other devices",
                    reproduction=reply.curl,
                )
            )


@pytest.mark.subjects("GET /integration/network/resolve/{serial}/{authorization}")
def test_a_wrong_authorization_key_resolves_no_token(fleet):
    """The resolve route that takes a profile's authorization key checks it [C]: with a key
    that is no profile's, it gives no device token (else any network may read any profile's)."""
    if not fleet.target.network_token:
        pytest.skip("no network token for this target")
    route = "GET /integration/network/resolve/{serial}/{authorization}"
    reply = fleet.client.request(
        "GET",
        f"/integration/network/resolve/{fleet.a.serial}/{WRONG_KEY}",
        token=fleet.target.network_token,
        token_kind="network",
    )
    if reply.verdict.succeeded and reply.result is not None:
        fail_with(
            fleet.recorder.find(
                route,
                "authorization-ignored",
                VIOLATION,
                expected="a key that is no profile's resolves no device token [C]",
                observed=f"HTTP {reply.status}: a token was returned",
                reproduction=reply.curl,
            )
        )


WRONG_KEY = "at" + "0" * 32
"""The shape of an authorization key, no profile's."""


def network_uplink(fleet, serial: str, key: str):
    """One uplink in the official form (the key as authorization_token, the device named by
    metadata.serial [X]), or with ?serial= when the run has no key. `key` names the key ("the
    profile's" or "wrong"), never holds it: a failing test's traceback shows its arguments."""
    authorization = WRONG_KEY if key == "wrong" else fleet.target.authorization
    params = {"authorization_token": authorization} if authorization else {"serial": serial}
    return fleet.client.request(
        "POST",
        "/integration/network/data",
        token=fleet.target.network_token,
        token_kind="network",
        params=params,
        json=[{"variable": "probe_uplink", "value": 1, "metadata": {"serial": serial}}],
    )


@pytest.mark.subjects("POST /integration/network/data")
def test_network_uplinks_with_a_wrong_authorization_key_are_refused(fleet):
    """The network route takes the profile's authorization key as authorization_token [X]: an
    uplink with a key that is no profile's is not taken (else any network posts into any
    profile)."""
    if not fleet.target.network_token:
        pytest.skip("no network token for this target")
    reply = network_uplink(fleet, fleet.a.serial, "wrong")
    if reply.verdict.succeeded:
        fail_with(
            fleet.recorder.find(
                "POST /integration/network/data",
                "authorization-ignored",
                VIOLATION,
                expected="an uplink with a key that is no profile's is refused [X]",
                observed=f"HTTP {reply.status}: the uplink was taken ({reply.message or 'ok'})",
                reproduction=reply.curl,
            )
        )


@pytest.mark.subjects("POST /integration/network/data")
def test_network_uplinks_naming_an_unknown_serial_are_refused(fleet):
    """The serial names the device the records go to [X]: an uplink naming a serial no device
    has cannot be stored anywhere, so an answer that it was added acknowledges records no
    device holds (an uplink lost while the network is told it arrived)."""
    if not fleet.target.network_token:
        pytest.skip("no network token for this target")
    serial = f"tagocheck-no-such-serial-{fleet.prefix}"
    reply = network_uplink(fleet, serial, "the profile's")
    if not reply.verdict.succeeded:
        return
    added = reply.verdict.added
    fail_with(
        fleet.recorder.find(
            "POST /integration/network/data",
            "unknown-serial-accepted",
            VIOLATION if added else DEVIATION,
            expected="an uplink names its device by metadata.serial: one naming no device's "
            "serial is refused with a failure envelope, not acknowledged as data added [C]",
            observed=f"HTTP {reply.status}: "
            + (f"{added} records acknowledged as added" if added else "the uplink was taken"),
            reproduction=reply.curl,
        )
    )
