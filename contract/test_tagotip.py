"""TagoTiP conformance over HTTP, MQTT and UDP, on any target that serves them (`--tagotip-url`,
`--tagotip-mqtt`, `--tagotip-udp`, with the profile's `--authorization` token; the embedded
target's own by default).

Frames come from Hypothesis (tagocheck.tagotip.strategies): valid bodies must be acknowledged
with the count stored, read back through the REST API; a valid body broken in one documented way
must be refused whole with invalid_payload. Every answer must be a well-formed ACK as the
binding maps it (TagoTipServers §2.5 over HTTP; over MQTT on the ack topic, paired with its push
by `!N`, §3.5; over UDP the answering datagram, paired the same way, TagoTiP §9.5). Over HTTP
the sequence counter is judged through TagoTiP/S (`POST /v1/tips`), the binding's only carrier
of one (HTTP needs none, §2.7); over MQTT and UDP by `!N`, which the MQTT page and §10 hold to
the same rule. Without a binding's address or the authorization token its tests are not
judged, and say so.
"""

from __future__ import annotations

import contextlib
import queue
import re
import secrets
import socket
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import pytest
import requests
from hypothesis import given, note, settings

from tagocheck.spec.tagotip import tagotip_limits
from tagocheck.tagotip import credentials, envelope
from tagocheck.tagotip import http_binding as binding
from tagocheck.tagotip.bodies import parse_variable_list
from tagocheck.tagotip.frames import Uplink, parse_ack, parse_ack_payload
from tagocheck.tagotip.grammar import ERROR_CODES, FrameError
from tagocheck.tagotip.strategies import invalid_bodies, push_bodies

SUBJECTS = ("TagoTiP HTTP", "TagoTiP MQTT", "TagoTiP UDP", "TagoTiP TCP")
OVER_MQTT = pytest.mark.subjects("TagoTiP MQTT")
"""A check of the MQTT binding: its findings are the binding's, not the HTTP one's."""
OVER_UDP = pytest.mark.subjects("TagoTiP UDP")
OVER_TCP = pytest.mark.subjects("TagoTiP TCP")
STATUS_OF = binding.STATUS_OF_ERROR  # TagoTipServers §2.5, and the HTTP page's 413 [C]
_COUNT = re.compile(r"[0-9]+")


@dataclass
class TipTarget:
    url: str
    auth: str
    key: bytes
    serial: str
    device_id: str
    verify: bool | str

    def push(self, body: bytes | str, serial: str | None = None, auth: str | None = None):
        data = body.encode() if isinstance(body, str) else body
        return requests.post(
            f"{self.url}/v1/tip/{serial or self.serial}",
            data=data,
            headers={"Authorization": f"TagoTiP {auth or self.auth}"},
            timeout=30,
            verify=self.verify,
        )

    def sealed(self, inner: str, counter: int, key: bytes | None = None) -> requests.Response:
        sealed = envelope.seal(
            inner,
            key=key or self.key,
            method="PUSH",
            counter=counter,
            auth_hash=self.auth,
            serial=self.serial,
        )
        return requests.post(f"{self.url}/v1/tips", data=sealed, timeout=30, verify=self.verify)

    def opened(self, answer: requests.Response) -> bytes:
        """An encrypted ACK's inner frame; a plaintext fallback as it came."""
        if answer.content.startswith(b"ACK|"):
            return answer.content
        return envelope.open_envelope(answer.content, [self.key])[1]


@pytest.fixture(scope="module")
def tip(fleet, target) -> TipTarget:
    return tip_device(fleet, target, "tip")


def tip_device(fleet, target, name: str) -> TipTarget:
    """A new device of the fleet as TagoTiP sees it: its serial, its TagoTiP/S key."""
    url = target.tagotip_url
    if not url or not target.authorization:
        pytest.skip("not judged: no TagoTiP URL (--tagotip-url) or no --authorization token")
    device = fleet.device(name)
    return TipTarget(
        url.rstrip("/"),
        credentials.authorization_hash(target.authorization),
        credentials.derive_key(target.authorization, device.serial, 16),
        device.serial,
        device.id,
        target.verify,
    )


