"""The embedded target's TagoTiP UDP binding, as a device uses it: one whole frame a datagram,
its ACK sent back to the address it came from with the counter echoed, and what is acknowledged
read back through GET /data."""

from __future__ import annotations

import socket

import requests

from tagocheck.server.launcher import start_target

from .test_tagotip_mqtt import SERIAL, make_device


def test_a_datagram_is_answered_by_its_ack_and_stored(tmp_path):
    with start_target(tmp_path, "--tagotip-udp-port", "0", "--plan", "scale") as target:
        info = target.info
        token = make_device(info)
        host, port = info["tagotip_udp"].rsplit(":", 1)
        auth = info["tagotip_auth_hash"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as device:
            device.settimeout(5)
            device.connect((host, int(port)))

            def send(frame: str) -> bytes:
                device.send(frame.encode())
                return device.recv(65536)

            assert send(f"PUSH|!5|{auth}|{SERIAL}|[t:=21#C;h:=40]\n") == b"ACK|!5|OK|2"
            assert send(f"PUSH|!5|{auth}|{SERIAL}|[t:=22]") == b"ACK|!5|ERR|invalid_seq"
            assert send(f"PUSH|{'0' * 16}|{SERIAL}|[t:=1]") == b"ACK|ERR|invalid_token"
            assert send(f"PUSH|{auth}|{SERIAL}|[t:=") == b"ACK|ERR|invalid_payload"
            assert send(f"PING|{auth}|{SERIAL}") == b"ACK|PONG"
        stored = requests.get(
            f"{info['url']}/data", params={"qty": 10}, headers={"Device-Token": token}, timeout=10
        ).json()["result"]
        assert sorted(r["variable"] for r in stored) == ["h", "t"]


def test_an_ack_refusing_a_frame_it_cannot_read_still_echoes_its_counter(tmp_path):
    """TagoTiP §9.5: the server MUST echo `!N` when the uplink has it, a refused frame too (the
    contract suite found the embedded target answering an oversize frame without it)."""
    with start_target(tmp_path, "--tagotip-udp-port", "0") as target:
        host, port = target.info["tagotip_udp"].rsplit(":", 1)
        auth = target.info["tagotip_auth_hash"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as device:
            device.settimeout(5)
            device.connect((host, int(port)))
            device.send(f"PUSH|!9|{auth}|{SERIAL}|[a={'x' * 20_000}]".encode())
            assert device.recv(65536) == b"ACK|!9|ERR|payload_too_large"
