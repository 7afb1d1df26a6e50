"""`tagocheck capacity`, the main job: preflight, refusal, the run end to end, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tagocheck.fleet.model import FleetConfig, FleetConfigError, Interval
from tagocheck.job import preflight
from tagocheck.report.verdict import judge_dir
from tagocheck.server.launcher import start_target

ROOT = Path(__file__).resolve().parents[1]


def capacity(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    command = [sys.executable, "-m", "tagocheck", "capacity", *args]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TAGOIO_")}
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env={**environment, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def leftovers(*markers: str) -> list[str]:
    """Command lines of processes still running that mention any marker."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if any(marker in cmdline for marker in markers):
            found.append(cmdline)
    return found


def account(target) -> dict[str, str]:
    """The environment of a real-account run, the embedded target playing the account."""
    return {"TAGOIO_API": target.url, "TAGOIO_PROFILE_TOKEN": target.profile_token}


def devices_on(target) -> list[str]:
    answer = requests.get(
        target.url + "/device",
        params={"amount": 10000},
        headers={"Token": target.profile_token},
        timeout=10,
    ).json()
    return [d["name"] for d in answer["result"]]


# -- preflight ---------------------------------------------------------------------------------


def fleet(devices: int, interval: str = "2") -> FleetConfig:
    return FleetConfig(devices=devices, interval=Interval.parse(interval))


def plan(config: FleetConfig, plan_name: str = "starter", budget: int | None = 50_000):
    return preflight.plan_run(
        config,
        plan=plan_name,
        steps=5,
        step_seconds=12,
        integrity_devices=2000,
        contract=True,
        create_devices=True,
        budget=budget,
    )


def test_a_run_within_the_plan_has_no_problems():
    found = plan(fleet(50))
    assert found.problems == []
    lines = {line.what: line for line in found.lines}
    assert lines["POST /data per minute at the top step"].amount == 1500
    assert lines["POST /data per minute at the top step"].limit == 5000
    assert lines["devices created (and removed)"].limit == 100
    # 25 reports/s at the top step, 5 steps of 12 s: 900 reports of one variable, + the suite
    assert lines["data-input transactions (one per variable)"].amount == 900 + 700


def test_the_preflight_names_every_limit_a_run_would_exceed():
    found = plan(fleet(200, "0.5"), budget=1000)
    problems = " ".join(found.problems)
    assert "devices created" in problems  # 204 > the starter cap of 100
    assert "POST /data per minute" in problems  # 24,000 > 5,000
    assert "the budget of 1,000" in problems


def test_the_network_path_is_held_to_the_network_routes_limit_and_says_what_it_carries():
    network = FleetConfig(devices=10_000, interval=Interval.parse("900"), via="network")
    found = plan(network, "scale")
    line = {line.what: line for line in found.lines}[
        "POST /integration/network/data per minute at the top step"
    ]
    assert round(line.amount) == 667 and line.limit == 500
    assert line.note == "at most 7,500 devices at this interval"
    assert "POST /integration/network/data per minute at the top step: 667 > 500" in found.problems
    # the same fleet through its devices' own tokens fits POST /data's 15,000 a minute
    assert not any(
        "POST /data per minute" in p for p in plan(fleet(10_000, "900"), "scale").problems
    )


NAT_CONNECTIONS = "TagoTiP connections at once, the fleet behind one address (one NAT)"
RUN_CONNECTIONS = "TagoTiP connections this run opens from this machine"
PROFILE_MQTT = "TagoTiP MQTT connections at once, the profile's (any address)"
SUBSCRIPTIONS = "TagoTiP MQTT subscriptions a minute, the profile's"


def tip_plan(devices: int, interval: str, plan_name: str, users: int = 10, **fleet_args):
    fleet_args.setdefault("via", "tagotip-http")
    config = FleetConfig(devices=devices, interval=Interval.parse(interval), **fleet_args)
    found = preflight.plan_run(
        config,
        plan=plan_name,
        steps=5,
        step_seconds=float(interval) * 2,
        integrity_devices=2000,
        contract=False,
        create_devices=True,
        budget=None,
        users=users,
    )
    return found, {line.what: line for line in found.lines}


