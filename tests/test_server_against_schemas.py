"""The embedded target and schemas/ are two independent readings of the contract: they must agree.

A request to every route in the route table, with a token allowed to call it, must come back as a
success envelope whose result follows the route's result schema.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tagocheck.server.launcher import start_target
from tagocheck.spec import routes, schemas

TABLE = routes.route_table()


@pytest.fixture(scope="module")
def calls(tmp_path_factory):
    """(route id, token kind, method, url, response) for one request per route and case."""
    target = start_target(tmp_path_factory.mktemp("target"), "--plan", "unlimited")
    url, info = target.url, target.info
    http = requests.Session()

    def call(method, path, token, **kwargs):
        return http.request(method, url + path, headers={"Token": token}, timeout=10, **kwargs)

    profile = info["profile_token"]
    made, done = [], []
    try:
        created = call(
            "POST",
            "/device",
            profile,
            json={"name": "c", "type": "mutable", "serie_number": "SN-C1"},
        )
        device = created.json()["result"]
        device_id, full = device["device_id"], device["token"]
        token_made = call(
            "POST", "/device/token", profile, json={"device": device_id, "permission": "read"}
        )
        read = token_made.json()["result"]["token"]
        call("POST", f"/device/{device_id}/params", profile, json={"key": "k", "value": "v"})
        frozen = call(
            "POST",
            "/device",
            profile,
            json={"name": "f", "type": "immutable", "chunk_period": "week", "chunk_retention": 4},
        ).json()["result"]["device_id"]
        call("POST", f"/device/{frozen}/data", profile, json={"variable": "t", "value": 1})
        chunk_id = call("GET", f"/device/{frozen}/chunk", profile).json()["result"][0]["id"]
        idle = call("POST", "/device", profile, json={"name": "i", "active": False})
        idle_id = idle.json()["result"]["device_id"]
        param_id = call("GET", "/device/params", full).json()["result"][0]["id"]
        day = "start_date=2020-01-01T00:00:00Z&end_date=2020-01-20T00:00:00Z"
        plan = [
            (
                "POST /data",
                "device-full",
                "POST",
                "/data",
                {
                    "json": [
                        {
                            "variable": "t",
                            "value": 1.5,
                            "location": {"lat": 1, "lng": 2},
                            "metadata": {"m": 1},
                            "time": "2020-01-02T00:00:00Z",
                        }
                    ]
                },
            ),
            ("GET /data", "device-read", "GET", "/data", {}),
            ("GET /data", "device-read", "GET", "/data?query=count", {}),
            ("GET /data", "device-read", "GET", f"/data?query=sum&{day}", {}),
            ("GET /data", "device-read", "GET", f"/data?query=avg&{day}", {}),
            ("GET /data", "device-read", "GET", "/data?query=last_value", {}),
            ("GET /data", "device-read", "GET", "/data?query=max", {}),
            ("GET /data", "device-read", "GET", f"/data?query=aggregate&{day}", {}),
            (
                "GET /data",
                "device-read",
                "GET",
                f"/data?query=conditional&value=1&function=gt&{day}",
                {},
            ),
            ("PUT /data", "device-full", "PUT", "/data", {"json": None}),
            ("DELETE /data", "device-full", "DELETE", "/data?query=last_item", {}),
            ("GET /info", "device-read", "GET", "/info", {}),
            ("GET /info", "profile", "GET", "/info", {}),
            ("GET /info", "network", "GET", "/info", {}),
            ("GET /info", "analysis-no-policy", "GET", "/info", {}),
            ("GET /device/params", "device-read", "GET", "/device/params", {}),
            ("PUT /device/params/{id}", "device-full", "PUT", f"/device/params/{param_id}", {}),
            ("GET /device/{id}/params", "profile", "GET", f"/device/{device_id}/params", {}),
            (
                "POST /device/{id}/params",
                "profile",
                "POST",
                f"/device/{device_id}/params",
                {"json": [{"key": "k2", "value": "v2"}]},
            ),
            ("GET /device", "profile", "GET", "/device", {}),
            ("GET /device/{id}", "profile", "GET", f"/device/{device_id}", {}),
            (
                "PUT /device/{id}",
                "profile",
                "PUT",
                f"/device/{device_id}",
                {"json": {"name": "c2"}},
            ),
            (
                "POST /device/token",
                "profile",
                "POST",
                "/device/token",
                {"json": {"device": device_id, "permission": "write", "expire_time": "1 day"}},
            ),
            ("GET /device/token/{device_id}", "profile", "GET", f"/device/token/{device_id}", {}),
            ("DELETE /device/token/{token}", "profile", "DELETE", f"/device/token/{read}", {}),
            (
                "GET /integration/network/resolve/{serial}",
                "network",
                "GET",
                "/integration/network/resolve/SN-C1",
                {},
            ),
            (
                "GET /integration/network/resolve/{serial}/{authorization}",
                "network",
                "GET",
                f"/integration/network/resolve/SN-C1/{info['authorization']}",
                {},
            ),
            (
                "POST /integration/network/data",
                "network",
                "POST",
                "/integration/network/data?serial=SN-C1",
                {"json": {"variable": "n", "value": 1}},
            ),
            ("GET /device/{id}/data", "profile", "GET", f"/device/{device_id}/data", {}),
            (
                "GET /device/{id}/data",
                "profile",
                "GET",
                f"/device/{device_id}/data?query=count",
                {},
            ),
            (
                "POST /device/{id}/data",
                "profile",
                "POST",
                f"/device/{device_id}/data",
                {"json": [{"variable": "p", "value": 2}]},
            ),
            (
                "PUT /device/{id}/data",
                "profile",
                "PUT",
                f"/device/{device_id}/data",
                {"json": None},
            ),
            (
                "DELETE /device/{id}/data",
                "profile",
                "DELETE",
                f"/device/{device_id}/data?variables=p",
                {},
            ),
            (
                "GET /device/{id}/data_amount",
                "profile",
                "GET",
                f"/device/{device_id}/data_amount",
                {},
            ),
            (
                "POST /device/{id}/data/backup",
                "profile",
                "POST",
                f"/device/{device_id}/data/backup",
                {"json": {"file_address": "/backups/$DEVICE$", "headers": True}},
            ),
            ("POST /device/{id}/empty", "profile", "POST", f"/device/{device_id}/empty", {}),
            (
                "POST /device/{id}/data/restore",
                "profile",
                "POST",
                f"/device/{device_id}/data/restore",
                {"json": {"file_address": f"backups/{device_id}.csv"}},
            ),
            (
                "POST /device/{id}/convert",
                "profile",
                "POST",
                f"/device/{idle_id}/convert",
                {"json": {"type": "immutable", "chunk_period": "day", "chunk_retention": 1}},
            ),
            ("GET /device/{id}/chunk", "profile", "GET", f"/device/{frozen}/chunk", {}),
            (
                "POST /device/{id}/chunk/backup",
                "profile",
                "POST",
                f"/device/{frozen}/chunk/backup",
                {"json": {"chunk_id": chunk_id}},
            ),
            (
                "DELETE /device/{id}/chunk/{chunk_id}",
                "profile",
                "DELETE",
                f"/device/{frozen}/chunk/{chunk_id}",
                {},
            ),
            (
                "POST /integration/network/{id}/params",
                "network",
                "POST",
                f"/integration/network/{device_id}/params",
                {"json": [{"key": "n", "value": "1"}]},
            ),
            (
                "DELETE /device/{id}/params/{param_id}",
                "profile",
                "DELETE",
                f"/device/{device_id}/params/{param_id}",
                {},
            ),
            ("POST /device", "profile", "POST", "/device", {"json": {"name": "second"}}),
            ("DELETE /device/{id}", "profile", "DELETE", None, {}),
        ]
        tokens = {
            "device-full": full,
            "device-read": read,
            "profile": profile,
            "network": info["network_token"],
            "analysis-no-policy": info["analysis_token"],
        }
        for route_id, kind, method, path, kwargs in plan:
            if route_id in ("PUT /data", "PUT /device/{id}/data"):
                record = call("GET", "/data", full).json()["result"][0]
                kwargs = {"json": [{"id": record["id"], "value": 2}]}
            if route_id == "DELETE /device/{id}":
                path = f"/device/{made[-1]}"
            response = call(method, path, tokens[kind], **kwargs)
            if route_id == "POST /device":
                made.append(response.json()["result"]["device_id"])
            done.append((route_id, kind, method, path, response))
    finally:
        target.stop()
    return done


def test_each_response_follows_envelope_and_result_schema(calls):
    called = {route_id for route_id, *_ in calls}
    assert called == set(TABLE.ids)
    for route_id, kind, method, path, response in calls:
        route = TABLE[route_id]
        label = f"{method} {path} as {kind}"
        assert response.status_code in route.success_status, (label, response.text)
        body = response.json()
        problems = schemas.errors(TABLE.envelope, body)
        assert not problems, (label, schemas.explain(problems[0]))
        query = {k: v for k, v in parse_qs(urlsplit(path).query).items()}
        result_schema = route.result_schema(kind, query)
        problems = schemas.errors(result_schema, body["result"])
        assert not problems, (label, result_schema, schemas.explain(problems[0]))
