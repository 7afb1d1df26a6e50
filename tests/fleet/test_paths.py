"""The fleet a path carries at the plan's limit."""

from __future__ import annotations

from tagocheck.fleet.paths import path_limit


def test_the_network_route_carries_far_fewer_devices_than_post_data():
    network = path_limit("scale", "network", 10_000, 10_000 / 900, 900)
    assert network.per_window == 500 and network.carried == 7_500 and not network.fits
    assert network.sentence() == (
        "at most 500 uplinks a minute on plan scale (POST /integration/network/data): "
        "10,000 devices every 900 s offer 667; at most 7,500 devices at that interval fit"
    )
    device = path_limit("scale", "device", 10_000, 10_000 / 900, 900)
    assert device.route == "POST /data" and device.carried == 225_000 and device.fits


def test_a_plan_without_limits_carries_any_fleet_and_says_so():
    found = path_limit("unlimited", "network", 200, 200.0, 1)
    assert found.per_window is None and found.carried is None and found.fits
    assert "plan unlimited sets no limit on POST /integration/network/data" in found.sentence()


def test_a_fleet_file_keeps_each_devices_serial_and_refuses_a_serial_of_another_type(tmp_path):
    import json

    import pytest

    from tagocheck.fleet.provision import (
        ProvisionedDevice,
        ProvisionError,
        read_fleet_file,
        write_fleet_file,
    )

    path = tmp_path / "fleet.json"
    devices = [
        ProvisionedDevice("a" * 24, "t1", "70B3D5E75E000000"),
        ProvisionedDevice("b" * 24, "t2"),
    ]
    write_fleet_file(path, devices)
    assert read_fleet_file(path) == devices
    path.write_text(json.dumps({"devices": [{"id": "x", "token": "t", "serial": 5}]}))
    with pytest.raises(ProvisionError, match=r'"serial": \.\.\. \(optional\)'):
        read_fleet_file(path)


def test_a_fleet_past_its_paths_limit_is_a_finding_and_a_capacity_ramp_past_it_a_fact():
    from pathlib import Path

    from tagocheck.fleet.capacity import Step
    from tagocheck.report.rundata import RunData
    from tagocheck.report.verdict import judge

    config = {
        "scenario": "fleet",
        "plan": "scale",
        "via": "network",
        "devices": 10_000,
        "offered_reports_per_second": 10_000 / 900,
        "options": {"interval": "900"},
    }
    summary = {"reports": 100, "answered": 100, "ended": {"how": "completed"}}
    found = judge(RunData(Path("x"), config=config, summary=summary))
    assert found.headline == (
        "The fleet does not fit its path: at most 500 uplinks a minute on plan scale "
        "(POST /integration/network/data): 10,000 devices every 900 s offer 667; at most 7,500 "
        "devices at that interval fit."
    )
    # a capacity run stopped at its second step offered 5,000 devices, not the whole fleet
    steps = [
        Step(i, devices, 0.0, 1.0, devices / 900, devices / 900, 5.0, 0.0).as_dict()
        for i, devices in enumerate((2_500, 5_000), 1)
    ]
    ramp = RunData(
        Path("x"),
        config={**config, "scenario": "capacity"},
        summary={**summary, "capacity": {"steps": steps}},
    )
    facts = " ".join(judge(ramp).facts + judge(ramp).problems)
    assert "5,000 devices every 900 s offer 333" in facts
    assert "does not fit" not in facts


def test_a_shorter_window_holds_the_plans_figure_to_each_window():
    # the embedded target's --rate-window-seconds 5: the plan's 5,000 in every 5-s window
    found = path_limit("starter", "device", 250, 250.0, 1, window_seconds=5)
    assert found.offered_per_window == 1250 and found.fits and found.carried == 1000
    assert "at most 5,000 reports in a 5-s window on plan starter" in found.sentence()