def test_a_tagotip_fleet_behind_one_address_is_held_to_the_connections_per_ip():
    """100 devices every 60 s keeping their connections hold 100 at once: over scale's 20 per
    address, and no plan carries them from one address. Connecting per report, about 2 are
    open at once (100 a minute, each counted 1 s): free's 60 uplinks a minute are too few,
    starter (500 a minute, 10 connections) carries them."""
    found, lines = tip_plan(100, "60", "scale")
    assert f"{NAT_CONNECTIONS}: 100 > 20" in found.problems
    assert "no plan carries it from one address" in lines[NAT_CONNECTIONS].note
    assert "no TTL nor idle timeout is documented for HTTP" in lines[NAT_CONNECTIONS].note
    found, lines = tip_plan(100, "60", "starter", connection="per-report")
    assert lines[NAT_CONNECTIONS].amount == 2 and lines[NAT_CONNECTIONS].limit == 10
    assert "100 opened a minute" in lines[NAT_CONNECTIONS].note
    assert "plan starter carries it" in lines[NAT_CONNECTIONS].note
    assert lines["POST /v1/tip/{serial} per minute at the top step"].limit == 500
    assert found.problems == []


def test_the_run_s_own_gateways_are_held_to_the_connections_per_ip_too():
    found, _ = tip_plan(12, "60", "scale", users=25, connection="per-report")
    assert found.problems == [f"{RUN_CONNECTIONS}: 25 > 20"]


def test_a_device_path_fleet_is_not_asked_the_tagotip_question():
    _, lines = tip_plan(10, "60", "scale")
    assert NAT_CONNECTIONS in lines
    assert NAT_CONNECTIONS not in {line.what for line in plan(fleet(10, "60"), "scale").lines}


def test_the_job_refuses_a_tagotip_fleet_over_the_per_ip_limit_without_yes(tmp_path):
    run_dir = tmp_path / "run"
    base = [sys.executable, "-m", "tagocheck", "capacity", "--via", "tagotip-http"]
    base += ["--devices", "25", "--interval", "60", "--step-seconds", "60", "--plan", "scale"]
    base += ["--users", "10", "--no-contract", "--run-dir", str(run_dir)]
    done = subprocess.run(base, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"{NAT_CONNECTIONS}: 25 > 20" in done.stdout  # each keeps its connection
    assert "rerun with --yes" in done.stderr
    assert not run_dir.exists()


def test_an_outages_backfill_is_counted_in_the_minute_after_it_and_refused_past_the_limit():
    # 60 devices every 2 s (1,800 a minute) offline for 120 s: 3,600 readings held back
    burst = FleetConfig(devices=60, interval=Interval.parse("2"), outage="30+120")
    found = plan(burst)
    what = "POST /data in the minute after outage 30+120 (backfill and live reports)"
    line = {line.what: line for line in found.lines}[what]
    assert round(line.amount) == 3600 + 1800 and line.limit == 5000
    assert f"{what}: 5,400 > 5,000" in found.problems
    # the same outage sent 10 readings a request, or spread over 5 minutes, fits
    for gentler in ({"backfill": "batched:10"}, {"reconnect": "jittered:300"}):
        config = FleetConfig(devices=60, interval=Interval.parse("2"), outage="30+120", **gentler)
        assert not any(what in p for p in plan(config).problems), gentler
    # a buffer of 10 readings holds back at most 600
    small = FleetConfig(devices=60, interval=Interval.parse("2"), outage="30+120", buffer=10)
    assert round({li.what: li for li in plan(small).lines}[what].amount) == 600 + 1800


# -- the command's errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--plan", "gold"], {}, "--plan 'gold': one of free, starter, scale, none"),
        ([], {"TAGOIO_API": "http://127.0.0.1:9"}, "--plan is needed against"),
        (["--plan", "free"], {"TAGOIO_API": "http://127.0.0.1:9"}, "needs $TAGOIO_PROFILE_TOKEN"),
        (
            ["--plan", "starter", "--devices", "2"],
            {"TAGOIO_API": "http://127.0.0.1:9", "TAGOIO_PROFILE_TOKEN": "p-" + "a" * 30},
            "cannot reach http://127.0.0.1:9",
        ),
        (["--run-dir", "/proc/not-here"], {}, "cannot write --run-dir /proc/not-here"),
        (["--interval", "soon"], {}, "argument --interval: 'soon'"),
        (["--via", "lora"], {}, "argument --via: invalid choice: 'lora'"),
        (["--retry", "always"], {}, "argument --retry: 'always': use none, sdk-js"),
        (["--outage", "30"], {}, "argument --outage: '30': use START+DURATION"),
        (
            ["--plan", "free", "--via", "network"],
            {"TAGOIO_API": "http://127.0.0.1:9", "TAGOIO_PROFILE_TOKEN": "p-" + "a" * 30},
            "needs $TAGOIO_NETWORK_TOKEN and $TAGOIO_AUTHORIZATION",
        ),
    ],
)
def test_errors_are_one_line_and_a_non_zero_exit(args, env, message):
    done = capacity(*args, env=env)
    out, err = done.communicate(timeout=60)
    assert done.returncode == 2, out + err
    assert err.strip().splitlines()[-1].startswith("tagocheck")
    assert message in err and "Traceback" not in err + out


