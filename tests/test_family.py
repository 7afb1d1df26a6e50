"""The device, data and network family of TagoIO's official OpenAPI file (tago-io/docs
specs/tagoio-api.yaml, read 2026-12-03): every one of its 34 operations is in the route table,
served by the embedded target and rendered by `tagocheck openapi`. The project does not ship the
file, so its operations are listed here by method, path and operationId."""

from __future__ import annotations

import re

import pytest

from tagocheck.server.api import ROUTES
from tagocheck.spec import openapi, routes

FAMILY = {
    ("GET", "/info"): "currentDeviceInformation",
    ("GET", "/data"): "getData",
    ("PUT", "/data"): "editData",
    ("POST", "/data"): "sendData",
    ("DELETE", "/data"): "deleteData",
    ("GET", "/device/params"): "getConfigurationParameters",
    ("PUT", "/device/params/{paramID}"): "markAConfigurationParameterAsRead",
    ("GET", "/device/token/{deviceID}"): "listOfTokens",
    ("POST", "/device/token"): "createToken",
    ("DELETE", "/device/token/{tokenID}"): "deleteToken",
    ("GET", "/device/{deviceID}/params"): "listDeviceParams",
    ("POST", "/device/{deviceID}/params"): "createAndEditDeviceParams",
    ("DELETE", "/device/{deviceID}/params/{paramID}"): "deleteDeviceParam",
    ("GET", "/device"): "listOfDevices",
    ("POST", "/device"): "createNewDevice",
    ("POST", "/device/{deviceID}/data/backup"): "exportDataToCsvInFiles",
    ("GET", "/device/{deviceID}/chunk"): "listOfChunks",
    ("GET", "/device/{deviceID}"): "deviceInformation",
    ("PUT", "/device/{deviceID}"): "editDevice",
    ("DELETE", "/device/{deviceID}"): "deleteDevice",
    ("POST", "/device/{deviceID}/chunk/backup"): "exportAChunkAsCsvToFiles",
    ("DELETE", "/device/{deviceID}/chunk/{chunkID}"): "deleteChunk",
    ("POST", "/device/{deviceID}/convert"): "convertDeviceType",
    ("GET", "/device/{deviceID}/data_amount"): "deviceDataAmount",
    ("POST", "/device/{deviceID}/data/restore"): "importDataFromACsvInFiles",
    ("POST", "/device/{deviceID}/empty"): "emptyADeviceSData",
    ("GET", "/device/{deviceID}/data"): "getDeviceData",
    ("POST", "/device/{deviceID}/data"): "sendDataToDevice",
    ("PUT", "/device/{deviceID}/data"): "editDeviceData",
    ("DELETE", "/device/{deviceID}/data"): "deleteDeviceData",
    (
        "GET",
        "/integration/network/resolve/{serieNumber}/{AuthorizationKey}",
    ): "getDeviceTokenWithSerialNumberAuthorization",
    ("GET", "/integration/network/resolve/{serieNumber}"): "getDeviceTokenWithSerialNumber",
    ("POST", "/integration/network/{deviceID}/params"): "editDeviceConfigurationParameter",
    ("POST", "/integration/network/data"): "sendDataUsingNetwork",
}


PARAMETER = re.compile(r"\{[^}]+\}")


def shape(method: str, path: str) -> str:
    """An operation with its path parameters unnamed: names differ between sources."""
    return method.upper() + " " + PARAMETER.sub("{}", path)


def test_the_family_has_34_operations():
    assert len(FAMILY) == 34
    assert len({shape(m, p) for m, p in FAMILY}) == 34


def test_the_route_table_holds_the_family_whole():
    table = {shape(r.method, r.path) for r in routes.route_table()}
    missing = {shape(m, p): op for (m, p), op in FAMILY.items()}.keys() - table
    assert not missing, sorted(missing)


def test_the_embedded_target_serves_the_family_whole():
    served = {shape(r.method, r.template) for r in ROUTES}
    assert {shape(m, p) for m, p in FAMILY} <= served


@pytest.mark.parametrize("operation", sorted(shape(m, p) for m, p in FAMILY))
def test_the_rendered_openapi_has_each_operation(operation):
    document = openapi.document("http://127.0.0.1:8000")
    rendered = {
        shape(method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete")
    }
    assert operation in rendered


def test_every_operation_with_a_path_parameter_is_a_links_target():
    """Schemathesis' stateful phase reaches an operation by links: every family operation that
    names a device, parameter, chunk or token in its path is the target of one."""
    document = openapi.document("http://127.0.0.1:8000")
    targets = {
        link["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        for response in operation.get("responses", {}).values()
        for link in response.get("links", {}).values()
    }
    by_shape = {
        shape(method, path): operation["operationId"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "delete")
    }
    unlinked = [
        s
        for m, p in FAMILY
        if "{" in p
        and "resolve" not in p  # named by a serial, not by an answer: set in the config
        and by_shape[s := shape(m, p)] not in targets
        and not s.startswith("PUT /device/params")
    ]
    assert not unlinked, unlinked
