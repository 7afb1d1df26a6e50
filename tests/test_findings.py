"""Findings: one per (route, check, where), records collapsed, the most serious severity kept."""

from __future__ import annotations

from tagocheck.judge.findings import DEVIATION, OBSERVATION, VIOLATION, Findings


def add(found: Findings, where: str, severity: str, test: str = "t1"):
    return found.add(
        "GET /data", "result", where, severity, expected="e [C]", observed="o", test=test
    )


def test_a_finding_is_named_once_across_records_and_tests():
    found = Findings()
    first = add(found, "/result/0/x", OBSERVATION)
    again = add(found, "/result/7/x", OBSERVATION, test="t2")
    assert first is again and first.where == "/result/*/x"
    assert (first.id, first.count, first.tests) == ("F1", 2, ["t1", "t2"])
    other = add(found, "/result/0/value", VIOLATION)
    assert other.id == "F2" and len(found) == 2
    assert [f.id for f in found] == ["F2", "F1"], "most serious first"


def test_what_fails_a_run():
    found = Findings()
    add(found, "/a", DEVIATION)
    add(found, "/b", OBSERVATION)
    assert found.failing() == [] and [f.where for f in found.failing(strict=True)] == ["/a"]
    assert found.counts() == {VIOLATION: 0, DEVIATION: 1, OBSERVATION: 1}
    copy = Findings.from_list(found.as_list())
    assert copy.as_list() == found.as_list()
