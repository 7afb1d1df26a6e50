"""Device data through HTTP: ingest rules, normalisation, queries, edits and deletes."""

from __future__ import annotations

import pytest

from .conftest import Client

ISO_Z = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


@pytest.fixture
def dev(client: Client):
    made = client.device("data", type="mutable")
    return client, made["token"], made["device_id"]


def post(client, token, body):
    return client.call("POST", "/data", token, json=body)


def get(client, token, **params):
    response = client.call("GET", "/data", token, params=params)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_round_trip_normalises_variable_location_and_dates(dev):
    client, token, device_id = dev
    body = [
        {
            "variable": "Temperature",
            "value": 21.5,
            "unit": "C",
            "group": "g1",
            "location": {"lat": 42.5, "lng": -85.25},
            "metadata": {"color": "red"},
            "time": "2021-09-16T17:51:43.672Z",
        },
        {"variable": "door", "value": True, "time": 1631814703},
        {
            "variable": "label",
            "value": "open",
            "location": {"type": "Point", "coordinates": [1, 2]},
        },
    ]
    response = post(client, token, body)
    assert response.status_code == 200
    assert response.json() == {"status": True, "result": "3 Data Added"}
    records = {r["variable"]: r for r in get(client, token, qty=10)}
    assert set(records) == {"temperature", "door", "label"}
    temp = records["temperature"]
    assert temp["location"] == {"type": "Point", "coordinates": [-85.25, 42.5]}
    assert temp["time"] == "2021-09-16T17:51:43.672Z"
    assert (temp["unit"], temp["group"], temp["metadata"]) == ("C", "g1", {"color": "red"})
    assert (
        records["door"]["time"] == "2021-09-16T17:51:43.000Z" and records["door"]["value"] is True
    )
    assert records["label"]["location"]["coordinates"] == [1, 2]
    for record in records.values():
        assert record["device"] == device_id
        assert len(record["id"]) == 24 and record["id"] == record["id"].lower()
        assert __import__("re").match(ISO_Z, record["created_at"])


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"variable": "a-b", "value": 1}, "variable"),
        ({"variable": "a b", "value": 1}, "variable"),
        ({"variable": "v" * 101, "value": 1}, "variable"),
        ({"value": 1}, "variable"),
        ({"variable": "v", "value": "x" * 6001}, "value"),
        ({"variable": "v", "value": "é" * 3001}, "value"),
        ({"variable": "v", "value": {"a": 1}}, "value"),
        ({"variable": "v", "unit": "u" * 26}, "unit"),
        ({"variable": "v", "group": "g" * 101}, "group"),
        ({"variable": "v", "location": {"lat": 91, "lng": 0}}, "location.lat"),
        ({"variable": "v", "location": {"type": "Point", "coordinates": [0, 91]}}, "location"),
        ({"variable": "v", "metadata": {"m": "y" * 9993}}, "metadata"),
        ({"variable": "v", "metadata": "red"}, "metadata"),
        ({"variable": "v", "time": "last tuesday"}, "time"),
    ],
)
def test_each_documented_limit_rejects_the_whole_batch_and_names_field_and_index(
    dev, record, field
):
    client, token, _ = dev
    before = get(client, token, query="count")
    response = post(client, token, [{"variable": "fine", "value": 1}, record])
    assert response.status_code == 400
    body = response.json()
    assert body["status"] is False
    assert "record 1" in body["message"] and field in body["message"]
    assert get(client, token, query="count") == before  # nothing of the batch was stored


@pytest.mark.parametrize(
    "record",
    [
        {"variable": "v" * 100, "value": 1},
        {"variable": "v", "value": "x" * 6000},
        {"variable": "v", "value": "é" * 3000},
        {"variable": "v", "unit": "u" * 25, "group": "g" * 100},
        {"variable": "v", "metadata": {"m": "y" * 9992}},
        {"variable": "v", "location": {"lat": -90, "lng": 180}},
    ],
)
def test_values_just_inside_each_limit_are_accepted(dev, record):
    client, token, _ = dev
    assert post(client, token, record).json() == {"status": True, "result": "1 Data Added"}


def test_body_limits_and_bad_bodies_are_envelopes(dev):
    client, token, _ = dev
    big = [{"variable": "v", "value": "x" * 6000}] * 34  # over 200 kB
    response = post(client, token, big)
    assert response.status_code == 413 and response.json()["status"] is False
    under = [{"variable": "v", "value": "x" * 6000}] * 33
    assert post(client, token, under).json()["result"] == "33 Data Added"
    bad = client.call("POST", "/data", token, data=b"{not json")
    assert bad.status_code == 400 and bad.json()["message"].startswith("Invalid JSON body")
    empty = post(client, token, [])
    assert empty.status_code == 400 and empty.json()["status"] is False