def well_formed(answer: requests.Response) -> str:
    """The ACK an HTTP answer stands for, or an assertion naming what is wrong with it."""
    text = answer.text
    if answer.status_code == 200:
        assert _COUNT.fullmatch(text) or text.startswith("["), f"200 with body {text[:60]!r}"
        return f"OK|{text}"
    if answer.status_code == 204:
        return "PONG"
    assert text in ERROR_CODES, f"HTTP {answer.status_code} with body {text[:60]!r}"
    assert STATUS_OF.get(text, answer.status_code) == answer.status_code, (
        f"{text} came with HTTP {answer.status_code}, not {STATUS_OF[text]}"
    )
    return f"ERR|{text}"


def stored_count(fleet, tip: TipTarget, group: str) -> int:
    reply = fleet.profile(
        "GET", f"/device/{tip.device_id}/data", params={"groups": group, "qty": 1000}
    )
    found = fleet.need(reply, "read TagoTiP's records back")
    return len(found)


@settings(max_examples=15)
@given(body=push_bodies)
def test_a_push_is_acknowledged_with_the_count_stored(fleet, tip, body):
    """A PUSH's OK carries the count of data points added (TagoTiP §9.1), each stored: what the
    ACK counts is what GET /device/{id}/data reads back [C TagoTiP §9.1, TagoTipServers §2.5]."""
    # a group of its own for each call: Hypothesis may run one body twice (a group named by the
    # body's hash read both pushes back: 16 stored for an ACK of 4, in a CI-equivalent run)
    group = f"tip{secrets.token_hex(6)}"
    sent = type(body)(body.variables, group, body.time, body.metadata)
    points = [
        type(p)(p.name, p.kind, p.value, p.unit, p.time, None, p.metadata) for p in sent.variables
    ]
    sent = type(body)(tuple(points), group, body.time, body.metadata)
    note(sent.text())
    answer = tip.push(sent.text())
    assert well_formed(answer) == f"OK|{len(points)}", f"{answer.status_code} {answer.text!r}"
    assert stored_count(fleet, tip, group) == len(points), "the ACK's count is not what is stored"


@settings(max_examples=15)
@given(broken=invalid_bodies)
def test_a_broken_body_is_refused_whole(fleet, tip, broken):
    """A PUSH with any invalid variable is refused whole with invalid_payload, nothing kept
    (TagoTiP §6.3: atomic) [C TagoTiP §6.3]."""
    rule, body = broken
    note(f"{rule}: {body}")
    answer = tip.push(body)
    assert well_formed(answer) == "ERR|invalid_payload", f"{rule}: {answer.status_code}"


def test_each_error_code_comes_on_its_cause(tip):
    """An unknown hash is invalid_token (401), an unknown serial device_not_found (404), a frame
    over 16,384 bytes payload_too_large (413) or, where the 100 KB page figure applies, taken
    [C TagoTipServers §2.5, TagoTiP §4.5]."""
    assert well_formed(tip.push("[a:=1]", auth="0" * 16)) == "ERR|invalid_token"
    unknown = tip.push("[a:=1]", serial=f"{tip.serial}-nobody")
    assert well_formed(unknown) == "ERR|device_not_found"
    huge = tip.push("[a=" + "x" * 110_000 + "]")
    assert well_formed(huge) == "ERR|payload_too_large"


def test_pull_answers_what_was_pushed(tip):
    """A PULL answers the last value of each variable found, in push syntax; none found is
    variable_not_found [C TagoTiP §7.2]."""
    assert well_formed(tip.push("[pulled:=42#C]")) == "OK|1"
    answer = requests.get(
        f"{tip.url}/v1/tip/{tip.serial}",
        params={"variables": "pulled,absent"},
        headers={"Authorization": f"TagoTiP {tip.auth}"},
        timeout=30,
        verify=tip.verify,
    )
    assert well_formed(answer).startswith("OK|[")
    try:
        found = {v.name: (v.value, v.unit) for v in parse_variable_list(answer.text)}
    except FrameError as broken:
        pytest.fail(f"the PULL answer is not push syntax: {broken}")
    assert found == {"pulled": (42, "C")}


