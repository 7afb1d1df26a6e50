"""Long set-up and clean-up say how far they got, at most every few seconds."""

from __future__ import annotations

from tagocheck.fleet import provision


def test_progress_speaks_at_most_once_every_interval(monkeypatch):
    clock = iter([0.0, 1.0, 4.9, 5.0, 6.0, 10.5, 11.0])
    monkeypatch.setattr(provision.time, "monotonic", lambda: next(clock))
    said = []
    progress = provision.every(5.0, said.append)  # reads the clock once: 0.0
    for done in range(1, 7):  # at 1.0, 4.9, 5.0, 6.0, 10.5, 11.0
        progress(done)
    assert said == [3, 5]
