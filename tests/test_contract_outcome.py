"""The contract run's verdict words, its exploration folders and severity by source, alone."""

from __future__ import annotations

import sys
from pathlib import Path

from tagocheck.judge.findings import OBSERVATION, VIOLATION, Findings, label_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contract"))
import exploration
import outcome


def tally(*reports: tuple[str, str, str], selected: list[str] | None = None) -> outcome.Tally:
    made = outcome.Tally()
    made.select(selected if selected is not None else [r[0] for r in reports])
    for nodeid, when, result in reports:
        made.record(nodeid, when, result, "Skipped: not judged: blocked by F1: baseline")
    return made


def test_nothing_selected_is_not_judged():
    verdict = outcome.decide(tally(selected=[]), 0, 0, 0)
    assert verdict.status == outcome.NOT_JUDGED and verdict.exit_status == 7
    assert verdict.why == "no contract test was selected"


def test_a_family_skipped_whole_is_not_judged_and_says_why():
    made = tally(
        ("contract/test_ingest.py::test_a", "setup", "skipped"),
        ("contract/test_ingest.py::test_b", "setup", "skipped"),
        ("contract/test_routes.py::test_r", "call", "passed"),
    )
    verdict = outcome.decide(made, 0, 0, 0)
    assert verdict.status == outcome.NOT_JUDGED
    assert verdict.not_judged == [
        "ingest: all 2 tests skipped (not judged: blocked by F1: baseline)"
    ]


def test_a_suite_error_comes_before_a_violation_and_a_violation_before_not_judged():
    made = tally(("contract/test_ingest.py::test_a", "setup", "skipped"))
    assert outcome.decide(made, 1, 1, 1).exit_status == 6
    assert outcome.decide(made, 1, 1, 0).exit_status == 1
    assert outcome.decide(made, 0, 0, 0).exit_status == 7
    held = tally(("contract/test_ingest.py::test_a", "call", "passed"))
    assert outcome.decide(held, 0, 0, 0).status == outcome.HOLDS


def test_a_rule_no_source_states_never_makes_a_violation():
    found = Findings()
    unstated = found.add("POST /data", "c", "w", VIOLATION, expected="open [?]", observed="o")
    stated = found.add("POST /data", "d", "w", VIOLATION, expected="a rule [C]", observed="o")
    assert (unstated.severity, unstated.label) == (OBSERVATION, "?")
    assert (stated.severity, stated.label) == (VIOLATION, "C")
    assert found.failing() == [stated]


def test_labels_are_read_from_the_rule_s_text():
    assert label_of("variable <= 100 characters [C]") == "C"
    assert label_of("list forms [C/SDK]") == "C"
    assert label_of("facts 3 [C], but the reaction is open [?]") == "?"
    assert label_of("facts 3 [C], but the reaction is open [?]", first=True) == "C"
    assert label_of("no label here") is None


def test_each_target_keeps_its_own_examples(tmp_path):
    one = exploration.examples_folder(tmp_path, "http://127.0.0.1:1000", "starter")
    other_port = exploration.examples_folder(tmp_path, "http://127.0.0.1:1001", "starter")
    other_plan = exploration.examples_folder(tmp_path, "http://127.0.0.1:1000", "free")
    embedded = exploration.examples_folder(tmp_path, None, "starter")
    assert len({one, other_port, other_plan, embedded}) == 4
    assert embedded == exploration.examples_folder(tmp_path, None, "starter")
    assert one.name == exploration.suite_version()
    assert all(p.is_relative_to(tmp_path) for p in (one, other_port, other_plan, embedded))