def test_the_sequence_counter_is_honoured(tip):
    """A counter not above the device's last accepted one is refused with invalid_seq (TagoTiP
    §10.2, TagoTiPs §8.3; TagoIO's transport pages list ERR|invalid_seq) [C TagoTiP §10.2]."""
    first = tip.opened(tip.sealed(f"{tip.serial}|[seq:=1]", 1_000))
    assert first == b"OK|1", first
    again = tip.opened(tip.sealed(f"{tip.serial}|[seq:=2]", 1_000))
    assert again == b"ERR|invalid_seq", f"a replayed counter answered {again!r}"
    later = tip.opened(tip.sealed(f"{tip.serial}|[seq:=3]", 1_001))
    assert later == b"OK|1", later


def test_an_envelope_with_the_wrong_key_fails_auth_failed(tip):
    """An envelope no key of the device opens is answered by a plaintext ACK|ERR|auth_failed
    (400) [C TagoTiPs §9, TagoTipServers §2.9]."""
    answer = tip.sealed(f"{tip.serial}|[a:=1]", 5_000, key=bytes(16))
    assert (answer.status_code, answer.text) == (400, "ACK|ERR|auth_failed")


def test_no_two_sealed_answers_to_a_device_share_a_nonce(fleet, target):
    """An ACK envelope's nonce seed is the server's own, unique while the device's key lasts, not
    the uplink's counter: two answers under one nonce would give away both plaintexts, and a
    replayed uplink's refusal is where an echoed counter repeats [C TagoTiPs §9]. Its own device,
    so its counters touch no other test's."""
    tip = tip_device(fleet, target, "tip-nonce")
    answers = [
        tip.sealed(f"{tip.serial}|[nonce:={n}]", counter)
        for n, counter in enumerate((7, 7, 8, 8, 9))
    ]
    sealed = [a.content for a in answers if a.status_code == 200 and a.content[:4] != b"ACK|"]
    if len(sealed) < 2:
        pytest.skip(f"not judged: {len(sealed)} of {len(answers)} uplinks were answered sealed")
    seeds = [(h.flags, h.counter) for h in map(envelope.read_header, sealed)]
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    assert not repeated, (
        f"{len(sealed)} sealed answers (uplink counters 7, 7, 8, 8, 9) reused nonce seeds "
        f"{[counter for _, counter in repeated]}"
    )


class MqttDevice:
    """One device's own MQTT connection, as the binding has it (TagoTipServers §3): the hash's
    halves as credentials, subscribed to its ack topic; what came on it and when the connection
    ended are queued for the test to read."""

    def __init__(self, target, serial: str, keepalive: int, also: tuple[str, ...] = ()) -> None:
        host, port = target.tagotip_mqtt.rsplit(":", 1)
        self.serial = serial
        self.acks: queue.Queue = queue.Queue()
        self.closed: queue.Queue = queue.Queue()
        self.subscribed: queue.Queue = queue.Queue()
        topics = [(f"$tip/{name}/ack", 1) for name in (serial, *also)]
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{serial}-check")
        client.username_pw_set(
            *credentials.mqtt_credentials(credentials.authorization_hash(target.authorization))
        )
        client.on_connect = lambda c, _u, _f, _r, _p: c.subscribe(topics)
        client.on_subscribe = lambda _c, _u, _m, codes, _p: self.subscribed.put(
            not any(code.is_failure for code in codes)
        )
        client.on_message = lambda _c, _u, message: self.acks.put(bytes(message.payload))
        client.on_disconnect = lambda *_: self.closed.put(time.monotonic())
        client.reconnect_delay_set(600, 600)  # a reconnect is not what is judged
        self.client = client
        self.started = time.monotonic()
        client.connect(host, int(port), keepalive=keepalive)
        client.loop_start()

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def answers(self) -> list[bytes]:
        found = []
        while not self.acks.empty():
            found.append(self.acks.get())
        return found


