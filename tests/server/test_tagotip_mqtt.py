"""The embedded target's TagoTiP MQTT binding, driven by paho-mqtt as a device would: uplinks on
`$tip/{serial}/push|pull`, ACKs on `$tip/{serial}/ack` with the counter echoed, what is
acknowledged read back through GET /data, and the plan's connection rules: credentials, the
connections per IP, the TTL with `ERR|ttl_expired`, the idle timeout, and the no-ttl fault;
on amqtt in the target's process and on mosquitto started beside it."""

from __future__ import annotations

import queue
import time

import paho.mqtt.client as mqtt
import pytest
import requests

from tagocheck.server.launcher import start_target
from tagocheck.tagotip import credentials, envelope

SERIAL = "sensor-01"
ACK = f"$tip/{SERIAL}/ack"


class Device:
    """One MQTT connection of a device, subscribed to its ack topic, its ACKs in a queue."""

    def __init__(self, info: dict, *, client_id: str, auth: str | None = None, keepalive=60):
        host, port = info["tagotip_mqtt"].rsplit(":", 1)
        auth = auth or info["tagotip_auth_hash"]
        self.acks: queue.Queue = queue.Queue()
        self.connected: queue.Queue = queue.Queue()
        self.closed: queue.Queue = queue.Queue()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        client.username_pw_set(*credentials.mqtt_credentials(auth))
        client.on_connect = self._on_connect
        client.on_message = lambda _c, _u, message: self.acks.put(
            (message.topic, bytes(message.payload))
        )
        client.on_disconnect = lambda _c, _u, _f, reason, _p: self.closed.put(
            (time.monotonic(), str(reason))
        )
        client.reconnect_delay_set(30, 30)  # a reconnect would hide the close under test
        self.client = client
        self.started = time.monotonic()
        client.connect(host, int(port), keepalive=keepalive)
        client.loop_start()
        self.accepted = self.connected.get(timeout=10)
        if self.accepted:
            time.sleep(0.2)  # the SUBACK

    def _on_connect(self, client, _userdata, _flags, reason, _properties) -> None:
        accepted = not reason.is_failure
        if accepted:
            client.subscribe([(ACK, 1), (f"$tips/{SERIAL}/ack", 1)])
        self.connected.put(accepted)

    def send(self, verb: str, payload: bytes | str, prefix: str = "$tip") -> bytes:
        self.client.publish(f"{prefix}/{SERIAL}/{verb}", payload, qos=1)
        return self.acks.get(timeout=10)[1]

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module", params=["amqtt", "mosquitto"])
def serve(request):
    """The target on each broker the binding runs on: amqtt in its process, mosquitto beside
    it with our plugin; every rule below holds on both."""

    def started(tmp_path, *args: str):
        broker = ("--tagotip-mqtt-broker", request.param)
        return start_target(tmp_path, "--tagotip-mqtt-port", "0", *broker, *args)

    return started


def make_device(info: dict) -> str:
    made = requests.post(
        f"{info['url']}/device",
        json={"name": "tip", "type": "mutable", "serie_number": SERIAL},
        headers={"Profile-Token": info["profile_token"]},
        timeout=10,
    )
    return made.json()["result"]["token"]


@pytest.fixture(scope="module")
def scale(tmp_path_factory, serve):
    with serve(tmp_path_factory.mktemp("mqtt"), "--plan", "scale") as target:
        token = make_device(target.info)
        yield target.info, token


def test_pushes_are_acknowledged_with_their_counter_and_read_back(scale):
    info, token = scale
    device = Device(info, client_id="push")
    try:
        assert device.send("push", "!1|[temperature:=32#C;humidity:=65#%]") == b"!1|OK|2"
        assert device.send("push", "!1|[late:=1]") == b"!1|ERR|invalid_seq"
        assert device.send("push", "[a:=01]") == b"ERR|invalid_payload"
        assert device.send("push", ">xDEADBEEF") == b"OK|1"
        pulled = device.send("pull", "!2|temperature,absent")
        assert pulled.startswith(b"!2|OK|[temperature:=32#C@")
        key = credentials.derive_key(info["authorization"], SERIAL, 16)
        sealed = envelope.seal(
            f"{SERIAL}|[s:=1]",
            key=key,
            method="PUSH",
            counter=3,
            auth_hash=info["tagotip_auth_hash"],
            serial=SERIAL,
        )
        answer = device.send("push", sealed, prefix="$tips")
        assert envelope.open_envelope(answer, [key])[1] == b"OK|1"
    finally:
        device.stop()
    stored = requests.get(
        f"{info['url']}/data", params={"qty": 100}, headers={"Device-Token": token}, timeout=10
    ).json()["result"]
    assert sorted(r["variable"] for r in stored) == ["humidity", "payload", "s", "temperature"]


def test_wrong_credentials_are_refused(scale):
    info, _ = scale
    device = Device(info, client_id="wrong", auth="0" * 16)
    device.stop()
    assert device.accepted is False


