"""Each fault mode shows the deviation it promises, so the suite can prove its checks catch it."""

from __future__ import annotations

import time

import pytest
import requests

from tagocheck.server.faults import FAULTS, Faults, UnknownFault
from tagocheck.tagotip import envelope
from tagocheck.tagotip.sealing import Sealing

from .conftest import Client


def faulty(start, *faults: str, plan: str = "unlimited") -> Client:
    args = ["--plan", plan, "--rate-window-seconds", "600"]
    for fault in faults:
        args += ["--fault", fault]
    return Client(start(*args))


def test_no_rate_limit(start):
    client = faulty(start, "no-rate-limit", plan="free")
    codes = {client.profile("GET", "/info").status_code for _ in range(61)}
    assert codes == {200}


def test_early_throttle(start):
    client = faulty(start, "early-throttle", plan="free")
    codes = [client.profile("GET", "/info").status_code for _ in range(31)]
    assert codes[:30] == [200] * 30 and codes[30] == 429


def test_bad_envelope(start):
    body = faulty(start, "bad-envelope").profile("GET", "/info").json()
    assert body["status"] == "true"


def test_html_errors(start):
    response = faulty(start, "html-errors").call("GET", "/no/such/route")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<html>")


def test_wrong_status(start):
    response = faulty(start, "wrong-status").call("GET", "/info")
    assert response.status_code == 200 and response.json()["status"] is False


def test_wrong_count(start):
    client = faulty(start, "wrong-count")
    token = client.device("c")["token"]
    response = client.call("POST", "/data", token, json=[{"variable": "a"}, {"variable": "b"}])
    assert response.json()["result"] == "3 Data Added"
    assert client.call("GET", "/data", token, params={"query": "count"}).json()["result"] == 2


def sealed_twice(client: Client, serial: str, counter: int) -> tuple[bytes, list[bytes]]:
    """A new device `serial` pushes one sealed frame to POST /v1/tips twice under `counter` (the
    second a replay): its key and the two answers."""
    info = client.target.info
    client.call(
        "POST",
        "/device",
        client.target.profile_token,
        json={"name": serial, "serie_number": serial},
    )
    sealing = Sealing(envelope.SUITE_OPTIONS["aes-128-ccm"], info["authorization"])
    sealed = sealing.seal(info["tagotip_auth_hash"], serial, "[a:=1]", counter)
    url = f"{info['tagotip_http_url']}/v1/tips"
    return sealing.key(serial), [
        requests.post(url, data=sealed, timeout=10).content for _ in range(2)
    ]


def test_ignore_seq(start):
    key, replies = sealed_twice(faulty(start, "ignore-seq"), "s-1", 7)
    # the second is a replay, taken all the same
    answers = [envelope.open_envelope(reply, [key])[1] for reply in replies]
    assert answers == [b"OK|1", b"OK|1"]


def test_no_ttl(start):
    # the MQTT binding's TTL is judged in tests/server/test_tagotip_mqtt.py, with and without
    # this fault; here: the fault is taken and the broker runs with it
    target = start("--fault", "no-ttl", "--tagotip-mqtt-port", "0")
    assert "no-ttl" in target.info["faults"][0] and target.info["tagotip_mqtt"]


def test_ignore_permission(start):
    client = faulty(start, "ignore-permission")
    made = client.device("p")
    read = client.token(made["device_id"], "read")
    response = client.call("POST", "/data", read, json={"variable": "should_not"})
    assert response.status_code == 200


def test_cross_device(start):
    client = faulty(start, "cross-device")
    one, two = client.device("one"), client.device("two")
    client.call("POST", "/data", one["token"], json={"variable": "secret", "value": 1})
    seen = client.call("GET", "/data", two["token"], params={"variables": "secret"}).json()
    assert [r["device"] for r in seen["result"]] == [one["device_id"]]


def test_any_authorization(start):
    client = faulty(start, "any-authorization")
    client.device("keyed", serie_number="SN-ANY")
    network = client.target.info["network_token"]
    resolved = client.call("GET", "/integration/network/resolve/SN-ANY/at-no-key", network)
    assert resolved.status_code == 200 and resolved.json()["result"]
    sent = client.call(
        "POST",
        "/integration/network/data?authorization_token=at-no-key",
        network,
        json={"variable": "v", "metadata": {"serial": "SN-ANY"}},
    )
    assert sent.status_code == 200


def test_unknown_serial(start):
    client = faulty(start, "unknown-serial")
    token = client.device("known", serie_number="SN-KNOWN")["token"]
    network = client.target.info["network_token"]
    key = client.target.info["authorization"]
    sent = client.call(
        "POST",
        f"/integration/network/data?authorization_token={key}",
        network,
        json=[{"variable": "v", "value": 1, "metadata": {"serial": "SN-NOBODY"}}],
    )
    assert sent.status_code == 200 and sent.json()["result"] == "1 Data Added"
    stored = client.call("GET", "/data?variables=v&query=count", token).json()["result"]
    assert stored == 0  # acknowledged, stored nowhere
    known = client.call(
        "POST",
        f"/integration/network/data?authorization_token={key}",
        network,
        json=[{"variable": "v", "value": 1, "metadata": {"serial": "SN-KNOWN"}}],
    )
    assert known.status_code == 200
    assert client.call("GET", "/data?variables=v&query=count", token).json()["result"] == 1


def test_lose_writes(start):
    client = faulty(start, "lose-writes=0.5")
    token = client.device("l")["token"]
    response = client.call(
        "POST", "/data", token, json=[{"variable": "v", "value": i} for i in range(10)]
    )
    assert response.json()["result"] == "10 Data Added"
    assert client.call("GET", "/data", token, params={"query": "count"}).json()["result"] == 5