class MqttPusher:
    """Pushes over one device's MQTT connection, each paired with its ACK by its `!N` (never
    first come), on a connection made again whenever the server ended the last (its TTL and
    idle timeout end any connection a check holds for long). A push the connection's end cut
    off, or one answered rate_limited (the profile's TagoTiP uplinks are 60 a minute on free),
    is sent again; one that never gets through is not judged."""

    def __init__(self, target, serial: str, also: tuple[str, ...] = ()) -> None:
        self.target, self.serial, self.also = target, serial, also
        self.device: MqttDevice | None = None
        self.number = 0

    def _connected(self) -> MqttDevice:
        if self.device is None or not self.device.closed.empty():
            if self.device is not None:
                self.device.stop()
            self.device = MqttDevice(self.target, self.serial, keepalive=60, also=self.also)
            try:
                granted = self.device.subscribed.get(timeout=10)
            except queue.Empty:
                pytest.fail("the broker took the connection but never acknowledged its SUBSCRIBE")
            if not granted:  # the profile's subscriptions a minute (5 on free) may be spent
                pytest.skip("not judged: the broker refused the ack topics' subscription")
        return self.device

    def push(self, payload: str | bytes, serial: str | None = None, again: bool = False) -> str:
        """The ACK (`OK|n`, `ERR|code`) to `!N|payload` on `serial`'s push topic; `again`
        sends the last number again instead of the next."""
        data = payload.encode() if isinstance(payload, str) else payload
        for _ in range(4):
            device = self._connected()
            number = self.number if again else self.number + 1
            self.number = number
            device.client.publish(f"$tip/{serial or self.serial}/push", b"!%d|" % number + data, 1)
            answer = self._answer(device, number)
            if answer is None:  # the connection ended first: not an answer
                continue
            if answer == "ERR|rate_limited":
                time.sleep(min(self.target.window, 61))
                continue
            return answer
        pytest.skip("not judged: four pushes over MQTT were cut off or rate limited")

    def _answer(self, device: MqttDevice, number: int) -> str | None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                payload = device.acks.get(timeout=0.2)
            except queue.Empty:
                if not device.closed.empty():
                    return None
                continue
            try:
                ack = parse_ack_payload(payload)
            except FrameError as broken:
                pytest.fail(f"the ack topic carried {payload[:60]!r}, not an ACK: {broken}")
            if ack.seq == number:
                return f"{ack.status}|{ack.detail}" if ack.detail else ack.status
        pytest.fail(f"no ACK with !{number} on the ack topic within 10 s")

    def stop(self) -> None:
        if self.device is not None:
            self.device.stop()


@pytest.fixture(scope="module")
def over_mqtt(fleet, target):
    if not target.tagotip_mqtt or not target.authorization:
        pytest.skip("not judged: no TagoTiP MQTT address (--tagotip-mqtt) or no --authorization")
    device = fleet.device("mqtt-frames")
    pusher = MqttPusher(target, device.serial, also=(f"{device.serial}-nobody",))
    yield pusher, device.id
    pusher.stop()


@OVER_MQTT
def test_each_mqtt_error_code_comes_on_its_cause(over_mqtt):
    """Over MQTT, on the ack topic: a push on an unknown serial's topic is device_not_found, a
    counter not above the last accepted invalid_seq, and a body over both of the page's sizes
    (16,384 bytes on the wire, 100 KB a device) payload_too_large [C transports/mqtt]."""
    pusher, _ = over_mqtt
    nobody = pusher.push("[a:=1]", serial=f"{pusher.serial}-nobody")
    assert nobody == "ERR|device_not_found", f"an unknown serial answered {nobody}"
    assert pusher.push("[seq:=1]") == "OK|1"
    replayed = pusher.push("[seq:=2]", again=True)
    assert replayed == "ERR|invalid_seq", f"the accepted !{pusher.number} again answered {replayed}"
    huge = pusher.push("[a=" + "x" * 110_000 + "]")
    assert huge == "ERR|payload_too_large", f"a 110,000-byte body answered {huge}"


