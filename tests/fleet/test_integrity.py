"""Integrity is reconciled report by report: a lost record is told from one in flight at the stop,
and a device that lost one record and had another stored twice does not look whole."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from tagocheck.fleet.integrity import (
    reconcile,
    report_group,
    run_prefix,
    run_tag,
    sequence_of,
    summarise,
    swarm_tag,
    traced_devices,
)
from tagocheck.tagotip.grammar import MAX_IDENTIFIER, identifier

TAG = swarm_tag("tcabc", 1)


def groups(*counts: int, tag: str = TAG) -> Counter:
    return Counter({report_group(tag, seq): n for seq, n in enumerate(counts) if n})


def test_every_acknowledged_report_stored_once_is_whole():
    found = reconcile([report_group(TAG, s) for s in range(3)], groups(2, 2, 2), 2)
    assert (found.lost, found.duplicated, found.stored_not_acknowledged) == (0, 0, 0)
    assert found.reports_acknowledged == 3 and found.stored == 6


def test_a_lost_and_a_duplicated_record_do_not_cancel_out():
    acknowledged = [report_group(TAG, s) for s in range(3)]
    found = reconcile(acknowledged, groups(2, 1, 3), 2)  # same count as 2, 2, 2
    assert (found.lost, found.duplicated) == (1, 1)


def test_a_report_in_flight_at_the_stop_is_neither_lost_nor_duplicated():
    acknowledged = [report_group(TAG, s) for s in range(2)]
    found = reconcile(acknowledged, groups(2, 2, 2), 2)  # the third's answer never came
    assert (found.lost, found.duplicated, found.stored_not_acknowledged) == (0, 0, 2)


def test_an_acknowledged_report_with_nothing_stored_is_lost_whole():
    found = reconcile([report_group(TAG, 0)], Counter(), 3)
    assert found.lost == 3


def test_the_summary_adds_devices_up_and_names_the_worst():
    per_device = {
        "a": reconcile([report_group(TAG, 0)], Counter({report_group(TAG, 0): 1}), 1),
        "b": reconcile(
            [report_group(TAG, 0), report_group(TAG, 1)], Counter({report_group(TAG, 0): 3}), 1
        ),
    }
    summary = summarise(per_device, fleet_size=10, unanswered=1)
    assert (summary["lost"], summary["duplicated"], summary["devices_checked"]) == (1, 2, 2)
    assert [row["device"] for row in summary["worst"]] == ["b"]
    assert summary["unanswered"] == 1 and summary["devices_in_fleet"] == 10


def test_the_traced_sample_is_the_same_in_every_process():
    assert traced_devices(5, 10) == [0, 1, 2, 3, 4]
    sample = traced_devices(100_000, 2000)
    assert sample == traced_devices(100_000, 2000) and len(set(sample)) == 2000


def test_copies_a_retry_may_have_made_are_told_apart_from_the_targets():
    from tagocheck.fleet.integrity import DeviceIntegrity, check_times

    acknowledged = [report_group(TAG, s) for s in range(3)]
    # report 0 was sent after one unanswered attempt, and stored twice: the retry's
    # report 1 was sent once, and stored twice: the target's
    found = reconcile(acknowledged, groups(2, 2, 1), 1, {report_group(TAG, 0): 1})
    assert (found.duplicated_by_retry, found.duplicated) == (1, 1)
    # more copies than attempts: the rest is the target's
    found = reconcile(acknowledged[:1], groups(4), 1, {report_group(TAG, 0): 1})
    assert (found.duplicated_by_retry, found.duplicated) == (1, 2)
    times = DeviceIntegrity()
    measured = {report_group(TAG, 0): 10.0}
    check_times(times, measured, [(report_group(TAG, 0), 10_000), (report_group(TAG, 1), 11_000)])
    assert (times.backfilled_checked, times.time_changed, times.out_of_order) == (1, 0, 0)
    # stored with its arrival time: changed, and after a reading measured later
    moved = DeviceIntegrity()
    check_times(moved, measured, [(report_group(TAG, 0), 12_000), (report_group(TAG, 1), 11_000)])
    assert (moved.time_changed, moved.out_of_order) == (1, 1)


@given(st.integers(0, 10**6), st.integers(0, 2**40))
def test_a_report_s_group_is_one_every_path_takes(swarm, sequence):
    """A group names the run, the swarm and the report in TagoTiP's identifier alphabet (§14),
    so the same group reaches the store through POST /data and through a TagoTiP frame, and the
    read-back finds the report's sequence in it."""
    run = run_tag()
    group = report_group(swarm_tag(run, swarm), sequence)
    assert identifier(group, "group") == group
    assert len(group) <= MAX_IDENTIFIER
    assert sequence_of(group) == sequence
    assert group.startswith(run_prefix(run))
