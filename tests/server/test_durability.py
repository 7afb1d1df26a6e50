"""kill -9 while clients post: every acknowledged record is there after a restart."""

from __future__ import annotations

import sqlite3
import threading
import time

import requests

from tagocheck.server.launcher import start_target

from .conftest import Client

POSTERS = 8


def test_acknowledged_records_survive_kill_9(tmp_path):
    state = tmp_path / "state"
    target = start_target(state, "--plan", "unlimited")
    client = Client(target)
    devices = [client.device(f"durable-{i}") for i in range(POSTERS)]
    acknowledged: list[list[int]] = [[] for _ in devices]
    stop = threading.Event()

    def post(index: int) -> None:
        session = requests.Session()
        token = devices[index]["token"]
        value = 0
        while not stop.is_set():
            value += 1
            try:
                response = session.post(
                    target.url + "/data",
                    json={"variable": "seq", "value": value},
                    headers={"Device-Token": token},
                    timeout=5,
                )
            except requests.RequestException:
                return  # the server died mid-request: this record was not acknowledged
            if response.status_code == 200 and response.json() == {
                "status": True,
                "result": "1 Data Added",
            }:
                acknowledged[index].append(value)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(POSTERS)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    target.kill()  # SIGKILL: no chance to flush anything
    stop.set()
    for thread in threads:
        thread.join(10)
    total = sum(len(a) for a in acknowledged)
    assert total > 100, f"only {total} records were acknowledged before the kill"

    with start_target(state, "--plan", "unlimited") as again:
        reader = Client(again)
        for index, made in enumerate(devices):
            response = reader.call("GET", "/data", made["token"], params={"qty": 10000})
            stored = {r["value"] for r in response.json()["result"]}
            missing = set(acknowledged[index]) - stored
            assert not missing, f"device {index}: acknowledged but lost: {sorted(missing)[:10]}"
    with sqlite3.connect(state / "target.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