def mqtt_limits(target):
    if not target.tagotip_mqtt or not target.authorization:
        pytest.skip("not judged: no TagoTiP MQTT address (--tagotip-mqtt) or no --authorization")
    if not target.has_plan:
        pytest.skip("not judged: with --plan none the limit to hold the target to is unknown")
    return tagotip_limits().plans[target.plan]


@OVER_MQTT
def test_an_mqtt_push_is_acknowledged_on_its_ack_topic_by_its_number(fleet, target):
    """Over MQTT a push to `$tip/{serial}/push` is answered on `$tip/{serial}/ack` by an ACK
    that carries the push's `!N`, with the count stored or the error's code; a push without one
    is answered without one [C TagoTipServers §3.3, transports/mqtt]."""
    mqtt_limits(target)
    device = MqttDevice(target, fleet.device("mqtt-push").serial, keepalive=60)
    push = f"$tip/{device.serial}/push"
    try:
        time.sleep(0.5)  # subscribed to its ack topic before anything is pushed
        sent = {7: "[mqtt_a:=1;mqtt_b:=2]", 8: "[mqtt_a:=", 9: "[mqtt_c:=3]"}
        for number, body in sent.items():
            device.client.publish(push, f"!{number}|{body}", qos=1)
        device.client.publish(push, "[mqtt_d:=4]", qos=1)
        said: list = []
        deadline = time.monotonic() + 10
        while len(said) < 4 and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                said.append(device.acks.get(timeout=0.2))
    finally:
        device.stop()
    acks = []
    for payload in said:
        try:
            acks.append(parse_ack_payload(payload))
        except FrameError as broken:
            pytest.fail(f"the ack topic carried {payload[:60]!r}, not an ACK: {broken}")
    by_number = {ack.seq: (ack.status, ack.detail) for ack in acks}
    assert by_number.get(7) == ("OK", "2"), f"!7 (two variables) answered {by_number.get(7)}"
    assert by_number.get(8) == ("ERR", "invalid_payload"), f"!8 (broken) answered {said}"
    assert by_number.get(9) == ("OK", "1"), f"!9 answered {by_number.get(9)}"
    assert by_number.get(None) == ("OK", "1"), f"the push without !N answered {said}"


@OVER_MQTT
def test_an_mqtt_connection_ends_at_the_plans_ttl(fleet, target):
    """Over MQTT a connection is closed at the plan's TTL however busy it is, after
    ERR|ttl_expired on its ack topic [C servers/rate-limits: connection TTL 15/10/10 s]."""
    ttl = mqtt_limits(target).ttl_seconds
    device = MqttDevice(target, fleet.device("ttl").serial, keepalive=60)
    try:
        # busy all along, one uplink a second: activity never extends the TTL
        while device.closed.empty() and time.monotonic() - device.started < ttl + 5:
            device.client.publish(f"$tip/{device.serial}/push", "[busy:=1]", qos=0)
            time.sleep(1)
    finally:
        device.stop()
    assert not device.closed.empty(), f"a busy connection outlived the {ttl:g}-s TTL by 5 s"
    lasted = device.closed.get() - device.started
    assert lasted > ttl - 1, f"closed after {lasted:.1f} s, before the {ttl:g}-s TTL"
    assert b"ERR|ttl_expired" in device.answers(), "closed at the TTL without ERR|ttl_expired"