def test_the_ttl_closes_a_busy_connection_with_ttl_expired(tmp_path, serve):
    """Said on each ack topic: plain on `$tip/`, sealed in the device's suite on `$tips/`
    (transports/mqtt: the same semantics on both prefixes)."""
    with serve(tmp_path, "--plan", "scale", "--tagotip-ttl-seconds", "1.5") as target:
        make_device(target.info)
        device = Device(target.info, client_id="ttl")
        key = credentials.derive_key(target.info["authorization"], SERIAL, 32)
        try:
            sealed = envelope.seal(
                f"{SERIAL}|[s:=1]",
                key=key,
                method="PUSH",
                counter=1,
                auth_hash=target.info["tagotip_auth_hash"],
                serial=SERIAL,
                suite=4,
            )
            device.send("push", sealed, prefix="$tips")
            while device.closed.empty() and time.monotonic() - device.started < 5:
                device.client.publish(f"$tip/{SERIAL}/push", "[busy:=1]", qos=0)
                time.sleep(0.2)  # busy all along: the TTL caps the connection, activity or not
            closed_at, _ = device.closed.get(timeout=5)
            acks = []
            while not device.acks.empty():
                acks.append(device.acks.get())
        finally:
            device.stop()
    assert (ACK, b"ERR|ttl_expired") in acks
    sealed_acks = [payload for topic, payload in acks if topic.startswith("$tips/")]
    assert [envelope.open_envelope(p, [key])[1] for p in sealed_acks] == [b"ERR|ttl_expired"]
    assert 1.2 < closed_at - device.started < 3.5


def test_no_ttl_fault_keeps_the_connection(tmp_path, serve):
    args = ("--plan", "scale", "--tagotip-ttl-seconds", "1", "--fault", "no-ttl")
    with serve(tmp_path, *args) as target:
        make_device(target.info)
        device = Device(target.info, client_id="forever", keepalive=60)
        try:
            time.sleep(2.5)
            assert device.closed.empty()
            assert device.send("push", "[still:=1]") == b"OK|1"
        finally:
            device.stop()


def test_a_silent_connection_is_closed_at_the_idle_timeout(tmp_path, serve):
    args = ("--plan", "scale", "--tagotip-idle-seconds", "1", "--tagotip-ttl-seconds", "60")
    with serve(tmp_path, *args) as target:
        make_device(target.info)
        # paho sends its PINGREQ only after 60 s: the connection is silent past the timeout
        device = Device(target.info, client_id="silent", keepalive=60)
        try:
            closed_at, _ = device.closed.get(timeout=6)
        finally:
            device.stop()
    assert closed_at - device.started < 4
    assert device.acks.get(timeout=1)[1] == b"ERR|keep_alive_timeout"


def test_connections_past_the_per_ip_limit_are_refused(tmp_path, serve):
    with serve(tmp_path, "--plan", "free") as target:  # Free: 3 connections per IP [C]
        devices = [Device(target.info, client_id=f"c{n}") for n in range(4)]
        for device in devices:
            device.stop()
    assert [d.accepted for d in devices] == [True, True, True, False]


def test_acks_reach_the_device_a_wildcard_listener_and_no_one_unsubscribed(scale):
    """The broker keeps ack topics in a table of its own (amqtt walked its whole table of
    filters on every CONNECT): the device still gets its ACK, a `$tip/+/ack` listener gets it
    too, and a device that unsubscribed gets none."""
    info, _ = scale
    listener = Device(info, client_id="listener")
    listener.client.unsubscribe([ACK, f"$tips/{SERIAL}/ack"])  # the wildcard alone
    listener.client.subscribe("$tip/+/ack", 1)
    time.sleep(0.2)
    device = Device(info, client_id="device")
    try:
        assert device.send("push", "!7|[w:=1]") == b"!7|OK|1"
        assert listener.acks.get(timeout=5)[1] == b"!7|OK|1"
        device.client.unsubscribe(ACK)
        time.sleep(0.2)
        device.client.publish(f"$tip/{SERIAL}/push", "!8|[w:=2]", qos=1)
        assert listener.acks.get(timeout=5)[1] == b"!8|OK|1"
        with pytest.raises(queue.Empty):
            device.acks.get(timeout=1)
    finally:
        device.stop()
        listener.stop()


def test_no_device_reads_what_other_devices_send(scale):
    """mosquitto routes each push to the target on `$tagocheck/in/...` (its plugin): a device
    that subscribes there, or to `#`, sees no other device's frame, only the ACKs on the ack
    topic it subscribed to (any device of the profile may, TagoTipServers §3.1)."""
    info, _ = scale
    snoop = Device(info, client_id="snoop")
    snoop.client.subscribe([("$tagocheck/#", 1), ("#", 1)])
    time.sleep(0.3)
    device = Device(info, client_id="sender")
    try:
        assert device.send("push", "!9|[secret:=1]") == b"!9|OK|1"
        time.sleep(0.3)
    finally:
        device.stop()
        snoop.stop()
    seen = []
    while not snoop.acks.empty():
        seen.append(snoop.acks.get())
    assert seen == [(ACK, b"!9|OK|1")]
