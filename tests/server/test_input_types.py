"""Every body and query field's type is checked before use: a wrong type is a 4xx failure
envelope that names the field, never a 500 or a silent coercion (issue 14's reproductions,
found by Schemathesis and by hand), and the documented forms the target had missed."""

from __future__ import annotations

import pytest

from tests.server.conftest import Client

WRONG_DEVICES = [[None, None], {"a": 1}, 5, True, ""]


@pytest.mark.parametrize("device", WRONG_DEVICES, ids=repr)
def test_a_token_for_a_device_that_is_no_id_is_refused_naming_device(client: Client, device):
    response = client.profile("POST", "/device/token", json={"device": device, "name": "T"})
    assert response.status_code == 400, response.text
    assert response.json()["status"] is False and "device" in response.json()["message"]


@pytest.mark.parametrize(
    "param",
    [
        {"id": [None, None], "key": "k", "value": "v"},
        {"id": {"a": 1}, "key": "k", "value": "v"},
        {"id": 5, "key": "k", "value": "v"},
        {"id": True, "key": "k", "value": "v"},
        {"key": "k", "value": "v", "sent": [1]},
        {"key": 5, "value": "v"},
        {"key": "k", "value": 5},
    ],
    ids=repr,
)
def test_a_param_field_of_the_wrong_type_is_refused_naming_it(client: Client, param):
    device = client.device("typed")["device_id"]
    response = client.profile("POST", f"/device/{device}/params", json=param)
    assert response.status_code == 400, response.text
    wrong = next(k for k in ("id", "sent", "key", "value") if k in param and _odd(k, param[k]))
    assert wrong in response.json()["message"]
    listed = client.profile("GET", f"/device/{device}/params").json()["result"]
    assert listed == []  # nothing was stored as "5" or "1"


def _odd(key, value):
    return not isinstance(value, bool) if key == "sent" else not isinstance(value, str)


@pytest.mark.parametrize(
    "query",
    ["sent_status=maybe", "sent_status="],
)
def test_a_boolean_query_that_is_no_boolean_is_refused(client: Client, query):
    made = client.device("flags")
    response = client.call("GET", f"/device/params?{query}", made["token"])
    assert response.status_code == 400 and "sent_status" in response.json()["message"]


def test_booleans_in_the_python_sdks_spelling_are_read(client: Client):
    made = client.device("spelled")
    response = client.call("GET", "/device/params?sent_status=False", made["token"])
    assert response.status_code == 200
    assert client.profile("GET", "/device?resolveBucketName=True").status_code == 200


@pytest.mark.parametrize(
    "query", ["qty=", "qty=1_0", "query=", "start_date=", "function=~", "details=1"]
)
def test_a_data_query_parameter_given_empty_or_malformed_is_refused(client: Client, query):
    made = client.device("queried")
    response = client.call("GET", f"/data?{query}", made["token"])
    assert response.status_code == 400, (query, response.text)
    assert query.split("=")[0] in response.json()["message"]


def test_dates_read_as_the_schema_reads_them(client: Client):
    made = client.device("dated", type="mutable")
    sent = [
        {"variable": "d", "value": 1, "time": "2021-02-30"},  # JavaScript's Date: March 2
        {"variable": "d", "value": 2, "time": "0000-01-01T00:00:00Z"},
        {"variable": "d", "value": 3, "time": 253402300799999},
    ]
    assert client.call("POST", "/data", made["token"], json=sent).status_code == 200
    times = sorted(
        r["time"] for r in client.call("GET", "/data?variables=d", made["token"]).json()["result"]
    )
    assert times == [
        "0000-01-01T00:00:00.000Z",
        "2021-03-02T00:00:00.000Z",
        "9999-12-31T23:59:59.999Z",
    ]
    past = client.call("POST", "/data", made["token"], json={"variable": "d", "time": 2.6e14})
    assert past.status_code == 400 and "time" in past.json()["message"]
    ago = client.call("GET", "/data?variables=d&start_date=9999%20years", made["token"])
    assert ago.status_code == 200 and len(ago.json()["result"]) == 3


def test_a_huge_rpm_is_no_server_error(client: Client):
    response = client.profile(
        "POST", "/device", json={"name": "fast", "rpm": {"data_input": 2**70}}
    )
    assert response.status_code == 201, response.text


def test_text_plain_is_kept_as_the_payload_variable(client: Client):
    made = client.device("raw")
    sent = client.call(
        "POST",
        "/data",
        made["token"],
        data=b"41BC7E1F2A",
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    assert sent.json() == {"status": True, "result": "1 Data Added"}
    found = client.call("GET", "/data?variables=payload", made["token"]).json()["result"]
    assert [r["value"] for r in found] == ["41BC7E1F2A"]
    empty = client.call(
        "POST", "/data", made["token"], data=b"", headers={"Content-Type": "text/plain"}
    )
    assert empty.status_code == 400 and empty.json()["status"] is False


def test_network_ingest_takes_the_official_form(client: Client):
    made = client.device("networked", serie_number="SN-OFFICIAL")
    network = client.target.info["network_token"]
    authorization = client.target.info["authorization"]
    record = {"variable": "uplink", "value": "41BC", "metadata": {"serial": "SN-OFFICIAL"}}
    sent = client.call(
        "POST",
        f"/integration/network/data?authorization_token={authorization}",
        network,
        json=[record],
    )
    assert sent.json() == {"status": True, "result": "1 Data Added"}
    found = client.call("GET", "/data?variables=uplink", made["token"]).json()["result"]
    assert [r["value"] for r in found] == ["41BC"]
    wrong = client.call(
        "POST", "/integration/network/data?authorization_token=at-wrong", network, json=record
    )
    assert wrong.status_code == 401 and "authorization" in wrong.json()["message"]
    unnamed = client.call(
        "POST",
        f"/integration/network/data?authorization_token={authorization}",
        network,
        json={"variable": "uplink", "value": 1},
    )
    assert unnamed.status_code == 400 and "serial" in unnamed.json()["message"]
    older = client.call(
        "POST", "/integration/network/data?serial=SN-OFFICIAL", network, json={"variable": "uplink"}
    )
    assert older.json() == {"status": True, "result": "1 Data Added"}


def test_a_literal_path_answers_405_for_its_other_methods(client: Client):
    for method, path, allow in (
        ("PUT", "/device/token", "POST"),
        ("POST", "/device/params", "GET"),
    ):
        response = client.profile(method, path, json={})
        assert response.status_code == 405, (method, path, response.text)
        assert response.headers["allow"] == allow


@pytest.mark.parametrize("serial", [{"id": "SN-1"}, ["SN-1"], 7, True])
def test_a_serial_of_the_wrong_type_is_refused_not_a_server_error(client: Client, serial):
    """Found by Schemathesis once it passed the authorization key: an object or a list as
    metadata.serial answered 500 (the serials were put in a set before their type was read)."""
    authorization = client.target.info["authorization"]
    record = {"variable": "uplink", "value": 1, "metadata": {"serial": serial}}
    sent = client.call(
        "POST",
        f"/integration/network/data?authorization_token={authorization}",
        client.target.info["network_token"],
        json=[record],
    )
    assert sent.status_code == 400, sent.text
    assert sent.json() == {
        "status": False,
        "message": "Invalid data: metadata.serial must be a string",
    }
