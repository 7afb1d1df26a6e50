"""The official Python SDK (tagoio-sdk), pointed at the target through TAGOIO_API, unchanged."""

from __future__ import annotations

import pytest

tagoio_sdk = pytest.importorskip("tagoio_sdk")


def test_the_official_sdk_works_unchanged(shared_target, monkeypatch):
    monkeypatch.setenv("TAGOIO_API", shared_target.url)
    from tagoio_sdk import Device, Resources

    account = Resources({"token": shared_target.profile_token})
    created = account.devices.create(
        {"name": "sdk-device", "network": "0" * 24, "connector": "0" * 24, "type": "mutable"}
    )
    device_id = created["device_id"]
    device = Device({"token": created["token"]})

    assert (
        device.sendData(
            [
                {"variable": "temperature", "value": 21, "unit": "C"},
                {"variable": "humidity", "value": 40},
            ]
        )
        == "2 Data Added"
    )
    data = device.getData({"variables": ["temperature", "humidity"], "qty": 10})
    assert sorted(r["variable"] for r in data) == ["humidity", "temperature"]
    last = device.getData({"variables": "temperature", "query": "last_value"})[0]
    assert device.editData({"id": last["id"], "value": 30}) == "1 item(s) updated"
    assert device.getData({"ids": last["id"]})[0]["value"] == 30
    assert device.info()["id"] == device_id
    assert device.deleteData({"variables": "humidity", "qty": 1}) == "1 Data Removed"

    listed = account.devices.listDevice({"page": 1, "amount": 50, "filter": {"name": "sdk-*"}})
    assert device_id in [d["id"] for d in listed]
    token = account.devices.tokenCreate(
        device_id, {"name": "ro", "permission": "read", "expire_time": "never"}
    )
    assert token["permission"] == "read"
    assert token["token"] in [t["token"] for t in account.devices.tokenList(device_id)]
    assert account.devices.tokenDelete(token["token"]) == "Token Successfully Removed"
    assert account.devices.paramSet(device_id, {"key": "interval", "value": "60", "sent": False})
    assert [p["key"] for p in device.getParameters()] == ["interval"]
    assert account.devices.delete(device_id) == "Successfully Removed"
