"""The official Python SDK (tagoio-sdk) as the judge of fidelity: every device, data and network
method it has, read from the SDK itself, is called unchanged against the embedded target, and its
answer, as it came over the wire (the SDK turns dates into datetimes), is checked with the
documented form (the route's result schema in schemas/). A method the
SDK gains shows up here as neither tested nor listed, and fails the test until it is one or the
other.

The JS SDK (npm @tago-io/sdk) is judged the same way by tests/server/test_sdk_js_methods.py."""

from __future__ import annotations

import inspect
import time

import pytest
import requests

from tagocheck.spec import routes, schemas

tagoio_sdk = pytest.importorskip("tagoio_sdk")

NOT_IN_THE_FAMILY = {
    "Devices.statistics": "GET /device/{id}/statistics is in neither TagoIO's OpenAPI file nor "
    "the facts: not an operation of the family [SDK only]",
}
"""SDK methods not tested, each with the source that says why."""


def sdk_methods() -> set[str]:
    from tagoio_sdk.modules.Device.Device import Device
    from tagoio_sdk.modules.Resources.Devices import Devices

    return {
        f"{cls.__name__}.{name}"
        for cls in (Device, Devices)
        for name, member in vars(cls).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }


def documented(route_id: str, result, query=None) -> None:
    route = routes.route_table()[route_id]
    kind = "device-full" if route_id.endswith("/data") or route_id == "GET /info" else "profile"
    schema = route.result_schema(kind, query or {})
    problems = schemas.errors(schema, result)
    assert not problems, (route_id, result, schemas.explain(problems[0]))


def test_every_device_data_and_network_method_answers_in_the_documented_form(
    shared_target, monkeypatch
):
    monkeypatch.setenv("TAGOIO_API", shared_target.url)
    from tagoio_sdk import Device, Resources

    devices = Resources({"token": shared_target.profile_token}).devices
    called: dict[str, object] = {}
    answers: list[requests.Response] = []
    send = requests.Session.send

    def recorded(session, request, **kwargs):
        answers.append(send(session, request, **kwargs))
        return answers[-1]

    monkeypatch.setattr(requests.Session, "send", recorded)

    def call(name: str, route_id: str, result, query=None):
        wire = answers[-1]
        assert wire.status_code in routes.route_table()[route_id].success_status, wire.text
        documented(route_id, wire.json()["result"], query)
        called[name] = result
        return result

    made = call(
        "Devices.create",
        "POST /device",
        devices.create(
            {"name": "sdk-all", "network": "0" * 24, "connector": "0" * 24, "type": "mutable"}
        ),
    )
    device_id = made["device_id"]
    device = Device({"token": made["token"]})
    call("Device.info", "GET /info", device.info())
    call("Device.sendData", "POST /data", device.sendData({"variable": "t", "value": 1}))
    first = call("Device.getData", "GET /data", device.getData({"variables": "t"}))
    call("Device.editData", "PUT /data", device.editData({"id": first[0]["id"], "value": 2}))
    call("Device.deleteData", "DELETE /data", device.deleteData({"variables": "t"}))
    call("Devices.listDevice", "GET /device", devices.listDevice({"filter": {"name": "sdk-all"}}))
    call("Devices.info", "GET /device/{id}", devices.info(device_id))
    call("Devices.edit", "PUT /device/{id}", devices.edit(device_id, {"description": "sdk"}))
    param = {"key": "interval", "value": "60", "sent": False}
    call("Devices.paramSet", "POST /device/{id}/params", devices.paramSet(device_id, param))
    listed = call("Devices.paramList", "GET /device/{id}/params", devices.paramList(device_id))
    unread = call("Device.getParameters", "GET /device/params", device.getParameters())
    mark = device.setParameterAsRead(unread[0]["id"])
    call("Device.setParameterAsRead", "PUT /device/params/{id}", mark)
    removed = devices.paramRemove(device_id, listed[0]["id"])
    call("Devices.paramRemove", "DELETE /device/{id}/params/{param_id}", removed)
    token = devices.tokenCreate(
        device_id, {"name": "ro", "permission": "read", "expire_time": "never"}
    )
    call("Devices.tokenCreate", "POST /device/token", token)
    call("Devices.tokenList", "GET /device/token/{device_id}", devices.tokenList(device_id))
    call("Devices.tokenDelete", "DELETE /device/token/{token}", devices.tokenDelete(token["token"]))
    sent = devices.sendDeviceData(device_id, [{"variable": "p", "value": v} for v in (1, 2)])
    call("Devices.sendDeviceData", "POST /device/{id}/data", sent)
    read = call("Devices.getDeviceData", "GET /device/{id}/data", devices.getDeviceData(device_id))
    edited = devices.editDeviceData(device_id, {"id": read[0]["id"], "value": 5})
    call("Devices.editDeviceData", "PUT /device/{id}/data", edited)
    deleted = devices.deleteDeviceData(device_id, {"ids": [read[0]["id"]]})
    call("Devices.deleteDeviceData", "DELETE /device/{id}/data", deleted)
    assert call("Devices.amount", "GET /device/{id}/data_amount", devices.amount(device_id)) == 1
    backup = devices.dataBackup({"deviceID": device_id, "file_address": f"/sdk/{time.time_ns()}"})
    call("Devices.dataBackup", "POST /device/{id}/data/backup", backup)
    call("Devices.emptyDeviceData", "POST /device/{id}/empty", devices.emptyDeviceData(device_id))
    restore = devices.dataRestore({"deviceID": device_id, "file_address": backup["file_address"]})
    call("Devices.dataRestore", "POST /device/{id}/data/restore", restore)
    assert devices.amount(device_id) == 1  # the backup read back

    frozen = devices.create(
        {"name": "sdk-frozen", "type": "immutable", "chunk_period": "day", "chunk_retention": 1}
    )
    Device({"token": frozen["token"]}).sendData({"variable": "c", "value": 1})
    chunks = call(
        "Devices.getChunk", "GET /device/{id}/chunk", devices.getChunk(frozen["device_id"])
    )
    chunk_backup = devices.dataBackup({"deviceID": frozen["device_id"]}, chunks[0]["id"])
    assert chunk_backup["chunk_id"] == chunks[0]["id"]
    gone = devices.deleteChunk(frozen["device_id"], chunks[0]["id"])
    call("Devices.deleteChunk", "DELETE /device/{id}/chunk/{chunk_id}", gone)
    call("Devices.delete", "DELETE /device/{id}", devices.delete(frozen["device_id"]))
    devices.delete(device_id)

    untested = sdk_methods() - called.keys() - NOT_IN_THE_FAMILY.keys()
    assert not untested, f"SDK methods neither tested nor listed with a reason: {sorted(untested)}"