def test_a_refused_token_is_one_line(tmp_path):
    with start_target(tmp_path / "state", "--plan", "free") as target:
        done = capacity(
            "--plan",
            "free",
            "--devices",
            "1",
            "--run-dir",
            str(tmp_path / "run"),
            env={"TAGOIO_API": target.url, "TAGOIO_PROFILE_TOKEN": "p-" + "b" * 30},
        )
        _, err = done.communicate(timeout=60)
    assert done.returncode == 2
    assert "refused the profile token" in err and "Traceback" not in err


# -- a real account, played by the embedded target --------------------------------------------


def test_past_the_plan_it_refuses_without_yes_and_sends_nothing(tmp_path):
    with start_target(tmp_path / "state", "--plan", "free") as target:
        done = capacity(
            "--plan",
            "free",
            "--devices",
            "50",
            "--run-dir",
            str(tmp_path / "run"),
            env=account(target),
        )
        out, err = done.communicate(timeout=60)
        assert devices_on(target) == []
    assert done.returncode == 2
    assert "Preflight" in out and "devices created" in out and "over:" in out
    assert "rerun with --yes" in err
    assert target.profile_token not in out + err


def on_account(target, run_dir: Path, *args: str) -> tuple[subprocess.Popen, str, str]:
    """A short job against the embedded target playing a real account (no contract suite)."""
    done = capacity(*args, "--no-contract", "--run-dir", str(run_dir), env=account(target))
    out, err = done.communicate(timeout=180)
    return done, out, err


def test_a_real_account_run_creates_its_fleet_and_removes_it(tmp_path):
    run_dir = tmp_path / "run"
    with start_target(tmp_path / "state", "--plan", "starter") as target:
        done, out, err = on_account(
            target, run_dir, "--plan", "starter", "--devices", "20", "--steps", "2",
            "--step-seconds", "3",
        )  # fmt: skip
        assert done.returncode == 0, out[-3000:] + err[-3000:]
        assert devices_on(target) == []  # created for the run, removed after it
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["integrity"]["devices_checked"] == 20 and summary["integrity"]["lost"] == 0
    assert target.profile_token not in out + err + (run_dir / "report.html").read_text()


def test_plan_none_is_taken_against_a_self_hosted_server_and_judges_no_plan_limit(tmp_path):
    """`--plan none` (a self-hosted server, no plan): accepted, nothing held to a plan's limits,
    and said so in the preflight."""
    run_dir = tmp_path / "run"
    with start_target(tmp_path / "state", "--plan", "unlimited") as target:
        done, out, err = on_account(
            target, run_dir, "--plan", "none", "--devices", "10", "--steps", "1",
            "--step-seconds", "6", "--interval", "0.5",
        )  # fmt: skip
    # 120 reports: on a busy machine two late at the step's end (a 3-s step of 30 lost 6%) stay
    # within the step's throughput threshold
    assert done.returncode == 0, out[-3000:] + err[-3000:]
    assert "plan none sets no limit" in out.replace("\n", " ")
    assert json.loads((run_dir / "config.json").read_text())["plan"] == "none"


# -- the demo, and Ctrl-C ----------------------------------------------------------------------


