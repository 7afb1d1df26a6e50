"""A run whose generator's own tasks raised is not judged on the target: the reports a raising
task failed to send were never offered, so a shortfall or silence they cause is the suite's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from locust.env import Environment
from locust.user import User

from tagocheck.load.judgment import generator_errors
from tagocheck.report import verdict
from tagocheck.report.rundata import RunData

STOPPED = {
    "limit": "target",
    "kind": "stopped",
    "stopped_at": 1004.0,
    "why": "the target stopped answering at 00:00:04 UTC (the connection ended before the ACK)",
}


def _raised_in_a_task(environment: Environment, times: int) -> None:
    """`times` errors through Locust's own user_error event, as a gateway's task raising."""
    for _ in range(times):
        try:
            raise ValueError(
                "filedescriptor out of range in select() for 6f0e3f6a-5e1c-4a3b-9a1d-2b8c4d0e9f11"
            )
        except ValueError as error:
            environment.events.user_error.fire(
                user_instance=None, exception=error, tb=sys.exc_info()[2]
            )


def fleet_run(errors: dict | None, limit: dict) -> RunData:
    config = {"scenario": "fleet", "devices": 3000, "offered_reports_per_second": 750.0}
    config["started"] = 1000.0
    summary = {
        "reports": 17_000,
        "answered": 16_500,
        "ended": {"how": "completed", "why": "", "at": 1060.0},
        "limit": limit,
    }
    if errors is not None:
        summary["generator_errors"] = errors
    return RunData(Path("run"), config=config, summary=summary)


@pytest.fixture
def locust_errors() -> dict:
    environment = Environment(user_classes=[User])
    runner = environment.create_local_runner()
    _raised_in_a_task(environment, 3)
    try:
        return generator_errors(runner.exceptions)
    finally:
        runner.quit()


def test_locusts_record_of_task_errors_is_counted_located_and_scrubbed(locust_errors):
    assert locust_errors["count"] == 3
    [kind] = locust_errors["commonest"]
    assert kind["count"] == 3
    assert "6f0e3f6a-5e1c" not in kind["error"] and kind["error"].startswith("filedescriptor")
    path, _, line_and_function = kind["where"].partition(":")
    assert path == "tests/verdict/test_generator_errors.py", kind["where"]
    assert line_and_function.endswith(" in _raised_in_a_task"), kind["where"]


def test_a_run_whose_generator_raised_blames_the_suite_not_the_target(locust_errors):
    found = verdict.judge(fleet_run(locust_errors, STOPPED))
    assert found.outcome == verdict.FINDINGS
    assert found.headline.startswith("Not judged: the load generator's own tasks raised 3 errors")
    assert "not the target's" in found.headline
    said = " ".join([found.headline, *found.problems, *found.facts])
    assert "stopped answering" not in said, said


def test_the_same_run_without_generator_errors_is_the_targets_finding():
    found = verdict.judge(fleet_run({"count": 0, "commonest": []}, STOPPED))
    assert found.headline.startswith("The target stopped answering"), found.headline
    assert verdict.judge(fleet_run(None, STOPPED)).headline.startswith("The target stopped")