def test_duplicate_writes(start):
    client = faulty(start, "duplicate-writes=0.5")
    token = client.device("w")["token"]
    response = client.call(
        "POST", "/data", token, json=[{"variable": "v", "value": i} for i in range(10)]
    )
    assert response.json()["result"] == "10 Data Added"
    stored = client.call("GET", "/data", token, params={"variable": "v", "qty": 100}).json()
    values = sorted(record["value"] for record in stored["result"])
    assert len(values) == 15 and len(set(values)) == 10
    assert len({record["id"] for record in stored["result"]}) == 15


def test_server_errors(start):
    client = faulty(start, "server-errors=0.5")
    codes = [client.profile("GET", "/info").status_code for _ in range(10)]
    assert codes.count(500) == 5 and codes.count(200) == 5


def test_slow(start):
    client = faulty(start, "slow=0.3")
    began = time.monotonic()
    assert client.profile("GET", "/info").status_code == 200
    assert time.monotonic() - began >= 0.3


def test_slow_writes(start):
    client = faulty(start, "slow-writes=0.5")
    token = client.device("w")["token"]
    began = time.monotonic()
    assert client.profile("GET", "/info").status_code == 200
    assert time.monotonic() - began < 0.5  # only writes are slow
    with pytest.raises(requests.Timeout):  # stored at once, acknowledged too late for the client
        client.call("POST", "/data", token, json={"variable": "v", "value": 1}, timeout=0.2)
    stored = client.call("GET", "/data", token, params={"variable": "v"}).json()["result"]
    assert len(stored) == 1


def test_ignore_time(start):
    client = faulty(start, "ignore-time")
    token = client.device("w")["token"]
    sent = {"variable": "v", "value": 1, "time": "2020-01-02T03:04:05.000Z"}
    assert client.call("POST", "/data", token, json=sent).status_code == 200
    stored = client.call("GET", "/data", token, params={"variable": "v"}).json()["result"]
    assert stored[0]["time"][:4] != "2020"


def test_group_cap(start):
    assert Faults.parse(["group-cap"]).describe() == ["group-cap=24"]  # the default
    client = faulty(start, "group-cap=24")
    token = client.device("g")["token"]
    long_group = [{"variable": "v", "value": 1, "group": "g" * 25}, {"variable": "w", "value": 2}]
    refused = client.call("POST", "/data", token, json=long_group)
    assert refused.status_code == 400 and "group" in refused.json()["message"]
    assert client.call("GET", "/data", token, params={"variable": "w"}).json()["result"] == []
    fits = {"variable": "v", "value": 1, "serie": "s" * 24}
    assert client.call("POST", "/data", token, json=fits).status_code == 200


def test_lenient_limits(start):
    client = faulty(start, "lenient-limits")
    token = client.device("l")["token"]
    record = {"variable": "v" * 101, "value": 1, "unit": "u" * 26, "group": "gl"}
    assert client.call("POST", "/data", token, json=record).status_code == 200
    stored = client.call("GET", "/data", token, params={"groups": "gl"}).json()["result"]
    assert [(r["variable"], r["unit"]) for r in stored] == [("v" * 101, "u" * 26)]
    dash = client.call("POST", "/data", token, json={"variable": "a-b", "value": 1})
    assert dash.status_code == 200


def test_capacity(start):
    """Three writes of 50 records at 100 records a second: the third is let through no sooner
    than a second after the first began (a lower bound: a busy machine is only slower)."""
    assert Faults.parse(["capacity=100/s"]).describe() == ["capacity=100"]
    client = faulty(start, "capacity=100/s")
    token = client.device("c")["token"]
    batch = [{"variable": "v", "value": i} for i in range(50)]
    began = time.monotonic()
    for _ in range(3):
        assert client.call("POST", "/data", token, json=batch).status_code == 200
    assert time.monotonic() - began >= 1.0


def test_down(start):
    client = faulty(start, "down=0+1.5")
    first = client.profile("GET", "/info")
    assert first.status_code == 503 and first.json()["status"] is False
    time.sleep(1.6)
    assert client.profile("GET", "/info").status_code == 200


def test_silent(start):
    client = faulty(start, "silent=0+1.5")
    with pytest.raises(requests.Timeout):  # held past the client's timeout: no answer
        client.profile("GET", "/info", timeout=0.3)
    time.sleep(1.3)
    assert client.profile("GET", "/info").status_code == 200


def test_echo_nonce(start):
    """Each ACK envelope sealed under its uplink's counter: a replay's refusal comes under the
    nonce seed of the first answer (the healthy target's seeds are its own: test_tagotip_http)."""
    _, replies = sealed_twice(faulty(start, "echo-nonce"), "n-1", 9)
    seeds = [envelope.read_header(reply).counter for reply in replies]
    assert seeds == [9, 9]


def test_every_fault_has_a_test_here():
    tested = {
        name.removeprefix("test_").replace("_", "-")
        for name in globals()
        if name.startswith("test_")
    }
    assert set(FAULTS) <= tested


def test_fault_parsing():
    assert Faults.parse(["slow=0.5", "wrong-count"]).describe() == ["slow=0.5", "wrong-count"]
    assert Faults.parse(["down=30+20"]).describe() == ["down=30+20"]
    for bad in (
        ["nope"],
        ["wrong-count=1"],
        ["lose-writes=2"],
        ["slow=fast"],
        ["down"],
        ["down=30"],
        ["silent=-1+5"],
        ["slow-writes=-1"],
        ["group-cap=1.5"],
        ["capacity=0"],
        ["capacity=fast"],
        ["group-cap=100"],
    ):
        with pytest.raises(UnknownFault):
            Faults.parse(bad)