def test_queries(dev):
    client, token, _ = dev
    post(
        client,
        token,
        [
            {
                "variable": "t",
                "value": v,
                "time": 1_700_000_000 + v,
                "group": "even" if v % 2 == 0 else "odd",
            }
            for v in range(1, 21)
        ],
    )
    post(
        client, token, {"variable": "pos", "location": {"lat": 1, "lng": 2}, "time": 1_700_000_100}
    )
    assert len(get(client, token, variables="t")) == 15  # default qty
    assert len(get(client, token, variables="t", qty=100)) == 20
    assert [r["value"] for r in get(client, token, variables="t", qty=3)] == [20, 19, 18]
    assert [
        r["value"] for r in get(client, token, variables="t", qty=3, ordination="ascending")
    ] == [1, 2, 3]
    assert [r["value"] for r in get(client, token, variables="t", qty=2, skip=2)] == [18, 17]
    assert get(client, token, variables="t", query="count") == 20
    assert get(client, token, groups="even", query="count") == 10
    assert [r["value"] for r in get(client, token, variables="t", query="last_value")] == [20]
    assert [r["value"] for r in get(client, token, variables="t", query="first_value")] == [1]
    assert [r["value"] for r in get(client, token, variables="t", query="max")] == [20]
    assert [r["value"] for r in get(client, token, variables="t", query="min")] == [1]
    assert get(client, token, query="last_location")[0]["variable"] == "pos"
    day = {"start_date": "2023-11-14T00:00:00Z", "end_date": "2023-11-15T00:00:00Z"}
    assert get(client, token, variables="t", query="sum", **day) == 210
    # a whole sum is written as JSON writes a whole number: 210, not 210.0 (issue 29)
    raw = client.call("GET", "/data", token, params={"variables": "t", "query": "sum", **day})
    assert raw.content.endswith(b'"result":210}') or b'"result":210,' in raw.content, raw.text
    assert get(client, token, variables="t", query="avg", **day) == 10.5
    assert get(client, token, variables="t", values="7", query="count") == 1
    window = get(
        client,
        token,
        variables="t",
        start_date="2023-11-14T22:13:25Z",
        end_date="2023-11-14T22:13:27Z",
    )
    assert sorted(r["value"] for r in window) == [5, 6, 7]
    assert get(client, token, variables="t", start_date="1 day", query="count") == 0


@pytest.mark.parametrize(
    "query",
    [
        "variables[]=a&variables[]=b",
        "variables[0]=a&variables[1]=b",
        "variables=a&variables=b",
        "variable=a&variable=b",
    ],
)
def test_every_array_style_selects_the_same_variables(dev, query):
    client, token, _ = dev
    post(client, token, [{"variable": n, "value": 1} for n in ("a", "b", "c")])
    response = client.call("GET", f"/data?{query}&qty=10", token)
    assert sorted(r["variable"] for r in response.json()["result"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"qty": 10001}, "qty"),
        ({"qty": 0}, "qty"),
        ({"ordination": "sideways"}, "ordination"),
        ({"query": "avg"}, "start_date"),
        ({"query": "median"}, "unknown query"),
        ({"start_date": "someday"}, "start_date"),
        ({"query": "sum", "start_date": "2020-01-01", "end_date": "2020-03-01"}, "one month"),
    ],
)
def test_bad_queries_are_400_envelopes(dev, params, message):
    client, token, _ = dev
    response = client.call("GET", "/data", token, params=params)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_edit_and_delete(dev):
    client, token, _ = dev
    post(client, token, [{"variable": "e", "value": v} for v in (1, 2, 3)])
    first = get(client, token, variables="e", qty=10)
    target = first[0]["id"]
    response = client.call("PUT", "/data", token, json=[{"id": target, "value": 99, "unit": "u"}])
    assert response.json() == {"status": True, "result": "1 item(s) updated"}
    assert get(client, token, ids=target)[0]["value"] == 99
    removed = client.call("DELETE", "/data", token, params={"variables": "e", "query": "last_item"})
    assert removed.json() == {"status": True, "result": "1 Data Removed"}
    assert get(client, token, variables="e", query="count") == 2
    removed = client.call("DELETE", "/data", token, params={"variables": "e", "qty": 10})
    assert removed.json()["result"] == "2 Data Removed"


def test_immutable_devices_cannot_edit(client):
    made = client.device("frozen", type="immutable")
    post(client, made["token"], {"variable": "v", "value": 1})
    record = get(client, made["token"])[0]
    response = client.call("PUT", "/data", made["token"], json={"id": record["id"], "value": 2})
    assert response.status_code == 409 and response.json()["status"] is False


def test_aggregate_and_conditional(dev):
    client, token, _ = dev
    post(
        client,
        token,
        [{"variable": "x", "value": v, "time": 1_700_000_000 + 60 * v} for v in range(6)],
    )
    day = {"start_date": "2023-11-14T00:00:00Z", "end_date": "2023-11-15T00:00:00Z"}
    buckets = get(
        client, token, variables="x", query="aggregate", function="sum", interval="hour", **day
    )
    assert sum(b["value"] for b in buckets) == 15

    # the documented form [OAS, JS SDK types]: function=gt|gte|lt|lte|eq|ne with value
    def conditional(function, value):
        found = get(
            client, token, variables="x", query="conditional", function=function, value=value, **day
        )
        return sorted(r["value"] for r in found)

    assert conditional("gt", "3") == [4, 5]
    assert conditional("gte", "3") == [3, 4, 5]
    assert conditional("lt", "2") == [0, 1]
    assert conditional("lte", "2") == [0, 1, 2]
    assert conditional("eq", "4") == [4]
    assert conditional("ne", "4") == [0, 1, 2, 3, 5]
    refused = client.call(
        "GET",
        "/data",
        token,
        params={"variables": "x", "query": "conditional", "function": "avg", "value": "1", **day},
    )
    assert refused.status_code == 400, refused.text


def test_a_statistic_past_the_exact_integers_is_still_an_answer(dev):
    """A whole average beyond 2**53 is written as a float: as an integer it would be a
    309-digit number no JSON writer takes (issue 29: a 500 that was no envelope)."""
    client, token, _ = dev
    post(
        client, token, [{"variable": "huge", "value": 1e300}, {"variable": "huge", "value": 1e300}]
    )
    for kind in ("avg", "sum"):
        response = client.call(
            "GET",
            "/data",
            token,
            params={"variables": "huge", "query": kind, "start_date": "1 day"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["result"] == pytest.approx(1e300 * (1 if kind == "avg" else 2))
