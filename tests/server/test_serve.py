"""`tagocheck serve` as a process: ready line, private files, restarts, signals, bad input."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

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


def run_serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tagocheck", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=None if env is None else {**os.environ, **env},
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


def test_mosquitto_that_cannot_be_built_or_found_is_one_clear_line(tmp_path, monkeypatch):
    """The MQTT binding on mosquitto needs gcc to build its plugin once (an empty cache here)
    and mosquitto itself: without either, `tagocheck serve` says which in one line, exit 2."""
    done = run_serve(
        *("--state-dir", str(tmp_path / "state"), "--tagotip-mqtt-port", "0"),
        *("--tagotip-mqtt-broker", "mosquitto"),
        env={"PATH": str(tmp_path / "nothing"), "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines() == [
        "tagocheck serve: cannot start mosquitto for the MQTT binding: building mosquitto's "
        "TagoTiP plugin needs gcc"
    ]

    from tagocheck.server import tagotip_mosquitto

    monkeypatch.setattr(tagotip_mosquitto.shutil, "which", lambda _name: None)
    monkeypatch.setattr(tagotip_mosquitto.os.path, "exists", lambda _path: False)
    with pytest.raises(tagotip_mosquitto.BrokerError, match="mosquitto is not installed"):
        tagotip_mosquitto.mosquitto_program()


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


def _gone(pid: int) -> bool:
    """Whether the process has ended (a zombie no one reaped has ended too)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.1)
    return False


STARTER = """
import json, sys, time
from pathlib import Path
from tagocheck.server.launcher import start_target
target = start_target(Path(sys.argv[1]))
print(json.dumps(target.info), flush=True)
time.sleep(120)
"""


def test_a_target_whose_starter_was_killed_stops_itself(tmp_path):
    """A test worker or job killed outright (SIGKILL) cannot stop the target it started: the
    target sees its starter gone and stops itself within a few seconds, its port closed."""
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path / "state")], stdout=subprocess.PIPE, text=True
    )
    assert starter.stdout is not None
    info = json.loads(starter.stdout.readline())
    assert requests.get(info["url"] + "/info", headers={"Token": info["profile_token"]}).ok
    starter.kill()
    starter.wait()
    stopped = _wait_gone(info["pid"], 10)
    if not stopped:
        os.kill(info["pid"], signal.SIGKILL)
    assert stopped, "the orphaned target ran on"
    with pytest.raises(requests.ConnectionError):
        requests.get(info["url"] + "/info", timeout=2)


def test_a_target_started_from_a_shell_outlives_it(tmp_path):
    """Only a starter that says so (tagocheck.server.launcher) is watched: `tagocheck serve &`
    from a shell that then exits keeps serving."""
    ready = tmp_path / "ready.json"
    serve = f"{sys.executable} -m tagocheck serve --port 0 --state-dir {tmp_path / 'state'}"
    subprocess.run(["sh", "-c", f"{serve} > {ready} 2>/dev/null &"], check=True, timeout=10)
    deadline = time.monotonic() + 30
    while not (ready.exists() and ready.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.1)
    info = json.loads(ready.read_text())
    try:
        assert not _wait_gone(info["pid"], 3)
        assert requests.get(info["url"] + "/info", headers={"Token": info["profile_token"]}).ok
    finally:
        os.kill(info["pid"], signal.SIGTERM)
        assert _wait_gone(info["pid"], 15)
