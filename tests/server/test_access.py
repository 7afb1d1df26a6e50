"""Tokens: every documented header, each kind scoped as the facts file says, expiry and deletion."""

from __future__ import annotations

import uuid

import pytest

from .conftest import Client


@pytest.fixture
def fleet(client: Client):
    serial = f"SN-{uuid.uuid4().hex[:8]}"
    made = client.device("access", type="mutable", serie_number=serial)
    device_id = made["device_id"]
    tokens = {
        "full": made["token"],
        "write": client.token(device_id, "write"),
        "read": client.token(device_id, "read"),
    }
    tokens["serial"] = serial
    return client, device_id, tokens


@pytest.mark.parametrize(
    "header",
    [
        "Device-Token",
        "Profile-Token",
        "Account-Token",
        "Analysis-Token",
        "Middleware-Token",
        "Token",
        "token",
        "Authorization",
    ],
)
def test_a_token_is_read_from_every_documented_header(fleet, header):
    client, _, tokens = fleet
    response = client.call("GET", "/info", headers={header: tokens["full"]})
    assert response.status_code == 200 and response.json()["status"] is True


def test_two_different_tokens_in_one_request_are_refused(fleet):
    client, _, tokens = fleet
    headers = {"Device-Token": tokens["full"], "Token": tokens["read"]}
    response = client.call("GET", "/info", headers=headers)
    assert response.status_code == 400 and "exactly one token" in response.json()["message"]


@pytest.mark.parametrize(
    ("permission", "method", "allowed"),
    [
        ("full", "POST", True),
        ("full", "GET", True),
        ("full", "PUT", True),
        ("full", "DELETE", True),
        ("write", "POST", True),
        ("write", "GET", False),
        ("write", "PUT", True),
        ("write", "DELETE", True),
        ("read", "POST", False),
        ("read", "GET", True),
        ("read", "PUT", False),
        ("read", "DELETE", False),
    ],
)
def test_device_permissions(fleet, permission, method, allowed):
    client, _, tokens = fleet
    body = {"variable": "p", "value": 1} if method == "POST" else None
    if method == "PUT":
        body = {"id": "0" * 24, "value": 2}
    response = client.call(method, "/data", tokens[permission], json=body)
    assert (response.status_code < 400) is allowed, response.text
    if not allowed:
        assert response.status_code == 403 and response.json()["status"] is False


def test_a_denied_write_stores_nothing(fleet):
    client, _, tokens = fleet
    before = client.call("GET", "/data", tokens["full"], params={"query": "count"}).json()
    client.call("POST", "/data", tokens["read"], json={"variable": "sneaky", "value": 1})
    after = client.call("GET", "/data", tokens["full"], params={"query": "count"}).json()
    assert before == after


def test_a_device_token_reads_only_its_own_device(client: Client):
    one, two = client.device("one"), client.device("two")
    client.call("POST", "/data", one["token"], json={"variable": "secret", "value": 1})
    seen = client.call("GET", "/data", two["token"], params={"variables": "secret"}).json()
    assert seen == {"status": True, "result": []}


@pytest.mark.parametrize("path", ["/device", "/device/token/" + "0" * 24])
def test_device_tokens_may_not_call_account_routes(fleet, path):
    client, _, tokens = fleet
    response = client.call("GET", path, tokens["full"])
    assert response.status_code == 403 and response.json()["status"] is False


def test_profile_token_may_not_call_device_routes(client: Client):
    response = client.profile("POST", "/data", json={"variable": "v", "value": 1})
    assert response.status_code == 403


def test_missing_and_malformed_tokens_are_401(client: Client):
    assert client.call("GET", "/info").status_code == 401
    assert client.call("GET", "/info", "not-a-token").status_code == 401


def test_expired_and_deleted_tokens_are_401(fleet):
    client, device_id, _ = fleet
    expired = client.token(device_id, "full", expire_time="2020-01-01T00:00:00Z")
    response = client.call("GET", "/info", expired)
    assert response.status_code == 401 and "expired" in response.json()["message"]
    doomed = client.token(device_id, "full")
    removed = client.profile("DELETE", f"/device/token/{doomed}")
    assert removed.json() == {"status": True, "result": "Token Successfully Removed"}
    assert client.call("GET", "/info", doomed).status_code == 401


@pytest.mark.parametrize("expire", ["never", "2099-01-01T00:00:00.000Z", "1 day"])
def test_token_expiry_forms(fleet, expire):
    client, device_id, _ = fleet
    response = client.profile(
        "POST",
        "/device/token",
        json={"device": device_id, "permission": "read", "expire_time": expire},
    )
    assert response.status_code == 201
    result = response.json()["result"]
    assert result["permission"] == "read"
    assert (result["expire_time"] == "never") is (expire == "never")
    assert client.call("GET", "/info", result["token"]).status_code == 200


def test_token_list_and_bad_permission(fleet):
    client, device_id, tokens = fleet
    listed = client.profile("GET", f"/device/token/{device_id}").json()["result"]
    assert {t["token"] for t in listed} >= {tokens[p] for p in ("full", "write", "read")}
    bad = client.profile("POST", "/device/token", json={"device": device_id, "permission": "admin"})
    assert bad.status_code == 400


def test_info_for_each_token_kind(fleet):
    client, device_id, tokens = fleet
    info = client.target.info
    assert client.call("GET", "/info", tokens["read"]).json()["result"]["id"] == device_id
    for kind in ("profile_token", "network_token", "analysis_token"):
        result = client.call("GET", "/info", info[kind]).json()["result"]
        assert len(result["id"]) == 24


def test_analysis_token_without_policy_is_denied_with_the_documented_message(client: Client):
    response = client.call("GET", "/device", client.target.info["analysis_token"])
    assert response.status_code == 401
    assert response.json() == {"status": False, "message": "Authorization Denied"}


def test_network_routes(fleet):
    client, _, tokens = fleet
    network, serial = client.target.info["network_token"], tokens["serial"]
    resolved = client.call("GET", f"/integration/network/resolve/{serial}", network).json()
    assert resolved == {"status": True, "result": tokens["full"]}
    authorization = client.target.info["authorization"]
    with_auth = client.call(
        "GET", f"/integration/network/resolve/{serial}/{authorization}", network
    )
    assert with_auth.json()["result"] == tokens["full"]
    wrong = client.call("GET", f"/integration/network/resolve/{serial}/at-not-ours", network)
    assert wrong.status_code == 401 and "authorization" in wrong.json()["message"]
    missing = client.call("GET", "/integration/network/resolve/SN-NOPE", network)
    assert missing.status_code == 404
    sent = client.call(
        "POST",
        f"/integration/network/data?serial={serial}",
        network,
        json=[{"variable": "via_network", "value": 1}],
    )
    assert sent.json() == {"status": True, "result": "1 Data Added"}
    as_device = client.call("GET", f"/integration/network/resolve/{serial}", tokens["full"])
    assert as_device.status_code == 403
