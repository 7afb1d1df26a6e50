"""The route table is complete, consistent, and finds the route of any request."""

from __future__ import annotations

import pytest

from tagocheck.spec import permissions, routes, schemas

TABLE = routes.route_table()

# The routes issue 2 names; the table may have more, never fewer.
REQUIRED_ROUTES = {
    "POST /data",
    "GET /data",
    "PUT /data",
    "DELETE /data",
    "GET /info",
    "GET /device/params",
    "PUT /device/params/{id}",
    "POST /device",
    "GET /device",
    "GET /device/{id}",
    "PUT /device/{id}",
    "DELETE /device/{id}",
    "POST /device/token",
    "GET /device/token/{device_id}",
    "DELETE /device/token/{token}",
    "GET /integration/network/resolve/{serial}",
    "POST /integration/network/data",
}

# A concrete request for each route, to show that matching sends it where it belongs.
SAMPLE_PATHS = {
    "GET /device/{id}": "/device/6010ea3cb1f2e10012c7a4d1",
    "PUT /device/{id}": "/device/6010ea3cb1f2e10012c7a4d1",
    "DELETE /device/{id}": "/device/6010ea3cb1f2e10012c7a4d1",
    "PUT /device/params/{id}": "/device/params/6010ea3cb1f2e10012c7a4d9",
    "POST /device/{id}/params": "/device/6010ea3cb1f2e10012c7a4d1/params",
    "GET /device/token/{device_id}": "/device/token/6010ea3cb1f2e10012c7a4d1",
    "DELETE /device/token/{token}": "/device/token/2b1f0e8c-5a6d-4c3b-9e7f-0a1b2c3d4e5f",
    "GET /integration/network/resolve/{serial}": "/integration/network/resolve/SN-0001",
    "GET /integration/network/resolve/{serial}/{authorization}": (
        "/integration/network/resolve/SN-0001/auth-code"
    ),
}


def test_every_route_the_suite_calls_is_in_the_table():
    assert set(TABLE.ids) >= REQUIRED_ROUTES


def test_route_ids_are_unique_and_spell_method_and_path():
    assert len(TABLE.ids) == len(set(TABLE.ids))
    for route in TABLE:
        assert route.id == f"{route.method} {route.path}"


@pytest.mark.parametrize("route", list(TABLE), ids=TABLE.ids)
def test_route_schemas_resolve(route):
    refs = [route.result, *(c.result for c in route.result_cases)]
    if route.request_body:
        refs.append(route.request_body)
    for ref in refs:
        schemas.resolve(ref)


def test_table_level_schemas_resolve():
    schemas.resolve(TABLE.envelope)
    assert set(TABLE.status_bodies) == {429}
    schemas.resolve(TABLE.status_bodies[429])


def test_token_cases_name_known_token_kinds():
    kinds = set(permissions.permission_matrix().token_kinds)
    for route in TABLE:
        for case in route.result_cases:
            assert set(case.token) <= kinds, (route.id, case.token)


def test_creates_accept_both_documented_success_codes():
    assert set(TABLE["POST /device"].success_status) == {200, 201}
    assert set(TABLE["POST /device/token"].success_status) == {200, 201}
    assert TABLE["POST /device"].drift


@pytest.mark.parametrize("route", list(TABLE), ids=TABLE.ids)
def test_each_route_matches_its_own_requests(route):
    path = SAMPLE_PATHS.get(route.id, route.path)
    found = TABLE.match(route.method.lower(), path + "?qty=1")
    assert found is not None and found.route.id == route.id


def test_literal_segments_win_over_parameters():
    assert TABLE.match("GET", "/device/params").route.id == "GET /device/params"
    assert TABLE.match("GET", "/device/abc").route.id == "GET /device/{id}"
    assert TABLE.match("POST", "/device/token").route.id == "POST /device/token"
    found = TABLE.match("GET", "/device/token/6010ea3cb1f2e10012c7a4d1")
    assert found.params == {"device_id": "6010ea3cb1f2e10012c7a4d1"}


def test_unknown_routes_and_methods_are_told_apart():
    assert TABLE.match("GET", "/nothing/here") is None
    assert TABLE.methods_for("/nothing/here") == []
    assert TABLE.match("PATCH", "/data") is None
    assert TABLE.methods_for("/data") == ["DELETE", "GET", "POST", "PUT"]


def test_result_schema_follows_the_query():
    get_data = TABLE["GET /data"]
    assert get_data.result_schema() == "results/data.schema.json#records"
    assert get_data.result_schema(query={"query": "count"}) == "results/data.schema.json#count"
    assert get_data.result_schema(query={"query": ["sum"]}) == "results/data.schema.json#statistic"
    assert get_data.result_schema(query={"query": "last_item"}) == (
        "results/data.schema.json#records"
    )


def test_result_schema_follows_the_token_kind():
    info = TABLE["GET /info"]
    assert info.result_schema("device-read") == "results/info.schema.json#device"
    assert info.result_schema("profile") == "results/info.schema.json#profile"
    assert info.result_schema("network") == "results/info.schema.json#network"
    assert info.result_schema(None) == "results/info.schema.json#owner"


def test_result_schemas_accept_what_the_facts_file_documents():
    added = TABLE["POST /data"].result_schema()
    assert schemas.is_valid(added, "2 Data Added")
    assert not schemas.is_valid(added, "2 data added")
    count = TABLE["GET /data"].result_schema(query={"query": "count"})
    assert schemas.is_valid(count, 7)
    assert not schemas.is_valid(count, [])
