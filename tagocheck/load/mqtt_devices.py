"""TagoTiP devices over MQTT, as real devices connect: each device its own connection (the
binding's credentials are the profile hash's halves, TagoTipServers §3.1), made when a report
is due and none is open, subscribed to the device's ack topic, publishing `!N|BODY` to
`$tip/{serial}/push` and reading `!N|STATUS[|DETAIL]` back. Answers are paired with their
uplink by the counter N, not by arrival. The server ends a connection at its TTL or after the
idle timeout (`ERR|ttl_expired`, `ERR|keep_alive_timeout`); the device connects again for its
next report, as a device would, and every connection, close and its reason is a Locust request
event (tagocheck.load.connections). With `--tagotip-envelope` the device uses the `$tips/`
topics instead: each uplink a TagoTiP/S envelope, each answer opened with the device's key and
handed to the device's one uplink out (docs/tagotip/transports/mqtt; a sealed ACK carries no
counter of the uplink's, TagoTiPs §9).

paho-mqtt speaks MQTT on each connection, driven the way its documentation gives for an
external event loop: a greenlet per connection waits on the socket (gevent's io watcher) and
hands what came to loop_read; writes go out as paho queues them. Its own loop thread selects
over a socketpair besides the socket, and select() cannot take descriptors past 1,023: the
threaded loop stalled at about 340 devices a process.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable, Sequence

import gevent
import gevent.event
import gevent.socket
import paho.mqtt.client as mqtt

from tagocheck.load.connections import (
    CLOSE_REASONS,
    Connections,
    Fire,
    NoAnswer,
    connected_socket,
)
from tagocheck.tagotip.credentials import mqtt_credentials
from tagocheck.tagotip.frames import Ack, parse_ack, parse_ack_payload
from tagocheck.tagotip.grammar import FrameError
from tagocheck.tagotip.sealing import Sealing

KEEPALIVE_SECONDS = 60
"""The client's MQTT keep-alive: longer than any plan's idle timeout, so a device that has
nothing to send is closed by the server, as a sleepy device is, rather than pinging."""


class _Client(mqtt.Client):
    """paho's client, connecting through connected_socket (its host looked up once a process,
    not at every reconnect). This overrides a private method of paho-mqtt 2 (pinned in
    pyproject.toml); tests/loadtests/test_connections.py fails if it no longer
    applies."""

    def _create_socket_connection(self) -> socket.socket:
        return connected_socket((self._host, self._port), self._connect_timeout)


class MqttConnection:
    """One MQTT connection while it lasts, carrying the uplinks of the devices behind it (one
    device, or a gateway's: TagoTipServers §3.1 lets any connection of the profile publish to
    any device's topics): their ACKs by device and counter."""

    def __init__(
        self,
        host: str,
        port: int,
        serials: tuple[str, ...],
        auth_hash: str,
        sealing: Sealing | None = None,
    ) -> None:
        self.serials = serials
        self.auth_hash = auth_hash
        self.sealing = sealing
        self.prefix = "$tip" if sealing is None else "$tips"
        self.waiting: dict[str, dict[int, gevent.event.AsyncResult]] = {}
        """Each device's uplinks out, by counter (one at a time: the device's turn)."""
        self.ready = gevent.event.AsyncResult()
        self.opened_at = 0.0
        self.closed_because: str | None = None
        self.last_error: str | None = None
        client = _Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"{serials[0]}-{secrets.token_hex(3)}"
        )
        client.username_pw_set(*mqtt_credentials(auth_hash))
        client.on_connect = self._connected
        client.on_subscribe = self._subscribed
        client.on_message = self._message
        client.on_disconnect = self._disconnected
        self.client = client
        self.address = (host, port)
        self.reader: gevent.Greenlet | None = None

    def topic(self, serial: str, verb: str) -> str:
        return f"{self.prefix}/{serial}/{verb}"

    def open(self, timeout: float) -> None:
        """Connect and subscribe to the devices' ack topics; NoAnswer when refused or too
        slow."""
        try:
            self.client.connect(*self.address, keepalive=KEEPALIVE_SECONDS)
        except OSError as error:
            raise NoAnswer(f"connect: {type(error).__name__}: {error}") from None
        self.reader = gevent.spawn(self._read)
        try:
            self.ready.get(timeout=timeout)
        except gevent.Timeout:
            self.close()
            raise NoAnswer(f"no CONNACK and SUBACK within {timeout:g} s") from None

    def _read(self) -> None:
        """What the server sends, as it comes; paho's timers (keep-alive) once a second."""
        client = self.client
        while True:
            sock = client.socket()
            if sock is None:
                return
            try:
                gevent.socket.wait_read(sock.fileno(), timeout=1.0)
            except TimeoutError:
                pass
            except Exception:  # the socket was closed under the wait: the connection is over
                return
            else:
                if client.loop_read() != mqtt.MQTT_ERR_SUCCESS:
                    return
            if client.want_write():
                client.loop_write()
            if client.loop_misc() != mqtt.MQTT_ERR_SUCCESS:
                return

    def _connected(self, client, _userdata, _flags, reason, _properties) -> None:
        if reason.is_failure:
            self.ready.set_exception(NoAnswer(f"CONNECT refused: {reason}"))
            return
        client.subscribe([(self.topic(serial, "ack"), 1) for serial in self.serials])

    def _subscribed(self, _client, _userdata, _mid, reasons, _properties) -> None:
        refused = [r for r in reasons if r.is_failure]
        if refused:
            self.ready.set_exception(NoAnswer(f"SUBSCRIBE refused: {refused[0]}"))
        else:
            self.ready.set(True)

    def _message(self, _client, _userdata, message) -> None:
        """An answer on a device's ack topic: the plain payload (`!N|OK|3`), handed to that
        device's uplink of its number, or, sealed, the ACK frame the envelope opens to
        (`ACK|OK|3`), handed to the device's one uplink out."""
        serial = message.topic.split("/")[1] if message.topic.count("/") == 2 else ""
        answer = bytes(message.payload)
        if self.sealing is None:
            ack = _read(parse_ack_payload, answer)
        else:
            answer = self.sealing.opened(serial, answer)
            ack = _read(parse_ack, answer)
        if ack is not None and ack.seq is None and ack.detail in CLOSE_REASONS:
            self.closed_because = ack.detail  # the server ends the connection next
            return
        out = self.waiting.get(serial) or {}
        if self.sealing is not None:
            waiter = out.popitem()[1] if out else None
        else:
            seq = ack.seq if ack is not None else None
            waiter = out.pop(seq, None) if seq is not None else None
        if waiter is not None:
            waiter.set(answer)
        # an answer no uplink waits for (a late one, or one with no counter) is not paired

    def _disconnected(self, _client, _userdata, _flags, reason, _properties) -> None:
        why = self.closed_because or f"closed: {reason}"
        self.closed_because = self.closed_because or "other"
        for out in self.waiting.values():
            for waiter in out.values():
                waiter.set_exception(NoAnswer(f"the connection ended before the ACK ({why})"))
        self.waiting.clear()
        if not self.ready.ready():
            self.ready.set_exception(NoAnswer(f"the connection ended at once ({why})"))

    @property
    def open_now(self) -> bool:
        return self.closed_because is None and self.client.is_connected()

    @property
    def in_flight(self) -> int:
        """The gateway's devices' uplinks waiting for their ACK on it."""
        return sum(len(out) for out in self.waiting.values())

    def push(self, serial: str, counter: int, body: bytes, timeout: float) -> bytes:
        """Publish one uplink of the device with its counter; its answer (see _message), or
        NoAnswer."""
        waiter = gevent.event.AsyncResult()
        out = self.waiting.setdefault(serial, {})
        out[counter] = waiter
        if self.sealing is None:
            payload = b"!%d|" % counter + body
        else:
            payload = self.sealing.seal(self.auth_hash, serial, body.decode(), counter)
        self.client.publish(self.topic(serial, "push"), payload, qos=0)
        try:
            return waiter.get(timeout=timeout)
        except gevent.Timeout:
            out.pop(counter, None)
            raise NoAnswer(f"no ACK within {timeout:g} s") from None

    def close(self) -> None:
        self.closed_because = self.closed_because or "client"
        self.client.disconnect()
        if self.reader is not None:
            self.reader.kill(block=False)