@OVER_MQTT
def test_a_silent_mqtt_connection_ends_at_the_idle_timeout(fleet, target):
    """A connection silent for the plan's idle timeout is closed after ERR|keep_alive_timeout
    on its ack topic [C servers/rate-limits: keep-alive idle timeout 5 s]. The device asks for
    a 60-s keep-alive and sends nothing, not even a PINGREQ: MQTT gives a server half the
    keep-alive again before it must close (MQTT 3.1.1 §3.1.2.10), so a close by 1.5 x the
    timeout, and never before it, is the documented one."""
    limits = mqtt_limits(target)
    idle, ttl = limits.idle_seconds, limits.ttl_seconds
    device = MqttDevice(target, fleet.device("idle").serial, keepalive=60)
    try:
        while device.closed.empty() and time.monotonic() - device.started < ttl + 5:
            time.sleep(0.1)
    finally:
        device.stop()
    assert not device.closed.empty(), f"a silent connection outlived the {ttl:g}-s TTL by 5 s"
    lasted = device.closed.get() - device.started
    said = device.answers()
    assert b"ERR|keep_alive_timeout" in said, (
        f"a silent connection closed after {lasted:.1f} s with {said!r}, not ERR|keep_alive_timeout"
    )
    assert idle - 0.25 < lasted <= idle * 1.5 + 1, (
        f"a silent connection closed after {lasted:.1f} s, not at the {idle:g}-s idle timeout"
    )


class UdpPusher:
    """Whole frames as datagrams from one socket (docs/tagotip/transports/udp), each paired with
    its ACK datagram by its `!N`. A datagram may be lost on the way either way, so a push with
    no answer in 5 s is sent again, as is one answered rate_limited (after the window); one
    that never gets through is not judged."""

    def __init__(self, target, serial: str) -> None:
        host, port = target.tagotip_udp.rsplit(":", 1)
        self.target, self.serial = target, serial
        self.auth = credentials.authorization_hash(target.authorization)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.connect((host, int(port)))
        self.number = 0

    def push(self, body: str, *, serial: str | None = None, auth: str | None = None,
             again: bool = False) -> str:  # fmt: skip
        """The ACK (`OK|n`, `ERR|code`) to `PUSH|!N|HASH|SERIAL|body`."""
        for _ in range(4):
            number = self.number if again else self.number + 1
            self.number = number
            frame = Uplink("PUSH", auth or self.auth, serial or self.serial, body, number)
            self.socket.send(frame.text().encode())
            answer = self._answer(number)
            if answer == "ERR|rate_limited":
                time.sleep(min(self.target.window, 61))
            elif answer is not None:
                return answer
        pytest.skip("not judged: four datagrams went unanswered or were rate limited")

    def _answer(self, number: int) -> str | None:
        deadline = time.monotonic() + 5
        while (left := deadline - time.monotonic()) > 0:
            self.socket.settimeout(left)
            try:
                datagram = self.socket.recv(65_536)
            except TimeoutError:
                return None
            try:
                ack = parse_ack(datagram)
            except (FrameError, UnicodeDecodeError) as broken:
                pytest.fail(f"a PUSH was answered {datagram[:60]!r}, not an ACK: {broken}")
            if ack.seq == number:
                return f"{ack.status}|{ack.detail}" if ack.detail else ack.status
        return None


@pytest.fixture(scope="module")
def over_udp(fleet, target):
    if not target.tagotip_udp or not target.authorization:
        pytest.skip("not judged: no TagoTiP UDP endpoint (--tagotip-udp) or no --authorization")
    device = fleet.device("udp-frames")
    pusher = UdpPusher(target, device.serial)
    yield pusher, device.id
    pusher.socket.close()


