"""A run that sent nothing judged nothing: its verdict is never an all-clear."""

from __future__ import annotations

from pathlib import Path

from tagocheck.report import verdict
from tagocheck.report.rundata import RunData


def fleet_run(reports: int, how: str = "completed") -> RunData:
    config = {"scenario": "fleet", "devices": 200, "offered_reports_per_second": 100.0}
    config["started"] = 1000.0
    summary = {"reports": reports, "ended": {"how": how, "why": "", "at": 1010.0}}
    return RunData(Path("run"), config=config, summary=summary)


def test_a_run_that_sent_no_report_is_not_green():
    found = verdict.judge(fleet_run(0))
    assert found.outcome == verdict.FINDINGS, found  # it read "met the thresholds" in CI
    assert found.headline == "No report was sent in the 10 s the run lasted: nothing was judged."


def test_a_run_that_sent_reports_is_judged_on_them():
    assert verdict.judge(fleet_run(700)).good


def test_an_interrupted_empty_run_is_said_once_by_its_ending():
    found = verdict.judge(fleet_run(0, "interrupted"))
    assert found.outcome == verdict.INTERRUPTED
    assert not any("No report was sent" in line for line in [found.headline, *found.problems])
