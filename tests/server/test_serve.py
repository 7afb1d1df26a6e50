"""`tagocheck serve` as a process: ready line, private files, restarts, signals, bad input."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys

import pytest
import requests

from tagocheck.server.launcher import TargetFailedToStart, start_target

from .conftest import Client


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_ready_line_and_server_json(start, tmp_path):
    target = start("--plan", "starter", state_dir=tmp_path / "s")
    info = target.info
    assert {"url", "profile_token", "plan", "ca_cert"} <= set(info)
    assert info["url"].startswith("http://127.0.0.1:") and not info["url"].endswith(":0")
    assert info["plan"] == "starter" and info["ca_cert"] is None
    saved = tmp_path / "s" / "server.json"
    assert json.loads(saved.read_text()) == info
    assert mode(saved) == 0o600
    assert mode(tmp_path / "s" / "target.sqlite3") == 0o600
    assert requests.get(info["url"] + "/info", headers={"Token": info["profile_token"]}).ok


def test_a_second_start_on_the_same_state_dir_keeps_data_and_tokens(start, tmp_path):
    state = tmp_path / "kept"
    first = Client(start(state_dir=state))
    device = first.device("kept", type="mutable")
    sent = first.call("POST", "/data", device["token"], json={"variable": "t", "value": 1})
    assert sent.json() == {"status": True, "result": "1 Data Added"}
    profile_token = first.target.profile_token
    assert first.target.stop() == 0

    second = Client(start(state_dir=state))
    assert second.target.profile_token == profile_token
    assert second.target.info["network_token"] == first.target.info["network_token"]
    records = second.call("GET", "/data", device["token"]).json()["result"]
    assert [r["value"] for r in records] == [1]


def test_profile_token_flag(start):
    target = start("--profile-token", "p-chosen-profile-token-0001")
    assert target.profile_token == "p-chosen-profile-token-0001"
    assert Client(target).profile("GET", "/device").status_code == 200


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_it_cleanly(start, sig):
    target = start()
    target.process.send_signal(sig)
    assert target.process.wait(15) == 0


def run_serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tagocheck", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_unknown_fault_is_one_line_and_exit_2(tmp_path):
    done = run_serve("--state-dir", str(tmp_path), "--fault", "gremlins")
    assert done.returncode == 2
    assert done.stderr.strip().startswith("tagocheck serve: unknown fault 'gremlins'")
    assert "Traceback" not in done.stderr


def test_bad_plan_is_a_usage_error(tmp_path):
    done = run_serve("--state-dir", str(tmp_path), "--plan", "gold")
    assert done.returncode == 2 and "invalid choice: 'gold'" in done.stderr


def test_a_taken_port_is_one_clear_line(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        with pytest.raises(TargetFailedToStart, match=f"cannot listen on 127.0.0.1:{port}"):
            start_target(tmp_path, "--port", str(port))
    finally:
        busy.close()


def test_an_unwritable_state_dir_is_one_clear_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    done = run_serve("--state-dir", str(blocker / "state"))
    assert done.returncode == 2
    assert "is not writable" in done.stderr and "Traceback" not in done.stderr


def test_help_documents_every_fault_and_the_chosen_variants():
    done = subprocess.run(
        [sys.executable, "-m", "tagocheck", "serve", "--help"], capture_output=True, text=True
    )
    for fault in (
        "no-rate-limit",
        "early-throttle",
        "bad-envelope",
        "html-errors",
        "wrong-status",
        "wrong-count",
        "ignore-permission",
        "cross-device",
        "lose-writes",
        "server-errors",
        "slow",
    ):
        assert fault in done.stdout
    assert "HTTP 201" in done.stdout and "device_id" in done.stdout


def _listen_backlog(port: int) -> int:
    """The backlog the kernel holds for the listening socket on `port` (ss's Send-Q)."""
    shown = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
    )
    return int(shown.stdout.split()[2])


def test_every_listener_queues_a_fleets_connect_burst(start, tmp_path):
    """A listener left at asyncio's backlog of 100 overflows when a fleet connects at once, and
    both sides then wait out TCP's retransmissions (bench/tagotip_connections.py: 25 s idle of
    60 with 3,500 MQTT devices)."""
    from tagocheck.server import LISTEN_BACKLOG

    target = start("--tagotip-mqtt-port", "0", "--tagotip-tcp-port", "0", state_dir=tmp_path / "s")
    info = target.info
    with open("/proc/sys/net/core/somaxconn") as limit:
        expected = min(LISTEN_BACKLOG, int(limit.read()))
    ports = {
        "REST": info["url"],
        "TagoTiP HTTP": info["tagotip_http_url"],
        "MQTT": info["tagotip_mqtt"],
        "TCP": info["tagotip_tcp"],
    }
    backlogs = {
        name: _listen_backlog(int(where.rsplit(":", 1)[1])) for name, where in ports.items()
    }
    assert backlogs == dict.fromkeys(ports, expected)
