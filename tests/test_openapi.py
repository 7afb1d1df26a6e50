"""`tagocheck openapi`: the contract as an OpenAPI 3.1 document that OpenAPI tools accept."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from openapi_spec_validator import validate

from tagocheck.spec import openapi, permissions, routes

TABLE = routes.route_table()


@pytest.fixture(scope="module")
def document():
    return openapi.document("http://127.0.0.1:8000")


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_document_validates(document):
    validate(document)


def test_every_route_is_one_operation(document):
    found = {f"{method.upper()} {path}" for path, method, _ in operations(document)}
    shown = openapi.document_paths(TABLE)
    assert found == {f"{route.method} {shown[route.id]}" for route in TABLE}
    assert len(found) == len(TABLE)


def test_paths_that_differ_only_in_parameter_names_are_one_path(document):
    # OpenAPI forbids /device/token/{device_id} beside /device/token/{token}
    assert "/device/token/{device_id_or_token}" in document["paths"]
    item = document["paths"]["/device/token/{device_id_or_token}"]
    assert set(item) == {"get", "delete"}


def test_each_operation_names_the_token_schemes_its_allowed_kinds_use(document):
    matrix = permissions.permission_matrix()
    schemes = document["components"]["securitySchemes"]
    by_id = {o["operationId"]: o for _, _, o in operations(document)}
    for route in TABLE:
        operation = by_id[openapi.operation_id(route)]
        named = [next(iter(s)) for s in operation["security"]]
        assert named, route.id
        assert set(named) <= set(schemes)
        kinds = matrix.allowed_kinds(route.id)
        if any(k.startswith("device-") for k in kinds):
            assert named[0] == "DeviceToken", route.id
        if kinds == ["profile"]:
            assert named[0] == "ProfileToken", route.id
    assert schemes["NetworkToken"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Token",
        "description": schemes["NetworkToken"]["description"],
    }


def test_failures_429_and_5xx_are_documented_on_every_operation(document):
    for path, method, operation in operations(document):
        responses = operation["responses"]
        assert {"400", "401", "403", "404", "429", "4XX", "5XX"} <= set(responses), (path, method)
        assert "Retry-After" in responses["429"]["headers"]
        assert "required" not in responses["429"]["headers"]["Retry-After"]


def test_list_parameters_and_filters_have_their_styles(document):
    get_data = document["paths"]["/data"]["get"]
    params = {p["name"]: p for p in get_data["parameters"]}
    assert params["variables"]["style"] == "form" and params["variables"]["explode"] is True
    assert "name[]=a" in params["variables"]["x-tagocheck-array-forms"]
    listing = {p["name"]: p for p in document["paths"]["/device"]["get"]["parameters"]}
    assert listing["filter"]["style"] == "deepObject"


def test_links_name_existing_operations_and_parameters(document):
    by_id = {o["operationId"]: o for _, _, o in operations(document)}
    count = 0
    for _, _, operation in operations(document):
        for response in operation["responses"].values():
            for name, link in response.get("links", {}).items():
                count += 1
                target = by_id[link["operationId"]]
                declared = {(p["in"], p["name"]) for p in target.get("parameters", ())}
                for key in link.get("parameters", {}):
                    where, _, param = key.partition(".")
                    if where == "header":  # the token header: a security scheme's, not a param
                        assert param == "Device-Token", name
                    else:
                        assert (where, param) in declared, (name, key)
    assert count >= 10


def test_our_keywords_become_extensions(document):
    text = json.dumps(document["components"]["schemas"])
    for keyword in ("asShown", "leftOpen", "reportExtraKeys", "unshownForm", "maxUtf8Bytes"):
        assert f'"{keyword}"' not in text
        assert f'"x-tagocheck-{keyword}"' in text
    assert '"$anchor"' not in text and '"$id"' not in text


def test_the_command_writes_the_generated_document(tmp_path):
    out = tmp_path / "tagoio.openapi.json"
    done = subprocess.run(
        [sys.executable, "-m", "tagocheck", "openapi", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote" in done.stdout
    assert json.loads(out.read_text()) == openapi.document()
    refused = subprocess.run(
        [sys.executable, "-m", "tagocheck", "openapi", "--server", "api.tago.io"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