class TcpPusher:
    """Whole frames as lines on one connection (TagoTipServers §4, transports/tcp), each paired
    with its ACK line by its `!N`. The server ends a connection at its TTL or when idle: the
    pusher connects again and sends once more, as one answered rate_limited is (after the
    window); one that never gets through is not judged."""

    def __init__(self, target, serial: str) -> None:
        host, port = target.tagotip_tcp.rsplit(":", 1)
        self.address = (host, int(port))
        self.target, self.serial = target, serial
        self.auth = credentials.authorization_hash(target.authorization)
        self.socket: socket.socket | None = None
        self.buffer = b""
        self.number = 0

    def push(self, body: str, *, serial: str | None = None, auth: str | None = None,
             again: bool = False) -> str:  # fmt: skip
        """The ACK (`OK|n`, `ERR|code`) to `PUSH|!N|HASH|SERIAL|body\\n`."""
        for _ in range(4):
            number = self.number if again else self.number + 1
            self.number = number
            frame = Uplink("PUSH", auth or self.auth, serial or self.serial, body, number)
            answer = self._exchange(frame.text().encode() + b"\n", number)
            if answer == "ERR|rate_limited":
                time.sleep(min(self.target.window, 61))
            elif answer is not None:
                return answer
        pytest.skip("not judged: four frames went unanswered, closed under or rate limited")

    def _exchange(self, frame: bytes, number: int) -> str | None:
        """The answer to `frame` by its number; None when the connection ended first."""
        self.connect()
        assert self.socket is not None
        try:
            self.socket.sendall(frame)
            while True:
                line = self._line()
                try:
                    ack = parse_ack(line)
                except (FrameError, UnicodeDecodeError) as broken:
                    pytest.fail(f"a PUSH was answered {line[:60]!r}, not an ACK line: {broken}")
                if ack.seq == number:
                    return f"{ack.status}|{ack.detail}" if ack.detail else ack.status
                if ack.detail in ("ttl_expired", "keep_alive_timeout"):
                    raise ConnectionError(ack.detail)
        except (OSError, ConnectionError):
            self.close()
            return None

    def connect(self) -> None:
        if self.socket is None:
            self.socket = socket.create_connection(self.address, timeout=10)
            self.buffer = b""

    def _line(self) -> bytes:
        while b"\n" not in self.buffer:
            assert self.socket is not None
            data = self.socket.recv(65_536)
            if not data:
                raise ConnectionError("closed")
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None


@pytest.fixture(scope="module")
def over_tcp(fleet, target):
    if not target.tagotip_tcp or not target.authorization:
        pytest.skip("not judged: no TagoTiP TCP endpoint (--tagotip-tcp) or no --authorization")
    device = fleet.device("tcp-frames")
    pusher = TcpPusher(target, device.serial)
    yield pusher, device.id
    pusher.close()


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("mqtt", marks=OVER_MQTT),
        pytest.param("udp", marks=OVER_UDP),
        pytest.param("tcp", marks=OVER_TCP),
    ],
)
def over_a_device_binding(request):
    """The pusher of each binding a device speaks beside HTTP, and its device's id: the same
    checks hold on every one, each case judged (and skipped) as its binding's own."""
    return request.getfixturevalue(f"over_{request.param}")


@pytest.fixture(
    scope="module",
    params=[pytest.param("udp", marks=OVER_UDP), pytest.param("tcp", marks=OVER_TCP)],
)
def over_a_raw_transport(request):
    """The pusher of each raw transport (whole frames, the hash in each) and its device's id."""
    return request.getfixturevalue(f"over_{request.param}")


@settings(max_examples=10)
@given(body=push_bodies)
def test_a_push_on_each_binding_is_acknowledged_with_the_count_stored(
    fleet, over_a_device_binding, body
):
    """Over MQTT, UDP and TCP as over HTTP: a PUSH's OK carries the count of data points added,
    each stored and read back through GET /device/{id}/data [C TagoTiP §9.1, TagoTipServers
    §3.5, transports/udp, transports/tcp]."""
    pusher, device_id = over_a_device_binding
    group = f"tip{secrets.token_hex(6)}"
    points = tuple(
        type(p)(p.name, p.kind, p.value, p.unit, p.time, None, p.metadata) for p in body.variables
    )
    sent = type(body)(points, group, body.time, body.metadata)
    note(sent.text())
    answer = pusher.push(sent.text())
    assert answer == f"OK|{len(points)}", f"{len(points)} variables answered {answer}"
    reply = fleet.profile("GET", f"/device/{device_id}/data", params={"groups": group, "qty": 1000})
    stored = fleet.need(reply, "read TagoTiP's records back")
    assert len(stored) == len(points), "the ACK's count is not what is stored"


