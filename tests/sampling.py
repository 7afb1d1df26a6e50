"""Which cells of a long matrix a test run takes: all of them, a fixed sample, or the fixed sample
plus a rotating slice of the rest.

Why rotate: CI must stay under 15 minutes, and the matrices run whole took it past that; but a
matrix that only its own `make` target runs rots unseen (the truth table's did, before CI ran it
whole). So CI (.ci/run) sets TAGOCHECK_ROTATION to the commit it tests: every cell outside the
fixed sample belongs to one of SLICES slices, the commit picks one, and every cell runs in CI at
least once in any SLICES landings whose commits pick different slices. A commit always picks the
same slice, so a red CI run is reproduced by running its commit again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

SLICES = 5
"""How many slices the cells outside the fixed sample are dealt into."""


def rotation_slice(key: str | None = None) -> int | None:
    """The slice this run adds, from TAGOCHECK_ROTATION (any text, CI's commit), or None."""
    key = os.environ.get("TAGOCHECK_ROTATION", "") if key is None else key
    if not key:
        return None
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % SLICES


def chosen(
    matrix: str, cases: Sequence[T], in_sample: Callable[[int, T], bool], key: str | None = None
) -> list[T]:
    """The cases to run: all with TAGOCHECK_<MATRIX>=all; otherwise those in the fixed sample,
    plus, with a rotation key, the rest dealt into SLICES slices in order, the key's slice."""
    if os.environ.get(f"TAGOCHECK_{matrix}") == "all":
        return list(cases)
    picked = rotation_slice(key)
    taken, rest = [], 0
    for index, case in enumerate(cases):
        if in_sample(index, case):
            taken.append(case)
        else:
            if picked is not None and rest % SLICES == picked:
                taken.append(case)
            rest += 1
    return taken
