"""The embedded target's TagoTiP TCP binding, as a device uses it: one connection carrying whole
frames each ended by `\\n`, each answered by its ACK line in order, or TagoTiP/S length-prefixed
when the connection starts that way; and the plan's connection rules: connections per IP, the
TTL with `ERR|ttl_expired`, the idle timeout with `ERR|keep_alive_timeout`, the no-ttl fault."""

from __future__ import annotations

import select
import socket
import time

import requests

from tagocheck.server.launcher import start_target
from tagocheck.tagotip import envelope
from tagocheck.tagotip.sealing import Sealing

from .test_tagotip_mqtt import SERIAL, make_device


def serve(tmp_path, *args: str):
    return start_target(tmp_path, "--tagotip-tcp-port", "0", *args)


def connect(info: dict) -> socket.socket:
    host, port = info["tagotip_tcp"].rsplit(":", 1)
    device = socket.create_connection((host, int(port)), timeout=10)
    return device


class Lines:
    """A connection's answers, a line at a time."""

    def __init__(self, device: socket.socket) -> None:
        self.device = device
        self.buffer = b""

    def send(self, frame: str | bytes) -> bytes:
        self.device.sendall(frame.encode() if isinstance(frame, str) else frame)
        return self.line()

    def line(self) -> bytes:
        while b"\n" not in self.buffer:
            data = self.device.recv(65536)
            if not data:
                return b""  # closed
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line


def test_frames_on_one_connection_are_answered_in_order_and_stored(tmp_path):
    with serve(tmp_path, "--plan", "scale") as target:
        info = target.info
        token = make_device(info)
        auth = info["tagotip_auth_hash"]
        with connect(info) as device:
            lines = Lines(device)
            assert lines.send(f"PUSH|!5|{auth}|{SERIAL}|[t:=21#C;h:=40]\n") == b"ACK|!5|OK|2"
            assert lines.send(f"PUSH|!5|{auth}|{SERIAL}|[t:=22]\n") == b"ACK|!5|ERR|invalid_seq"
            assert lines.send(f"PUSH|{'0' * 16}|{SERIAL}|[t:=1]\n") == b"ACK|ERR|invalid_token"
            assert lines.send(f"PUSH|{auth}|{SERIAL}|[t:=\n") == b"ACK|ERR|invalid_payload"
            too_big = f"PUSH|!9|{auth}|{SERIAL}|[a={'x' * 40_000}]\n"
            assert lines.send(too_big) == b"ACK|!9|ERR|payload_too_large"
            two = f"PING|{auth}|{SERIAL}\nPUSH|!6|{auth}|{SERIAL}|[w:=1]\n"
            assert lines.send(two) == b"ACK|PONG"  # two frames in one write, answered in order
            assert lines.line() == b"ACK|!6|OK|1"
        stored = requests.get(
            f"{info['url']}/data", params={"qty": 10}, headers={"Device-Token": token}, timeout=10
        ).json()["result"]
        assert sorted(r["variable"] for r in stored) == ["h", "t", "w"]


def test_a_connection_opening_with_a_length_carries_tagotip_s(tmp_path):
    """TagoTiPs §5.4: every message length-prefixed; an envelope that does not open is answered
    by a plaintext fallback, length-prefixed too."""
    with serve(tmp_path, "--plan", "scale") as target:
        info = target.info
        make_device(info)
        suite = envelope.SUITE_OPTIONS["aes-128-ccm"]
        right, wrong = Sealing(suite, info["authorization"]), Sealing(suite, "not-the-key")
        key = right.key(SERIAL)

        def sealed(counter: int, sealing: Sealing) -> bytes:
            frame = sealing.seal(info["tagotip_auth_hash"], SERIAL, "[s:=1]", counter)
            return len(frame).to_bytes(2, "big") + frame

        with connect(info) as device:
            answers = []
            for message in (sealed(1, right), sealed(2, wrong)):
                device.sendall(message)
                length = int.from_bytes(device.recv(2, socket.MSG_WAITALL), "big")
                answers.append(device.recv(length, socket.MSG_WAITALL))
        assert envelope.open_envelope(answers[0], [key])[1] == b"OK|1"
        assert answers[1] == b"ACK|ERR|auth_failed"


def test_the_ttl_ends_a_busy_connection_and_silence_the_idle_timeout(tmp_path):
    args = ("--plan", "scale", "--tagotip-ttl-seconds", "1.5", "--tagotip-idle-seconds", "0.8")
    with serve(tmp_path, *args) as target:
        info = target.info
        make_device(info)
        auth = info["tagotip_auth_hash"]
        with connect(info) as device:
            lines, began, said = Lines(device), time.monotonic(), []
            while not said or said[-1].startswith(b"ACK|OK"):
                said.append(lines.send(f"PUSH|{auth}|{SERIAL}|[busy:=1]\n"))
                # busy all along (a push each 0.2 s): the TTL ends it all the same; what it
                # says in between is read before the next push, never sent into a closed socket
                if select.select([device], [], [], 0.2)[0]:
                    said.append(lines.line())
            lived = time.monotonic() - began
        assert said[-1] == b"ACK|ERR|ttl_expired" and set(said[:-1]) == {b"ACK|OK|1"}
        assert 1.3 < lived < 3
        with connect(info) as device:
            began = time.monotonic()
            assert Lines(device).line() == b"ACK|ERR|keep_alive_timeout"
            assert 0.6 < time.monotonic() - began < 2


def test_connections_past_the_per_ip_limit_are_refused_and_no_ttl_keeps_them(tmp_path):
    with serve(tmp_path / "free", "--plan", "free") as target:
        held = [connect(target.info) for _ in range(3)]  # free: 3 connections per IP
        time.sleep(0.3)
        with connect(target.info) as fourth:
            assert Lines(fourth).line() == b"ACK|ERR|rate_limited"
            assert fourth.recv(10) == b""  # then closed
        for device in held:
            device.close()
    args = ("--plan", "scale", "--tagotip-ttl-seconds", "1", "--fault", "no-ttl")
    with serve(tmp_path / "kept", *args) as target:
        make_device(target.info)
        with connect(target.info) as device:
            time.sleep(2)  # past the TTL and the idle timeout both
            frame = f"PUSH|{target.info['tagotip_auth_hash']}|{SERIAL}|[late:=1]\n"
            assert Lines(device).send(frame) == b"ACK|OK|1"
