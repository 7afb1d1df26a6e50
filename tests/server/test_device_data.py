"""A device's data as the profile: /device/{id}/data, its amount, empty, convert, an immutable
device's chunks, backups kept as files and restored from them, and parameter removal."""

from __future__ import annotations

import pytest

from .conftest import Client

WEEK_OF_2022_07_18 = "1658102400_1658707199"  # the OpenAPI file's example chunk id


def result(response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json()["result"] if status < 400 else response.json()["message"]


def records(day_offsets, start=1658102400):
    return [{"variable": "t", "value": d, "time": start + 86400 * d} for d in day_offsets]


def test_the_profile_reads_writes_edits_and_deletes_a_devices_data(client: Client):
    device = client.device("p", type="mutable")["device_id"]
    base = f"/device/{device}"
    assert result(client.profile("POST", f"{base}/data", json=records(range(3)))) == "3 Data Added"
    assert result(client.profile("GET", f"{base}/data_amount")) == 3
    found = result(client.profile("GET", f"{base}/data", params={"query": "last_item"}))
    assert [r["value"] for r in found] == [2]
    edit = [{"id": found[0]["id"], "value": 20}]
    assert result(client.profile("PUT", f"{base}/data", json=edit)) == "1 item(s) updated"
    removed = client.profile("DELETE", f"{base}/data", params={"values": "20"})
    assert result(removed) == "1 Data Removed"
    assert result(client.profile("GET", f"{base}/data", params={"query": "count"})) == 2
    assert result(client.profile("POST", f"{base}/empty")) == "Data Successfully Removed"
    assert result(client.profile("GET", f"{base}/data_amount")) == 0
    assert "not found" in result(client.profile("GET", "/device/" + "0" * 24 + "/data_amount"), 404)


def test_a_backup_is_a_file_the_target_keeps_and_restore_reads_it_back(client: Client):
    device = client.device("b", type="mutable")["device_id"]
    base = f"/device/{device}"
    sent = [
        {"variable": "temp", "value": 21.5, "unit": "C", "group": "g", "time": 1658102400},
        {"variable": "door", "value": True, "location": {"lat": 1.5, "lng": 2.5}},
        {"variable": "note", "value": "hi, there", "metadata": {"k": [1, "x"]}},
    ]
    client.profile("POST", f"{base}/data", json=sent)
    before = result(client.profile("GET", f"{base}/data", params={"qty": 10}))
    body = {"file_address": "/backups/$DEVICE$/$TIMESTAMP$", "headers": True}
    address = result(client.profile("POST", f"{base}/data/backup", json=body))["file_address"]
    assert address.startswith(f"backups/{device}/") and address.endswith(".csv")
    client.profile("POST", f"{base}/empty")
    restored = client.profile("POST", f"{base}/data/restore", json={"file_address": address})
    assert result(restored) == "Data import added to the queue successfully!"
    after = result(client.profile("GET", f"{base}/data", params={"qty": 10}))
    kept = ("variable", "value", "unit", "group", "location", "metadata", "time")

    def shown(found):
        return sorted((tuple(str(r.get(k)) for k in kept) for r in found), key=lambda row: row[0])

    assert shown(after) == shown(before)
    missing = client.profile("POST", f"{base}/data/restore", json={"file_address": "/nope.csv"})
    assert result(missing, 404).startswith("File not found")
    # any text is a file's name (files are rows, not paths): what the schema allows is taken
    for odd in ("/a/../b", "=!Z/", "/"):
        named = client.profile("POST", f"{base}/data/backup", json={"file_address": odd})
        address = result(named)["file_address"]
        assert address == odd.lstrip("/") + ".csv"
        again = client.profile("POST", f"{base}/data/restore", json={"file_address": address})
        assert result(again) == "Data import added to the queue successfully!"
    empty = client.profile("POST", f"{base}/data/backup", json={"file_address": ""})
    assert result(empty, 400) == "Invalid file_address: it is empty"  # minLength 1


def test_convert_needs_an_empty_disabled_device_and_chunk_settings(client: Client):
    device = client.device("c", type="mutable")["device_id"]
    base = f"/device/{device}"
    to_immutable = {"type": "immutable", "chunk_period": "week", "chunk_retention": 4}
    assert "disabled" in result(client.profile("POST", f"{base}/convert", json=to_immutable), 409)
    client.profile("PUT", base, json={"active": False})
    client.profile("POST", f"{base}/data", json=records([0]))
    assert "empty" in result(client.profile("POST", f"{base}/convert", json=to_immutable), 409)
    client.profile("POST", f"{base}/empty")
    no_period = {"type": "immutable", "chunk_retention": 4}
    assert "chunk_period" in result(client.profile("POST", f"{base}/convert", json=no_period), 400)
    converted = client.profile("POST", f"{base}/convert", json=to_immutable)
    assert result(converted) == "Device type/chunk was converted"
    shown = result(client.profile("GET", base))
    assert (shown["type"], shown["chunk_period"], shown["chunk_retention"]) == (
        "immutable",
        "week",
        4,
    )
    back = client.profile("POST", f"{base}/convert", json={"type": "mutable"})
    assert result(back) == "Device type/chunk was converted"
    assert "chunk_period" not in result(client.profile("GET", base))


def test_an_immutable_devices_chunks_are_listed_backed_up_and_deleted(client: Client):
    made = client.device("i", type="immutable", chunk_period="week", chunk_retention=4)
    base = f"/device/{made['device_id']}"
    client.call("POST", "/data", made["token"], json=records([0, 1, 7, 8, 9]))
    chunks = result(client.profile("GET", f"{base}/chunk"))
    assert [(c["id"], c["amount"]) for c in chunks] == [
        ("1658707200_1659311999", 3),
        (WEEK_OF_2022_07_18, 2),
    ]
    assert chunks[1]["from"] == "2022-07-18T00:00:00.000+00:00"
    assert chunks[1]["to"] == "2022-07-24T23:59:59.999+00:00"
    body = {"chunk_id": WEEK_OF_2022_07_18, "file_address": "/device/$DEVICE$/$FROM$_$TO$"}
    backed = result(client.profile("POST", f"{base}/chunk/backup", json=body))
    assert backed == {
        "chunk_id": WEEK_OF_2022_07_18,
        "file_address": f"device/{made['device_id']}/2022-07-18_2022-07-24.csv",
    }
    deleted = client.profile("DELETE", f"{base}/chunk/{WEEK_OF_2022_07_18}")
    assert result(deleted) == f"Chunk {WEEK_OF_2022_07_18} deleted"
    assert [c["id"] for c in result(client.profile("GET", f"{base}/chunk"))] == [
        "1658707200_1659311999"
    ]
    # the backup kept the deleted week: restored, it is back
    client.profile("POST", f"{base}/data/restore", json={"file_address": backed["file_address"]})
    assert result(client.profile("GET", f"{base}/data_amount")) == 5
    not_a_chunk = client.profile("DELETE", f"{base}/chunk/1658102401_1658707199")
    assert "Chunk not found" in result(not_a_chunk, 404)
    malformed = client.profile("DELETE", f"{base}/chunk/last-week")
    assert "Invalid chunk" in result(malformed, 400)
    mutable = client.device("m", type="mutable")["device_id"]
    assert "immutable" in result(client.profile("GET", f"/device/{mutable}/chunk"), 409)


def test_parameters_are_removed_by_the_profile_and_set_by_the_network(client: Client):
    device = client.device("params")["device_id"]
    base = f"/device/{device}/params"
    network = client.target.info["network_token"]
    done = client.call(
        "POST", f"/integration/network/{device}/params", network, json=[{"key": "k", "value": "v"}]
    )
    assert result(done) == "Device Configuration Parameter Updated"
    listed = result(client.profile("GET", base))
    assert [p["key"] for p in listed] == ["k"]
    assert result(client.profile("DELETE", f"{base}/{listed[0]['id']}")) == "Successfully Removed"
    assert result(client.profile("GET", base)) == []
    again = client.profile("DELETE", f"{base}/{listed[0]['id']}")
    assert result(again, 404) == "Parameter not found"
    # the profile token is no network token
    refused = client.profile("POST", f"/integration/network/{device}/params", json=[])
    assert refused.status_code in (401, 403)


@pytest.mark.parametrize("plan", ["free", "starter"])
def test_backups_are_a_quota_refused_403(start, plan):
    client = Client(start("--plan", plan, "--rate-window-seconds", "30"))
    device = client.device("q")["device_id"]
    answers = [
        client.profile("POST", f"/device/{device}/data/backup", json={}).status_code
        for _ in range(6)
    ]
    assert answers == ([403] * 6 if plan == "free" else [200] * 5 + [403])