@pytest.mark.long
def test_the_main_job_runs_end_to_end_and_its_verdict_matches_the_report(tmp_path):
    run_dir = tmp_path / "run"
    began = time.monotonic()
    done = capacity(
        "--devices", "1000", "--steps", "2", "--step-seconds", "4", "--run-dir", str(run_dir)
    )
    out, err = done.communicate(timeout=240)
    took = time.monotonic() - began
    assert done.returncode == 0, out[-3000:] + err[-3000:]
    for part in ("Preflight", "embedded target", "contract suite", "passed", "capacity steps"):
        assert part in out, part
    assert "Contract suite: the contract holds" in out.replace("\n", " ")
    assert json.loads((run_dir / "config.json").read_text())["embedded_target"] is True
    assert "seeded into the embedded target" in out.replace("\n", " ")
    assert f"Report: {run_dir / 'report.html'}" in out.replace("\n", "")
    found = judge_dir(run_dir)
    assert found.good and found.headline in out.replace("\n", " ")
    assert (run_dir / "contract" / "contract-report.json").exists()
    assert "Drift: which documented variant" in (run_dir / "report.html").read_text()
    assert leftovers(str(run_dir), own_state_prefix()) == []
    assert took < 180


def temporary_state() -> list[Path]:
    """The job's temporary target state (its database holds tokens), in this test's own
    temporary directory (tests/conftest.py), so runs beside it are not counted."""
    return list(Path(tempfile.gettempdir()).glob("tagocheck-capacity-*"))


def own_state_prefix() -> str:
    """What the command line of a part this test's run started names: its state directory."""
    return str(Path(tempfile.gettempdir()) / "tagocheck-capacity-")


@pytest.mark.parametrize(
    ("sent", "reached"),
    [
        (signal.SIGINT, "contract"),
        (signal.SIGTERM, "config.json"),
        (signal.SIGTERM, "timeline.jsonl"),
    ],
    ids=["SIGINT-in-contract-suite", "SIGTERM-in-set-up", "SIGTERM-in-steps"],
)
def test_a_signal_at_any_point_leaves_no_process_and_a_report(tmp_path, sent, reached):
    """SIGTERM (a timeout, a cancelled CI job) as Ctrl-C: the parts stop, the report is written
    and says the run was interrupted, and the temporary state holding tokens is gone. The signal
    goes when the run directory shows the part reached (not after a time, which a busy machine
    stretches): the contract suite's folder, the job's config (the embedded target being
    seeded), the load run's timeline."""
    run_dir = tmp_path / "run"
    before = set(temporary_state())
    done = capacity(
        "--devices", "1000", "--steps", "3", "--step-seconds", "8", "--run-dir", str(run_dir)
    )
    while not (run_dir / reached).exists() and done.poll() is None:
        time.sleep(0.02)
    assert done.poll() is None, "the job ended before it reached " + reached
    done.send_signal(sent)
    out, err = done.communicate(timeout=180)
    assert done.returncode == 130, out[-2000:] + err[-2000:]
    assert "interrupted" in out and "Traceback" not in out + err
    assert (run_dir / "report.html").exists()
    ended = json.loads((run_dir / "summary.json").read_text())["ended"]
    assert ended["how"] == "interrupted" and ended["signal"] == signal.Signals(sent).name
    assert "interrupted" in judge_dir(run_dir).headline
    assert leftovers(str(run_dir), own_state_prefix()) == []
    assert set(temporary_state()) <= before


RELATIVE_RUN = ("--devices", "100", "--steps", "2", "--step-seconds", "3", "--run-dir", "rel-run")


