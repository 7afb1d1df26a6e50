"""Pairing what was sent with what came back, by matching rather than first-come.

A read-back lists records in its own order, and more than one stored record may fit a sent one
(two records with the same variable and value, one timed and one not). Taking the first that fits
can hand a sent record the stored one another sent record needed, and then blame the target for
a record it stored right. A maximum bipartite matching (Kuhn's augmenting paths, most-constrained
sent item first) pairs as many as can be paired; only what is left over on either side is a
finding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Sent = TypeVar("Sent")
Got = TypeVar("Got")


@dataclass(frozen=True)
class Pairing(Generic[Sent, Got]):
    pairs: list[tuple[Sent, Got]]
    unmatched_sent: list[Sent]
    """Sent items no returned item could stand for, given the others' pairs."""
    unmatched_got: list[Got]
    """Returned items left over once every sent item that could be paired was."""

    @property
    def complete(self) -> bool:
        return not self.unmatched_sent and not self.unmatched_got


def pair(sent: Sequence[Sent], got: Sequence[Got], fits: Callable[[Sent, Got], bool]) -> Pairing:
    """The largest set of (sent, got) pairs in which each pairs item fits and none is used twice.

    `fits` is called once per (sent, got) combination; the sizes here are a batch or a page of
    records, so the quadratic table is cheap and the answer does not depend on either order.
    """
    candidates = [[j for j, g in enumerate(got) if fits(s, g)] for s in sent]
    owner: list[int | None] = [None] * len(got)

    def augment(i: int, seen: set[int]) -> bool:
        for j in candidates[i]:
            if j in seen:
                continue
            seen.add(j)
            if owner[j] is None or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    # Most-constrained first: not needed for a maximum matching, but it keeps the augmenting
    # paths short, and ties keep the sent order so the result is stable.
    for i in sorted(range(len(sent)), key=lambda i: len(candidates[i])):
        augment(i, set())
    paired_sent = {i: j for j, i in enumerate(owner) if i is not None}
    return Pairing(
        pairs=[(sent[i], got[paired_sent[i]]) for i in range(len(sent)) if i in paired_sent],
        unmatched_sent=[s for i, s in enumerate(sent) if i not in paired_sent],
        unmatched_got=[g for j, g in enumerate(got) if owner[j] is None],
    )
