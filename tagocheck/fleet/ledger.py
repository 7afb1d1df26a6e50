"""The rate-limit ledger: per scope, route and clock-aligned window, what was sent and answered.

A scope is the profile, or one device. Comparing each window with the plan (and the device's rpm)
finds early throttling (429s while fewer than the limit were accepted) and enforcement leaks (more
than the limit accepted). Ledgers merge, so workers' ledgers add up on the master.

A request is put in the window of the midpoint between sending it and its answer: the server
counted it somewhere in between, so requests within a round trip of a boundary may land in the
neighbouring window; findings there are marked as near a boundary.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

PROFILE = "profile"


@dataclass
class Window:
    sent: int = 0
    accepted: int = 0
    throttled: int = 0
    near_boundary: int = 0


@dataclass(frozen=True)
class Finding:
    kind: str  # early-throttle | leak
    scope: str
    route: str
    window_start: float
    sent: int
    accepted: int
    throttled: int
    limit: int
    near_boundary: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Ledger:
    def __init__(self, window_seconds: float) -> None:
        self.window = window_seconds
        self.windows: dict[tuple[str, str, int], Window] = {}

    def record(
        self,
        route: str,
        sent_at: float,
        answered_at: float,
        outcome: str,
        device: str | None = None,
    ) -> None:
        """Count one request; outcome is "accepted", "rate-limited" or anything else."""
        middle = (sent_at + answered_at) / 2
        index = math.floor(middle / self.window)
        edge = min(middle - index * self.window, (index + 1) * self.window - middle)
        near = edge < (answered_at - sent_at) / 2 + 0.001
        for scope in (PROFILE, f"device:{device}") if device else (PROFILE,):
            window = self.windows.setdefault((scope, route, index), Window())
            window.sent += 1
            window.accepted += outcome == "accepted"
            window.throttled += outcome == "rate-limited"
            window.near_boundary += near

    def merge(self, other: Ledger) -> None:
        for key, theirs in other.windows.items():
            mine = self.windows.setdefault(key, Window())
            mine.sent += theirs.sent
            mine.accepted += theirs.accepted
            mine.throttled += theirs.throttled
            mine.near_boundary += theirs.near_boundary

    def findings(self, limit_for: Callable[[str, str], int | None]) -> list[Finding]:
        """Windows that disagree with the plan; limit_for(scope, route) is None where unlimited."""
        found = []
        for (scope, route, index), window in sorted(self.windows.items()):
            limit = limit_for(scope, route)
            if limit is None:
                continue
            kind = None
            if window.throttled and window.accepted < limit:
                kind = "early-throttle"
            elif window.accepted > limit:
                kind = "leak"
            if kind:
                found.append(
                    Finding(
                        kind,
                        scope,
                        route,
                        index * self.window,
                        window.sent,
                        window.accepted,
                        window.throttled,
                        limit,
                        window.near_boundary > 0,
                    )
                )
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "window_seconds": self.window,
            "windows": [
                [scope, route, index, w.sent, w.accepted, w.throttled, w.near_boundary]
                for (scope, route, index), w in sorted(self.windows.items())
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ledger:
        ledger = cls(data["window_seconds"])
        rows: Iterable[list[Any]] = data["windows"]
        for scope, route, index, sent, accepted, throttled, near in rows:
            ledger.windows[(scope, route, index)] = Window(sent, accepted, throttled, near)
        return ledger
