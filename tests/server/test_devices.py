"""Devices and parameters through the profile token."""

from __future__ import annotations

from .conftest import Client


def test_create_get_edit_delete(client: Client):
    made = client.device("crud-1", type="mutable", tags=[{"key": "fleet", "value": "north"}])
    device_id = made["device_id"]
    assert len(device_id) == 24 and len(made["token"]) == 36
    got = client.profile("GET", f"/device/{device_id}").json()["result"]
    assert got["name"] == "crud-1" and got["tags"] == [{"key": "fleet", "value": "north"}]
    edited = client.profile(
        "PUT", f"/device/{device_id}", json={"name": "crud-renamed", "rpm": {"data_input": 5}}
    )
    assert edited.json() == {"status": True, "result": "Successfully Updated"}
    got = client.profile("GET", f"/device/{device_id}").json()["result"]
    assert got["name"] == "crud-renamed" and got["rpm"] == {"data_input": 5}
    client.call("POST", "/data", made["token"], json={"variable": "v", "value": 1})
    removed = client.profile("DELETE", f"/device/{device_id}")
    assert removed.json() == {"status": True, "result": "Successfully Removed"}
    assert client.profile("GET", f"/device/{device_id}").status_code == 404
    assert client.call("GET", "/info", made["token"]).status_code == 401


def test_list_pages_filters_and_order(client: Client):
    for i in range(5):
        client.device(f"listme-{i}", tags=[{"key": "batch", "value": "odd" if i % 2 else "even"}])
    found = client.profile(
        "GET", "/device", params={"filter[name]": "listme-*", "orderBy": "name,desc", "amount": 2}
    ).json()["result"]
    assert [d["name"] for d in found] == ["listme-4", "listme-3"]
    page2 = client.profile(
        "GET",
        "/device",
        params={"filter[name]": "listme-*", "orderBy": "name,asc", "amount": 2, "page": 2},
    ).json()["result"]
    assert [d["name"] for d in page2] == ["listme-2", "listme-3"]
    tagged = client.profile(
        "GET",
        "/device",
        params={
            "filter[tags][0][key]": "batch",
            "filter[tags][0][value]": "odd",
            "filter[name]": "listme-*",
        },
    ).json()["result"]
    assert sorted(d["name"] for d in tagged) == ["listme-1", "listme-3"]
    fields = client.profile("GET", "/device", params={"fields": "id,name", "amount": 1}).json()
    assert set(fields["result"][0]) == {"id", "name"}


def test_create_needs_a_name(client: Client):
    response = client.profile("POST", "/device", json={"type": "mutable"})
    assert response.status_code == 400 and "name" in response.json()["message"]


def test_device_cap_of_the_plan(start):
    target = start("--plan", "free", "--rate-window-seconds", "600")
    free = Client(target)
    for i in range(5):
        free.device(f"cap-{i}")
    over = free.profile("POST", "/device", json={"name": "cap-6"})
    assert over.status_code == 400 and "Device limit" in over.json()["message"]


def test_parameters(client: Client):
    made = client.device("params")
    set_ = client.profile(
        "POST",
        f"/device/{made['device_id']}/params",
        json=[{"key": "interval", "value": "60"}, {"key": "mode", "value": "eco", "sent": True}],
    )
    assert set_.status_code == 200
    params = client.call("GET", "/device/params", made["token"]).json()["result"]
    assert {(p["key"], p["sent"]) for p in params} == {("interval", False), ("mode", True)}
    unsent = client.call("GET", "/device/params", made["token"], params={"sent_status": "false"})
    (interval,) = unsent.json()["result"]
    marked = client.call("PUT", f"/device/params/{interval['id']}", made["token"])
    assert marked.json() == {"status": True, "result": "Successfully Updated"}
    again = client.call("GET", "/device/params", made["token"], params={"sent_status": "false"})
    assert again.json()["result"] == []