@settings(max_examples=10)
@given(broken=invalid_bodies)
def test_a_broken_body_on_each_binding_is_refused_whole(over_a_device_binding, broken):
    """Over MQTT (on the ack topic), UDP and TCP, a PUSH with any invalid variable is answered
    ERR|invalid_payload (TagoTiP §6.3: atomic) [C TagoTiP §6.3, TagoTipServers §3.5]."""
    pusher, _ = over_a_device_binding
    rule, body = broken
    note(f"{rule}: {body}")
    assert pusher.push(body) == "ERR|invalid_payload", rule


def test_each_error_code_comes_on_its_cause_over_udp_and_tcp(over_a_raw_transport):
    """Over UDP and TCP (on the same connection): an unknown hash is invalid_token, an unknown
    serial device_not_found, a counter not above the device's last accepted invalid_seq, and a
    frame over 16,384 bytes payload_too_large [C TagoTiP §4.5, §9.2, §10.2]."""
    pusher, _ = over_a_raw_transport
    assert pusher.push("[a:=1]", auth="0" * 16) == "ERR|invalid_token"
    nobody = pusher.push("[a:=1]", serial=f"{pusher.serial}-nobody")
    assert nobody == "ERR|device_not_found", f"an unknown serial answered {nobody}"
    assert pusher.push("[seq:=1]") == "OK|1"
    replayed = pusher.push("[seq:=2]", again=True)
    assert replayed == "ERR|invalid_seq", f"the accepted !{pusher.number} again answered {replayed}"
    huge = pusher.push("[a=" + "x" * 20_000 + "]")
    assert huge == "ERR|payload_too_large", f"a 20,000-byte frame answered {huge}"


def tcp_limits(target):
    if not target.tagotip_tcp or not target.authorization:
        pytest.skip("not judged: no TagoTiP TCP endpoint (--tagotip-tcp) or no --authorization")
    if not target.has_plan:
        pytest.skip("not judged: with --plan none the limit to hold the target to is unknown")
    return tagotip_limits().plans[target.plan]


@OVER_TCP
def test_a_tcp_connection_ends_at_the_ttl_busy_or_at_the_idle_timeout_silent(fleet, target):
    """Over TCP a connection is closed at the plan's TTL however busy it is, after
    ERR|ttl_expired, and one silent for the idle timeout after ERR|keep_alive_timeout
    [C servers/rate-limits: connection TTL 15/10/10 s, keep-alive idle timeout 5 s]."""
    limits = tcp_limits(target)
    ttl, idle = limits.ttl_seconds, limits.idle_seconds
    pusher = TcpPusher(target, fleet.device("tcp-ttl").serial)
    began, said = time.monotonic(), []
    try:
        pusher.connect()
        assert pusher.socket is not None
        while time.monotonic() - began < ttl + 5:  # busy all along, a frame a second
            frame = Uplink("PUSH", pusher.auth, pusher.serial, "[busy:=1]").text().encode()
            pusher.socket.sendall(frame + b"\n")
            said.append(pusher._line())
            time.sleep(1)
    except (OSError, ConnectionError):
        pass
    finally:
        pusher.close()
    lasted = time.monotonic() - began
    assert lasted < ttl + 5, f"a busy connection outlived the {ttl:g}-s TTL by 5 s"
    assert lasted > ttl - 1, f"closed after {lasted:.1f} s, before the {ttl:g}-s TTL"
    assert b"ACK|ERR|ttl_expired" in said, f"closed at the TTL with {said[-2:]!r}"
    silent = TcpPusher(target, pusher.serial)
    began = time.monotonic()
    try:
        silent.connect()
        last = silent._line()
    except (OSError, ConnectionError):
        last = b""
    finally:
        silent.close()
    lasted = time.monotonic() - began
    assert last == b"ACK|ERR|keep_alive_timeout", f"a silent connection was told {last!r}"
    assert idle - 0.25 < lasted <= idle + 2, (
        f"a silent connection closed after {lasted:.1f} s, not at the {idle:g}-s idle timeout"
    )