@pytest.mark.long
def test_the_run_lands_where_the_caller_is_whatever_the_parts_working_directory(tmp_path):
    """A relative --run-dir is the caller's: the contract suite and Locust run in the checkout,
    and none of the run may land there."""
    done = subprocess.run(
        [sys.executable, "-m", "tagocheck", "capacity", *RELATIVE_RUN],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("TAGOIO_")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    # where the run lands, whatever its verdict: a 3-s step on a busy CI machine may miss the
    # thresholds (exit 1, seen once: 21 of 25 reports/s), which is not what is tested here
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    assert "Report:" in done.stdout
    run = tmp_path / "rel-run"
    for name in ("summary.json", "steps.json", "timeline.jsonl", "report.html"):
        assert (run / name).exists(), name
    assert (run / "contract" / "contract-report.json").exists()
    assert judge_dir(run).good
    assert not (ROOT / "rel-run").exists()
    assert not (tmp_path / ".hypothesis").exists()


@pytest.mark.long
def test_ctrl_c_on_a_real_account_still_removes_the_fleet(tmp_path):
    run_dir = tmp_path / "run"
    with start_target(tmp_path / "state", "--plan", "starter") as target:
        done = capacity(
            "--plan", "starter", "--devices", "30", "--steps", "3", "--step-seconds", "8",
            "--no-contract", "--run-dir", str(run_dir),
            env=account(target),
        )  # fmt: skip
        time.sleep(12)
        assert devices_on(target) != []  # the fleet is there, mid-run
        done.send_signal(signal.SIGINT)
        out, err = done.communicate(timeout=180)
        assert done.returncode == 130, out[-2000:] + err[-2000:]
        assert devices_on(target) == []
    assert (run_dir / "report.html").exists()


@pytest.mark.parametrize(
    ("via", "needs"),
    [
        ("network", "$TAGOIO_NETWORK_TOKEN and $TAGOIO_AUTHORIZATION"),
        ("tagotip-http", "$TAGOIO_TAGOTIP_URL and $TAGOIO_AUTHORIZATION"),
    ],
)
def test_a_path_on_a_real_target_names_what_it_lacks_in_one_line(tmp_path, via, needs):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAGOIO_")}
    env["TAGOIO_PROFILE_TOKEN"] = "p-" + "0" * 32
    command = [sys.executable, "-m", "tagocheck", "capacity", "--target", "http://127.0.0.1:9"]
    command += ["--plan", "free", "--via", via, "--run-dir", str(tmp_path / "run")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2
    assert f"--via {via} on a real target needs {needs}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_an_mqtt_fleet_behind_one_address_is_counted_by_the_plans_ttl_and_idle_timeout():
    """Over MQTT the plan's TTL and idle timeout decide: 12 devices every 2 s stay connected
    until scale's 15-s TTL (12 at once, 48 reconnects a minute); 100 every 60 s connect per
    report and are closed after 5 s idle (9 at once, 100 a minute)."""
    _, lines = tip_plan(12, "2", "scale", via="tagotip-mqtt")
    assert lines[NAT_CONNECTIONS].amount == 12
    assert "15-s TTL" in lines[NAT_CONNECTIONS].note
    assert "48 opened a minute" in lines[NAT_CONNECTIONS].note
    found, lines = tip_plan(100, "60", "starter", via="tagotip-mqtt")
    assert lines[NAT_CONNECTIONS].amount == 9 and lines[NAT_CONNECTIONS].limit == 10
    # a subscription to its ack topic for each connection: 100 a minute, past starter's 50
    assert found.problems == [f"{SUBSCRIPTIONS}: 100 > 50"]
    assert "plan scale carries it" in lines[NAT_CONNECTIONS].note
    assert lines[RUN_CONNECTIONS].amount == 9  # each device its own, whatever --users
    found, lines = tip_plan(40, "60", "starter", via="tagotip-mqtt")
    assert found.problems == [] and lines[SUBSCRIPTIONS].amount == 40
    assert "plan starter carries it" in lines[NAT_CONNECTIONS].note
    _, lines = tip_plan(40, "60", "none", via="tagotip-mqtt")  # no TagoTiP figures to count by
    assert lines[NAT_CONNECTIONS].amount == 40
    assert "plan none gives no TTL" in lines[NAT_CONNECTIONS].note
    assert "HTTP" not in lines[NAT_CONNECTIONS].note


def test_a_gateways_devices_hold_one_mqtt_connection_behind_one_address():
    """30 devices every 2 s need 30 connections from one NAT, past scale's 20; behind 3
    gateways (--devices-per-connection 10) they hold 3, each kept until the 15-s TTL (12
    opened a minute, one subscription request each), and scale carries them. 30 devices every
    60 s behind gateways of 10 report to each gateway every 6 s, past the 5-s idle timeout: a
    connection per report (30 a minute), at most the 3 gateways at once."""
    found, lines = tip_plan(30, "2", "scale", via="tagotip-mqtt")
    assert f"{NAT_CONNECTIONS}: 30 > 20" in found.problems
    found, lines = tip_plan(30, "2", "scale", via="tagotip-mqtt", devices_per_connection=10)
    assert lines[NAT_CONNECTIONS].amount == 3
    assert "each gateway of 10 devices stays connected until the 15-s TTL" in (
        lines[NAT_CONNECTIONS].note
    )
    assert "12 opened a minute" in lines[NAT_CONNECTIONS].note
    assert lines[SUBSCRIPTIONS].amount == 12 and lines[RUN_CONNECTIONS].amount == 3
    assert found.problems == [] and "plan scale carries it" in lines[NAT_CONNECTIONS].note
    _, lines = tip_plan(30, "60", "scale", via="tagotip-mqtt", devices_per_connection=10)
    assert lines[NAT_CONNECTIONS].amount == 3
    assert "a connection per report" in lines[NAT_CONNECTIONS].note
    assert "30 opened a minute" in lines[NAT_CONNECTIONS].note


def test_a_spread_fleet_counts_each_early_ended_first_connection_in_its_first_minute():
    """3 gateways kept to the 15-s TTL open 12 connections a minute; with --connection-spread
    each also ends its first one early, once: 15 in the first minute. The connections at once
    stay 3 (the device ends one before it makes the next)."""
    shape = {"via": "tagotip-mqtt", "devices_per_connection": 10, "connection_spread": 15}
    found, lines = tip_plan(30, "2", "scale", **shape)
    assert found.problems == []
    assert lines[NAT_CONNECTIONS].amount == 3
    assert "15 opened a minute" in lines[NAT_CONNECTIONS].note
    assert "first connection ended sooner (--connection-spread)" in lines[NAT_CONNECTIONS].note
    assert lines[SUBSCRIPTIONS].amount == 15


@pytest.mark.parametrize(
    ("shape", "says"),
    [
        ({"via": "tagotip-http", "connection_spread": 15}, "--connection-spread with --via"),
        ({"via": "tagotip-udp", "connection_spread": 1}, "only MQTT and TCP devices hold"),
        ({"via": "tagotip-tcp", "connection_spread": -1}, "must be from 0 to 3,600 s"),
        ({"via": "tagotip-mqtt", "connection_spread": 3601}, "must be from 0 to 3,600 s"),
    ],
)
def test_only_connected_devices_spread_their_first_connections(shape, says):
    with pytest.raises(FleetConfigError, match=says):
        FleetConfig(devices=10, interval=Interval.parse("2"), **shape)


def test_only_mqtt_devices_share_a_gateways_connection():
    with pytest.raises(FleetConfigError, match="--devices-per-connection with --via tagotip-tcp"):
        FleetConfig(
            devices=10, interval=Interval.parse("2"), via="tagotip-tcp", devices_per_connection=5
        )


def test_an_mqtt_fleet_past_the_profiles_connections_or_subscriptions_needs_a_bigger_plan():
    """Free holds 10 MQTT connections a profile and 5 subscriptions a minute: 3 devices every
    4 s, each kept until the 10-s TTL, subscribe 18 times a minute; starter's 50 carry them."""
    found, lines = tip_plan(3, "4", "free", users=1, via="tagotip-mqtt")
    assert found.problems == [f"{SUBSCRIPTIONS}: 18 > 5"]
    assert lines[PROFILE_MQTT].amount == 3 and lines[PROFILE_MQTT].limit == 10
    assert "plan starter carries it" in lines[NAT_CONNECTIONS].note  # 18 <= 50
    found, _ = tip_plan(30, "2", "scale", via="tagotip-mqtt")  # 120 a minute, 30 at once
    assert f"{SUBSCRIPTIONS}: 120 > 100" in found.problems
    assert f"{NAT_CONNECTIONS}: 30 > 20" in found.problems


def test_a_udp_fleet_holds_no_connection_and_is_held_to_the_uplinks_alone():
    """Over UDP a device holds no connection: 400 devices behind one address need none of the
    plan's 3 / 10 / 20 connections per IP, and only the uplinks a minute decide the plan (400
    every 60 s fit starter's 500 a minute, not free's 60)."""
    found, lines = tip_plan(400, "60", "free", via="tagotip-udp")
    assert lines[NAT_CONNECTIONS].amount == 0 and lines[RUN_CONNECTIONS].amount == 0
    assert "holds no connection" in lines[NAT_CONNECTIONS].note
    assert "plan starter carries it" in lines[NAT_CONNECTIONS].note
    assert all("connections" not in problem for problem in found.problems), found.problems
    assert PROFILE_MQTT not in lines and SUBSCRIPTIONS not in lines
