"""The network path under real Locust: one network token posting every device's uplinks to
POST /integration/network/data, naming each by its serial; its integrity, its faults, its rate
limit and whether its uplinks count in POST /data's window."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tagocheck.fleet.ledger import Ledger
from tagocheck.fleet.paths import NETWORK_INGEST
from tagocheck.fleet.probes import BESIDE_UPLINKS, ProbeSchedule, network_sharing, plan_probes
from tagocheck.load.ports import master_on_loopback
from tagocheck.redact import TOKEN_PATTERN
from tagocheck.server.launcher import start_target

from .test_fleet_scenario import locust
from .test_ratelimit_scenario import ratelimit, sent_on_time


def network_run(tmp_path: Path, faults: list[str], *extra: str) -> tuple:
    """A short network-path run (20 devices every 0.5 s) on a target with `faults`; the fleet
    is created through the API with serials; the network token and key are the target's."""
    fault_args = [arg for fault in faults for arg in ("--fault", fault)]
    with start_target(tmp_path / "state", "--plan", "unlimited", *fault_args) as target:
        run_dir = tmp_path / "run"
        info = target.info
        done = locust(
            *("-u", "5", "-r", "5", "-t", "4s", "--devices", "20", "--interval", "0.5"),
            *("--host", target.url, "--profile-token", target.profile_token, "--via", "network"),
            *("--network-token", info["network_token"]),
            *("--authorization", info["authorization"]),
            *("--run-dir", str(run_dir), *extra),
        )
    return done, run_dir


