"""Distributed runs: every worker simulates its own shard, the master merges what they saw."""

from __future__ import annotations

import json

from tagocheck.fleet.model import Fleet, FleetConfig, Interval
from tagocheck.fleet.observe import FleetObserver
from tagocheck.judge.exchange import Exchange
from tagocheck.load.ports import master_on_loopback
from tagocheck.load.shard import Shard
from tagocheck.load.shards import config_from_wire, config_to_wire

from .test_fleet_scenario import locust

ACCEPTED = b'{"status":true,"result":"1 Data Added"}'


def test_shards_are_disjoint_and_cover_the_fleet_at_every_step():
    fleet = Fleet(FleetConfig(devices=103, interval=Interval.parse("5")), ["t"] * 103)
    for count in (1, 2, 3, 7):
        shards = [Shard(fleet, i, count) for i in range(count)]
        for low, high in ((0, 103), (0, 40), (40, 77), (77, 103)):
            seen = [d for shard in shards for d in shard.devices_between(low, high)]
            assert sorted(seen) == list(range(low, high)), (count, low, high)


def test_the_fleet_configuration_survives_the_message():
    config = FleetConfig(devices=9, interval=Interval.parse("uniform:5:15"), jitter=0.2)
    assert config_from_wire(json.loads(json.dumps(config_to_wire(config)))) == config
    trouble = FleetConfig(
        devices=9,
        interval=Interval.parse("5"),
        retry="exp:1:8:4",
        outage="10+5,40+20",
        buffer=7,
        backfill="paced:2",
        reconnect="jittered:3",
    )
    copy = config_from_wire(json.loads(json.dumps(config_to_wire(trouble))))
    assert copy == trouble and copy.outages == trouble.outages and copy.retry_policy.tries == 4


def test_attempts_and_backfill_counts_survive_the_message_and_add_up():
    from tagocheck.fleet.attempts import Attempts

    tally = Attempts()
    tally.first, tally.retries = 10, 4
    tally.final(True, 100.0, 101.5)
    tally.given_up["tries"] += 1
    tally.resent["3"]["tc.1.2"] = 1
    tally.backfill[0].update(buffered=5, requests=3, throttled=1)
    tally.stored_backfill(0, 5, 120.0)
    copy = Attempts.from_wire(json.loads(json.dumps(tally.to_wire())))
    assert copy.summary() == tally.summary() and copy.resent == tally.resent
    other = Attempts.from_wire(copy.to_wire())
    other.stored_backfill(0, 1, 130.0)
    copy.merge(other)
    assert copy.first == 20 and copy.backfill[0]["stored"] == 11
    assert copy.backfill_last[0] == 130.0 and copy.given_up["tries"] == 2


def test_an_observer_survives_the_message_and_merges():
    observer = FleetObserver(60, per_device_ledger=True)
    for i in range(50):
        observer.observe(
            Exchange(
                method="POST",
                path="/data",
                status=200,
                body=ACCEPTED,
                due=100.0 + i,
                sent_at=100.001 + i,
                answered_at=100.003 + i,
                device=str(i % 5),
            )
        )
    wired = json.loads(json.dumps(observer.to_wire()))  # plain types only
    copy = FleetObserver.from_wire(wired)
    assert copy.summary() == observer.summary()
    assert copy.ledger.windows == observer.ledger.windows
    empty = FleetObserver.from_wire(FleetObserver(60).to_wire())
    copy.merge(empty)
    assert copy.corrected.get_total_count() == 50 and copy.acknowledged["3"] == 10


def test_two_worker_processes_share_the_fleet_and_the_master_merges(tmp_path):
    # offline from 2 s to 4 s, with retries: each worker buffers its own devices' readings
    run_dir = tmp_path / "run"
    done = locust(
        "--processes",
        "2",
        *master_on_loopback(),
        "-u",
        "10",
        "-r",
        "10",
        "-t",
        "8s",
        "--devices",
        "100",
        "--interval",
        "1",
        "--jitter",
        "0",
        "--outage",
        "2+2",
        "--retry",
        "sdk-js",
        "--run-dir",
        str(run_dir),
        "--check-schema-violations",
        "0",
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "100 devices in 2 shards" in done.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    # Every device reported once a second: a device simulated by both workers would double it.
    # The backfill after the outage adds to what was answered (1.13 seen on a busy machine,
    # where the drain came in fewer seconds), so the bounds stand well clear of 2.
    ratio = summary["limit"]["achieved_over_offered"]
    assert 0.8 < ratio < 1.5, summary["limit"]
    samples = [json.loads(line) for line in (run_dir / "timeline.jsonl").read_text().splitlines()]
    assert max(s["offered"] for s in samples) == 100  # both shards' offered rates added up
    assert {s["users"] for s in samples[1:-1]} == {10}
    # the master's merged counts are Locust's own merged counts
    stats = (run_dir / "locust_stats.csv").read_text().splitlines()
    posted = next(line for line in stats if ",POST /data," in line).split(",")
    assert int(posted[2]) == summary["reports"]
    integrity = summary["integrity"]
    assert integrity["devices_checked"] == 100 and integrity["lost"] == 0
    assert integrity["acknowledged"] == summary["reports"]
    assert integrity["stored_not_acknowledged"] == 0  # the last answers were waited for
    # each worker traced its own devices' reports, and the master reconciled them all
    assert integrity["reports_acknowledged"] == summary["reports"] and integrity["duplicated"] == 0
    # 100 devices once a second for 2 s, whichever worker holds them: the master adds them up
    (outage,) = summary["outages"]["outages"]
    assert 190 <= outage["buffered"] <= 210 and outage["drained"]
    assert outage["stored"] == outage["buffered"] and outage["waiting"] == 0
    assert integrity["backfilled_checked"] == outage["buffered"] and integrity["time_changed"] == 0
    assert summary["retries"]["reports"] == summary["reports"]  # nothing failed, none retried
