"""The permission matrix covers every route for every token kind, and reads sensibly."""

from __future__ import annotations

import pytest

from tagocheck.spec import permissions, routes

MATRIX = permissions.permission_matrix()
TABLE = routes.route_table()

TOKEN_KINDS = {
    "device-full",
    "device-write",
    "device-read",
    "device-expired",
    "token-deleted",
    "profile",
    "analysis-no-policy",
    "network",
    "none",
    "malformed",
}


def test_the_token_kinds_are_those_the_suite_provisions():
    assert set(MATRIX.token_kinds) == TOKEN_KINDS


def test_the_matrix_has_a_row_for_every_route_and_no_other():
    assert MATRIX.routes == TABLE.ids


@pytest.mark.parametrize("route", TABLE.ids)
def test_every_cell_is_present(route):
    for kind in TOKEN_KINDS:
        MATRIX.cell(route, kind)


def test_cell_count():
    assert len(MATRIX) == len(TABLE) * len(TOKEN_KINDS)


def test_cell_ids_read_like_test_ids():
    assert MATRIX.cell("POST /data", "device-read").id == "device-read-POST /data"


@pytest.mark.parametrize("route", TABLE.ids)
def test_no_token_bad_token_and_dead_tokens_are_denied_everywhere(route):
    for kind in ("none", "malformed", "device-expired", "token-deleted"):
        cell = MATRIX.cell(route, kind)
        assert not cell.allowed and 401 in cell.status, (route, kind)


@pytest.mark.parametrize("route", TABLE.ids)
def test_every_route_has_someone_allowed_to_call_it(route):
    assert MATRIX.allowed_kinds(route)


def test_device_permissions_follow_full_write_read():
    assert MATRIX.cell("POST /data", "device-write").allowed
    assert not MATRIX.cell("POST /data", "device-read").allowed
    assert MATRIX.cell("GET /data", "device-read").allowed
    assert not MATRIX.cell("GET /data", "device-write").allowed
    for route in ("POST /data", "GET /data", "PUT /data", "DELETE /data"):
        assert MATRIX.cell(route, "device-full").allowed


def test_device_tokens_may_not_call_account_routes():
    for route in TABLE.ids:
        if route.split(" ", 1)[1].startswith("/device") and route not in (
            "GET /device/params",
            "PUT /device/params/{id}",
        ):
            assert MATRIX.allowed_kinds(route) == ["profile"], route


def test_the_analysis_token_without_policy_gets_the_documented_message():
    cell = MATRIX.cell("GET /device", "analysis-no-policy")
    assert not cell.allowed
    assert cell.message == "Authorization Denied"