class MqttDevices:
    """This process's devices' MQTT connections, made when needed: one per device, or one per
    gateway of `per_connection` devices (this process's devices in their order, so a gateway's
    devices are always in one process); each first one ended within `spread` s
    (tagocheck.load.connections)."""

    def __init__(
        self,
        address: str,
        auth_hash: str,
        fire: Fire,
        sealing: Sealing | None = None,
        serials: Sequence[str] = (),
        per_connection: int = 1,
        spread: float = 0.0,
        seed: str = "",
    ) -> None:
        host, _, port = address.rpartition(":")
        self.behind: dict[str, tuple[str, ...]] = {}
        """Each gateway's devices by serial: the serials that share its connection, the first
        one its key; a device with a connection of its own is not in it."""
        for start in range(0, len(serials) if per_connection > 1 else 0, per_connection):
            gateway = tuple(serials[start : start + per_connection])
            self.behind.update(dict.fromkeys(gateway, gateway))
        self.connections = Connections(
            lambda key: MqttConnection(
                host, int(port), self.behind.get(key, (key,)), auth_hash, sealing
            ),
            fire,
            key_of=lambda serial: self.behind.get(serial, (serial,))[0],
            spread=spread,
            seed=seed,
        )

    def send(self, serial: str, body: bytes, timeout: float) -> bytes:
        """One uplink of the device, on its (gateway's) open connection or a new one: the ACK
        payload (the frame it opens to, when sealed); NoAnswer when none."""
        with self.connections.turns.of(serial) as counter:
            connection, _ = self.connections.connection(serial, timeout)
            return connection.push(serial, counter, body, timeout)

    def close_all(self) -> None:
        self.connections.close_all()


def _read(parse: Callable[[bytes], Ack], answer: bytes) -> Ack | None:
    try:
        return parse(answer)
    except (FrameError, UnicodeDecodeError):
        return None
