"""Findings ranked for a verdict: the worst leads the headline, the rest follow in order."""

from __future__ import annotations

from dataclasses import dataclass, field

# The order in which findings lead the headline: the worst first.
RANKS = (
    "not-run",
    "crashed",
    "interrupted",
    "damaged",
    "generator",
    "empty",
    "stopped",
    "integrity",
    "duplicates",
    "backfill",
    "failing",
    "behind",
    "contract",
    "counts",
    "rate-limits",
    "threshold",
    "capacity",
    "drift",
    "unreconciled",
)


@dataclass
class Findings:
    found: list[tuple[int, str]] = field(default_factory=list)

    def add(self, kind: str, text: str) -> None:
        self.found.append((RANKS.index(kind), text))

    def has(self, kind: str) -> bool:
        return any(rank == RANKS.index(kind) for rank, _ in self.found)

    def ordered(self) -> list[str]:
        return [text for _, text in sorted(self.found, key=lambda item: item[0])]