def test_a_network_fleet_posts_every_uplink_through_one_token_and_loses_none(tmp_path):
    run_dir = tmp_path / "run"
    done = locust(
        *("-u", "10", "-r", "10", "-t", "5s", "--devices", "200", "--interval", "1"),
        *("--via", "network", "--payload", "lorawan-hex", "--records-per-request", "3"),
        *("--run-dir", str(run_dir)),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["reports"] > 500
    assert summary["outcomes"] == {NETWORK_INGEST: {"accepted": summary["reports"]}}
    integrity = summary["integrity"]
    assert integrity["devices_checked"] == 200
    assert integrity["lost"] == integrity["duplicated"] == 0
    assert integrity["reports_acknowledged"] == summary["reports"]
    assert integrity["acknowledgements_miscounted"] == 0  # "3 Data Added" for 3 records
    config = json.loads((run_dir / "config.json").read_text())
    assert config["via"] == "network"
    assert "through one network token met the thresholds" in done.stdout
    report = (run_dir / "report.html").read_text()
    assert "network path: one network token posts every uplink" in report
    for path in run_dir.iterdir():  # neither the network token nor the authorization key
        assert not TOKEN_PATTERN.search(path.read_text()), f"a token in {path.name}"


def test_lost_uplinks_through_the_network_path_are_found(tmp_path):
    done, run_dir = network_run(tmp_path, ["lose-writes=0.2"])
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    integrity = summary["integrity"]
    assert integrity["reports_acknowledged"] == summary["reports"] > 50
    assert abs(integrity["lost"] - summary["reports"] / 5) <= 2, integrity
    assert "acknowledged records were lost" in done.stdout
    fleet = json.loads((run_dir / "fleet.json").read_text())["devices"]
    assert all(device["serial"] for device in fleet)  # created with serials for the network


def test_a_wrong_authorization_key_and_unknown_serials_are_refused_and_reported(tmp_path):
    done, run_dir = network_run(tmp_path, [], "--authorization", "at" + "0" * 32)
    # the last --authorization wins: the run posts with a key that is no profile's
    assert done.returncode == 1
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["outcomes"][NETWORK_INGEST] == {"rejected": summary["reports"]}
    assert any(
        reason.startswith("401: Invalid authorization") for reason in summary["rejection_reasons"]
    )
    assert "401: Invalid authorization" in done.stdout

    fleet_file = tmp_path / "unknown.json"
    devices = [{"id": f"{i:024x}", "token": "unused", "serial": f"NOBODY{i}"} for i in range(5)]
    fleet_file.write_text(json.dumps({"devices": devices}))
    os.chmod(fleet_file, 0o600)
    with start_target(tmp_path / "state2", "--plan", "unlimited") as target:
        info = target.info
        done = locust(
            *("-u", "2", "-r", "2", "-t", "3s", "--devices", "5", "--interval", "0.5"),
            *("--host", target.url, "--profile-token", target.profile_token),
            *("--fleet-file", str(fleet_file), "--via", "network"),
            *("--network-token", info["network_token"], "--authorization", info["authorization"]),
            *("--run-dir", str(tmp_path / "unknown")),
        )
    assert done.returncode == 1
    summary = json.loads((tmp_path / "unknown" / "summary.json").read_text())
    assert summary["outcomes"][NETWORK_INGEST] == {"rejected": summary["reports"]}
    assert any("No device with serial number" in r for r in summary["rejection_reasons"])


def test_the_network_path_on_a_host_needs_its_token_and_key(tmp_path):
    with start_target(tmp_path / "state", "--plan", "unlimited") as target:
        done = locust(
            *("-t", "3s", "--host", target.url, "--profile-token", target.profile_token),
            *("--via", "network", "--run-dir", str(tmp_path / "run")),
        )
    assert done.returncode == 2
    lines = [ln for ln in done.stderr.splitlines() + done.stdout.splitlines() if "--via" in ln]
    assert lines and "--network-token and --authorization" in lines[0]


def test_the_network_windows_come_every_third_window():
    planned = plan_probes(
        "free",
        profile_token="p",
        device=("d0", "t0"),
        record_id="r",
        network=("n", "at-key", "SERIAL"),
    )
    network = [p for p in planned if p.group == 2]
    assert {p.label for p in network} == {NETWORK_INGEST, BESIDE_UPLINKS}
    beside = next(p for p in network if p.label == BESIDE_UPLINKS)
    assert beside.per_window == 250 - 30  # POST /data's limit less half the network's
    schedule = ProbeSchedule(planned, 1.5, window=2.0, start=1001.0)
    for shot in sent_on_time(schedule, 1020.0):
        probe = planned[shot.probe]
        assert int(shot.due // 2.0) % 3 == probe.group, (probe.label, shot.due)


def windows(ledger: Ledger, route: str, index: int, sent: int, accepted: int) -> None:
    for i in range(sent):
        at = index * 60 + 1 + i * 50 / sent
        ledger.record(route, at, at + 0.001, 200 if i < accepted else 429)


@pytest.mark.parametrize(
    ("beside_accepted", "network_accepted", "answer"),
    [(220, 60, "no"), (190, 60, "yes"), (220, 90, "not judged")],
)
def test_network_sharing_reads_the_network_windows(beside_accepted, network_accepted, answer):
    planned = plan_probes(
        "free", profile_token="p", device=("d0", "t0"), record_id="r", network=("n", "k", "S")
    )
    ledger = Ledger(60)
    for index in (2, 5):
        windows(ledger, BESIDE_UPLINKS, index, 220, beside_accepted)
        windows(ledger, NETWORK_INGEST, index, 90, network_accepted)
    found = network_sharing(ledger, planned, "free")
    assert found["answer"] == answer, found
    assert found["limit"] == 60


def served(tmp_path: Path, *args: str):
    return start_target(tmp_path / "state", "--plan", "free", "--rate-window-seconds", "2", *args)


def network_ratelimit(target, run_dir: Path) -> subprocess.CompletedProcess:
    """The ratelimit scenario on the network path: free in 2-s windows packs its probes into
    turns of seven windows (14 s), so the run lasts a turn, the setup and a few windows more."""
    info = target.info
    return ratelimit(
        *("--host", target.url, "--profile-token", target.profile_token, "--via", "network"),
        *("--network-token", info["network_token"], "--authorization", info["authorization"]),
        *("-t", "20s", "--rate-window", "2", "--run-dir", str(run_dir)),
        *("--check-rate-limit-leaks", "0"),
    )


@pytest.mark.long
def test_the_ratelimit_scenario_judges_the_network_route_and_finds_uplinks_counted(tmp_path):
    """A target whose uplinks count in POST /data's window too (the other reading of the open
    question): the network route enforced as documented, and the sharing found."""
    with served(tmp_path, "--network-limit", "shared") as target:
        done = network_ratelimit(target, tmp_path / "run")
    assert done.returncode == 0, done.stdout[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    rows = {r["route"]: r for r in summary["rate_limit_enforcement"] if r["scope"] == "profile"}
    network = rows[NETWORK_INGEST]
    assert network["limit"] == 60 and network["enforced"] >= 1 and network["leak"] == 0
    assert summary["network_limit"]["answer"] == "yes", summary["network_limit"]
    assert f"{NETWORK_INGEST} limit     60/window" in done.stdout
    assert "Do network uplinks count in POST /data's window? yes" in done.stdout
    assert NETWORK_INGEST not in summary["not_driven"]


def test_two_worker_processes_post_their_shards_uplinks_through_the_network(tmp_path):
    """The master hands each worker its devices' serials and the network's token and key (no
    device token leaves the master); the merged run reconciles every device."""
    run_dir = tmp_path / "run"
    done = locust(
        *("--processes", "2", *master_on_loopback(), "-u", "10", "-r", "10", "-t", "6s"),
        *("--devices", "100", "--interval", "1", "--via", "network", "--run-dir", str(run_dir)),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    assert config["workers"] == 2 and config["via"] == "network"
    assert summary["outcomes"] == {NETWORK_INGEST: {"accepted": summary["reports"]}}
    integrity = summary["integrity"]
    assert integrity["devices_checked"] == 100 and integrity["lost"] == 0
    assert integrity["reports_acknowledged"] == summary["reports"] > 300
