"""MQTT and TCP devices look their broker's host up once a process, not at every connection:
paho's socket comes through a private hook of paho-mqtt 2 (tagocheck.load.mqtt_devices._Client),
and this fails if paho stops calling it."""

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
