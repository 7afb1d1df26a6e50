"""CI's rotation over the long matrices covers every cell in turn and is the same for a commit."""

from __future__ import annotations

from .sampling import SLICES, chosen, rotation_slice


def in_sample(index: int, _: str) -> bool:
    return index % 4 == 0


CELLS = [f"cell-{n}" for n in range(23)]


def test_the_slices_together_are_the_whole_matrix_and_each_keeps_the_sample(monkeypatch):
    monkeypatch.delenv("TAGOCHECK_DEMO", raising=False)
    sample = chosen("DEMO", CELLS, in_sample, key="")
    assert sample == CELLS[::4]
    keys = {}
    for n in range(50):
        keys.setdefault(rotation_slice(f"commit-{n}"), f"commit-{n}")
    assert sorted(keys) == list(range(SLICES)), "50 commits never picked some slice"
    runs = [chosen("DEMO", CELLS, in_sample, key=key) for key in keys.values()]
    assert all(set(sample) <= set(run) for run in runs)
    assert set().union(*runs) == set(CELLS)
    extra = [len(run) - len(sample) for run in runs]
    assert sum(extra) == len(CELLS) - len(sample) and max(extra) - min(extra) <= 1


def test_a_commit_picks_the_same_slice_every_time_and_all_means_all(monkeypatch):
    assert rotation_slice("0ff16c1") == rotation_slice("0ff16c1")
    monkeypatch.setenv("TAGOCHECK_ROTATION", "0ff16c1")
    assert chosen("DEMO", CELLS, in_sample) == chosen("DEMO", CELLS, in_sample, key="0ff16c1")
    monkeypatch.setenv("TAGOCHECK_DEMO", "all")
    assert chosen("DEMO", CELLS, in_sample) == CELLS
