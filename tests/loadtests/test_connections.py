"""MQTT and TCP devices look their broker's host up once a process, not at every connection:
paho's socket comes through a private hook of paho-mqtt 2 (tagocheck.load.mqtt_devices._Client),
and this fails if paho stops calling it. And how a device's connections end when the fleet
spreads their ages (--connection-spread), on a clock the tests move."""

from __future__ import annotations

import socket

import paho.mqtt.client as mqtt

from tagocheck.load import connections
from tagocheck.load.mqtt_devices import _Client
from tagocheck.load.tcp_devices import TcpConnection


def _listener() -> socket.socket:
    server = socket.create_server(("127.0.0.1", 0))
    server.listen(16)
    return server


def test_paho_connects_through_the_looked_up_address_once_per_host():
    connections._looked_up.cache_clear()
    with _listener() as server:
        port = server.getsockname()[1]
        for _ in range(3):
            client = _Client(mqtt.CallbackAPIVersion.VERSION2, client_id="lookup-check")
            assert client.connect("localhost", port) == 0
            client.socket().close()
    seen = connections._looked_up.cache_info()
    assert (seen.misses, seen.hits) == (1, 2), seen


def test_tcp_devices_connect_through_the_looked_up_address_once_per_host():
    connections._looked_up.cache_clear()
    with _listener() as server:
        port = server.getsockname()[1]
        for _ in range(3):
            device = TcpConnection(("localhost", port), None)
            device.open(5)
            device.close()
    seen = connections._looked_up.cache_info()
    assert (seen.misses, seen.hits) == (1, 2), seen


class _Held:
    """A connection that stays open until someone ends it, with uplinks waiting on it or not."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.closed_because: str | None = None
        self.opened_at = 0.0
        self.waiting = 0

    @property
    def open_now(self) -> bool:
        return self.closed_because is None

    @property
    def in_flight(self) -> int:
        return self.waiting

    def open(self, timeout: float) -> None:
        pass

    def close(self) -> None:
        self.closed_because = self.closed_because or "client"


def _spread(seconds: float, seed: str = "0") -> tuple[connections.Connections, list[str]]:
    fired: list[str] = []
    made = connections.Connections(
        _Held, lambda name, _ms, _error: fired.append(name), spread=seconds, seed=seed
    )
    return made, fired


def test_a_spread_ends_each_first_connection_once_at_its_own_time(monkeypatch):
    """--connection-spread 10: each key's first connection is ended by the device at a time
    drawn in [0, 10) s for that key (the same in every run of the seed), never while an uplink
    waits on it, and only the first: the next lasts until the server ends it."""
    clock = [1000.0]
    monkeypatch.setattr(connections.time, "perf_counter", lambda: clock[0])
    made, fired = _spread(10)
    keys = [f"sensor-{n}" for n in range(200)]
    first = {key: made.connection(key, 1)[0] for key in keys}
    ends = {key: made.ends[key] - 1000.0 for key in keys}
    assert all(0 <= end < 10 for end in ends.values())
    assert max(ends.values()) - min(ends.values()) > 8  # spread, not together
    again, _ = _spread(10)
    for key in keys[:5]:
        again.connection(key, 1)
    assert {key: again.ends[key] - 1000.0 for key in keys[:5]} == {k: ends[k] for k in keys[:5]}
    other, _ = _spread(10, seed="1")
    other.connection(keys[0], 1)
    assert other.ends[keys[0]] - 1000.0 != ends[keys[0]]

    key = min(keys, key=ends.__getitem__)
    clock[0] = 1000.0 + ends[key] - 0.001
    assert made.connection(key, 1)[0] is first[key]  # not yet
    clock[0] = 1000.0 + ends[key] + 0.001
    first[key].waiting = 1
    assert made.connection(key, 1)[0] is first[key]  # an uplink waits on it: kept
    first[key].waiting = 0
    second, _ = made.connection(key, 1)
    assert second is not first[key] and first[key].closed_because == connections.SPREAD
    assert fired.count(f"{connections.CLOSED}{connections.SPREAD}") == 1
    clock[0] = 1000.0 + 10_000
    assert made.connection(key, 1)[0] is second  # the device ends only its first

    second.closed_because = "ttl_expired"  # the server ends it: a third, also kept
    third, _ = made.connection(key, 1)
    assert made.connection(key, 1)[0] is third


def test_a_first_connection_the_server_ended_first_is_not_ended_again(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(connections.time, "perf_counter", lambda: clock[0])
    made, fired = _spread(10)
    first, _ = made.connection("sensor-1", 1)
    first.closed_because = "ttl_expired"
    second, _ = made.connection("sensor-1", 1)
    clock[0] = 100.0
    assert made.connection("sensor-1", 1)[0] is second
    assert f"{connections.CLOSED}{connections.SPREAD}" not in fired


def test_without_a_spread_a_device_never_ends_its_connection(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(connections.time, "perf_counter", lambda: clock[0])
    made, fired = _spread(0)
    first, _ = made.connection("sensor-1", 1)
    clock[0] = 1e6
    assert made.connection("sensor-1", 1)[0] is first
    assert fired == [connections.CONNECT]
