"""Counted nouns: what a person reads says "1 window", never "1 windows"."""

from tagocheck.words import counted


def test_one_is_singular_and_every_other_count_plural():
    assert counted(1, "window") == "1 window"
    assert counted(0, "window") == "0 windows"
    assert counted(1200, "limit") == "1,200 limits"
    assert counted(1, "process") == "1 process"
    assert counted(2, "process") == "2 processes"
    assert counted(2.5, "second") == "2.5 seconds"
