"""Pairing sent and returned records by matching: no record is blamed for another's pair."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tagocheck.judge.pairing import pair

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contract"))
from test_ingest import as_stored


def test_the_batch_a_first_come_pairing_blamed_is_paired_whole():
    """The read-back lists the future-dated record first; the untimed record fits it too."""
    sent = [
        {"variable": "0", "value": 0},
        {"variable": "0", "value": 0, "time": "2027-01-01T00:00:00.000Z"},
    ]
    got = [
        {"variable": "0", "value": 0, "time": "2027-01-01T00:00:00.000Z"},
        {"variable": "0", "value": 0, "time": "2026-12-03T09:00:00.000Z"},
    ]
    first_come = next(g for g in got if as_stored(sent[0], g))
    assert first_come is got[0]  # what the old pairing took, leaving the timed record unpaired
    paired = pair(sent, got, as_stored)
    assert paired.complete
    assert paired.pairs == [(sent[0], got[1]), (sent[1], got[0])]


def test_what_cannot_be_paired_is_named_on_both_sides():
    paired = pair([1, 2, 3], [3, 4, 1], lambda s, g: s == g)
    assert not paired.complete
    assert paired.unmatched_sent == [2]
    assert paired.unmatched_got == [4]


@given(
    st.lists(st.sets(st.integers(0, 7), max_size=4), max_size=8),
    st.integers(0, 8),
    st.randoms(use_true_random=False),
)
def test_the_matching_is_maximum_whatever_the_order(fits_table, got_count, random):
    """Against brute force: no assignment pairs more, and shuffling the read-back changes nothing
    in how many are paired."""
    from itertools import permutations

    sent = list(range(len(fits_table)))
    got = list(range(got_count))

    def fits(s, g):
        return g in fits_table[s]

    if len(sent) <= 5 and got_count <= 6:
        # every way to give each sent item a distinct returned one, or none
        slots = [*got, *[None] * len(sent)]
        best = max(
            sum(1 for s, g in zip(sent, order, strict=True) if g is not None and fits(s, g))
            for order in permutations(slots, len(sent))
        )
        assert len(pair(sent, got, fits).pairs) == best
    shuffled = list(got)
    random.shuffle(shuffled)
    assert len(pair(sent, shuffled, fits).pairs) == len(pair(sent, got, fits).pairs)
    for s, g in pair(sent, got, fits).pairs:
        assert fits(s, g)
