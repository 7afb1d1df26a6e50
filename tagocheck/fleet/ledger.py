"""The rate-limit ledger: per scope, route and clock-aligned window, what was sent and answered.

A scope is the profile, or one device. Comparing each window with the plan (and the device's rpm)
finds early throttling (429s while fewer than the limit were accepted) and enforcement leaks (more
than the limit accepted). Ledgers merge, so workers' ledgers add up on the master.

A request is put in the window of the midpoint between sending it and its answer: the server
counted it somewhere in between, so requests within a round trip of a boundary may land in the
neighbouring window. A window's count is therefore only known to within those requests (its own
and its neighbours' near the boundaries), and a window is a finding only beyond that slack.
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
    """Answered with anything but 429: let through by the limiter (a 400 counts as well)."""
    throttled: int = 0
    near_boundary: int = 0
    throttled_near: int = 0
    """429s within a round trip of a boundary: the neighbouring window's, when it was full."""
    late: int = 0
    """Requests due in this window not sent: the generator reached them after it ended, when
    they would have been counted in another group's window (see ProbeSchedule)."""


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
        self.counted_with: dict[str, set[str]] = {}
        """Routes the ledger names apart that the target counts in another's window (route ->
        the others): their requests near a boundary are that window's slack too."""
        self.also_limited_by: dict[str, tuple[int, tuple[str, ...]]] = {}
        """A route whose requests the target also counts in a window shared with other routes
        (route -> that window's limit, the routes counted in it): a 429 on the route in a window
        where the shared count reached its limit is that limit enforced, not an early throttle.
        Set once the run found the sharing (network uplinks in POST /data's window)."""

    def record(
        self,
        route: str,
        sent_at: float,
        answered_at: float,
        status: int,
        device: str | None = None,
    ) -> None:
        """Count one request by its HTTP status (0: no answer). A 429 is a throttle whatever its
        body (a target may send it as an HTML page); any other answer was let through; a
        request with no answer says nothing about the limit and is only counted as sent."""
        middle = (sent_at + answered_at) / 2
        index = math.floor(middle / self.window)
        edge = min(middle - index * self.window, (index + 1) * self.window - middle)
        near = edge < (answered_at - sent_at) / 2 + 0.001
        for scope in (PROFILE, f"device:{device}") if device else (PROFILE,):
            window = self.windows.setdefault((scope, route, index), Window())
            window.sent += 1
            window.accepted += status != 429 and status != 0
            window.throttled += status == 429
            window.near_boundary += near
            window.throttled_near += near and status == 429

    def record_late(self, route: str, due: float, device: str | None = None) -> None:
        """A request due at `due` the generator could not send within its window."""
        index = math.floor(due / self.window)
        for scope in (PROFILE, f"device:{device}") if device else (PROFILE,):
            self.windows.setdefault((scope, route, index), Window()).late += 1

    def merge(self, other: Ledger) -> None:
        for key, theirs in other.windows.items():
            mine = self.windows.setdefault(key, Window())
            mine.sent += theirs.sent
            mine.accepted += theirs.accepted
            mine.throttled += theirs.throttled
            mine.near_boundary += theirs.near_boundary
            mine.throttled_near += theirs.throttled_near
            mine.late += theirs.late

    def windows_of(self, route: str, scope: str = PROFILE) -> dict[int, Window]:
        """One scope and route's windows by index."""
        return {i: w for (sc, r, i), w in self.windows.items() if sc == scope and r == route}

    def _device_throttled(
        self, limit_for: Callable[[str, str], int | None]
    ) -> dict[tuple[str, int], int]:
        """429s that devices' own limits explain, per route and window: a device that used up
        its rpm is throttled rightly, and that 429 says nothing about the profile's limit."""
        explained: dict[tuple[str, int], int] = {}
        for (scope, route, index), window in self.windows.items():
            if scope == PROFILE or not window.throttled:
                continue
            limit = limit_for(scope, route)
            if limit is not None and window.accepted + self._slack(scope, route, index) >= limit:
                explained[(route, index)] = explained.get((route, index), 0) + window.throttled
        return explained

    def _slack(self, scope: str, route: str, index: int) -> int:
        """How far the target's count of a window may be from the ledger's: requests within a
        round trip of either boundary may have been counted in the neighbouring window."""
        return self._near_boundary(scope, (route, *sorted(self.counted_with.get(route, ()))), index)

    def _near_boundary(self, scope: str, routes: Iterable[str], index: int) -> int:
        """Requests of `routes` within a round trip of either boundary of window `index`."""
        return sum(
            self.windows[key].near_boundary
            for counted in routes
            for key in ((scope, counted, index + step) for step in (-1, 0, 1))
            if key in self.windows
        )

    def _counted_beside(self, scope: str, route: str, index: int) -> int:
        """Requests of the routes the target counts in `route`'s window (counted_with) let
        through in window `index`: the target's count there is theirs and the route's."""
        keys = ((scope, other, index) for other in self.counted_with.get(route, ()))
        return sum(self.windows[key].accepted for key in keys if key in self.windows)

    def _shared_window_full(self, scope: str, route: str, index: int) -> bool:
        """Whether the window `route` also counts in (also_limited_by) may have reached its
        limit: its routes' requests sent there, within the boundary slack. Sent, not accepted:
        a request another limit throttled may still count in the shared window (the embedded
        target counts it; no source says whether TagoIO does), so only a shared window that
        could not have been full leaves the 429 unexplained."""
        if route not in self.also_limited_by:
            return False
        limit, routes = self.also_limited_by[route]
        windows = [self.windows.get((scope, counted, index)) for counted in routes]
        sent = sum(w.sent for w in windows if w is not None)
        return sent + self._near_boundary(scope, routes, index) >= limit

    def _neighbours_429s(self, scope: str, route: str, index: int, limit: int) -> int:
        """The window's 429s near a boundary when a neighbouring window was full: the target
        may have counted them there (found on a busy machine: one 429 a round trip after the
        boundary, its window far from the limit, the window before it full)."""
        window = self.windows[(scope, route, index)]
        for neighbour in (index - 1, index + 1):
            beside = self.windows.get((scope, route, neighbour))
            if (
                beside is not None
                and beside.accepted + self._slack(scope, route, neighbour) >= limit
            ):
                return window.throttled_near
        return 0

    def _judged(self, limit_for: Callable[[str, str], int | None]):
        """(scope, route, index, window, limit, kind) for every window with a limit."""
        explained = self._device_throttled(limit_for)
        for (scope, route, index), window in sorted(self.windows.items()):
            limit = limit_for(scope, route)
            if limit is None:
                continue
            throttled = window.throttled
            if scope == PROFILE:
                throttled -= explained.get((route, index), 0)
            slack = self._slack(scope, route, index)
            if throttled > 0 and self._shared_window_full(scope, route, index):
                kind = "enforced"
            elif (
                throttled - self._neighbours_429s(scope, route, index, limit) > 0
                and window.accepted + self._counted_beside(scope, route, index) + slack < limit
            ):
                kind = "early-throttle"
            elif window.accepted - slack > limit:
                kind = "leak"
            elif throttled > 0:
                kind = "enforced"
            else:
                kind = "under"
            yield scope, route, index, window, limit, kind

    def findings(self, limit_for: Callable[[str, str], int | None]) -> list[Finding]:
        """Windows that disagree with the plan; limit_for(scope, route) is None where unlimited."""
        return [
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
            for scope, route, index, window, limit, kind in self._judged(limit_for)
            if kind in ("early-throttle", "leak")
        ]

    def enforcement(self, limit_for: Callable[[str, str], int | None]) -> list[dict[str, Any]]:
        """Per scope and limited route, how its windows went against the plan.

        A window is `enforced` when the limit was reached exactly and the rest throttled, `under`
        when fewer requests than the limit came and none was throttled (it says nothing about the
        limit), and otherwise an early throttle or a leak (see findings()). `max_counted` is the
        most a window's count held: the route's accepted requests and those of the routes the
        target counts with it (a request sent late into the window by another probe).
        """
        table: dict[tuple[str, str], dict[str, Any]] = {}
        for scope, route, index, window, limit, kind in self._judged(limit_for):
            row = table.setdefault(
                (scope, route),
                {
                    "scope": scope,
                    "route": route,
                    "limit": limit,
                    "windows": 0,
                    "enforced": 0,
                    "under": 0,
                    "early-throttle": 0,
                    "leak": 0,
                    "max_accepted": 0,
                    "max_counted": 0,
                    "sent": 0,
                    "throttled": 0,
                    "late": 0,
                },
            )
            row["windows"] += 1
            row[kind] += 1
            row["sent"] += window.sent
            row["throttled"] += window.throttled
            row["late"] += window.late
            row["max_accepted"] = max(row["max_accepted"], window.accepted)
            counted = window.accepted + self._counted_beside(scope, route, index)
            row["max_counted"] = max(row["max_counted"], counted)
        return list(table.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "window_seconds": self.window,
            "windows": [
                [
                    scope,
                    route,
                    index,
                    w.sent,
                    w.accepted,
                    w.throttled,
                    w.near_boundary,
                    w.throttled_near,
                    w.late,
                ]
                for (scope, route, index), w in sorted(self.windows.items())
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ledger:
        ledger = cls(data["window_seconds"])
        rows: Iterable[list[Any]] = data["windows"]
        for scope, route, index, *counts in rows:  # older runs have fewer counts
            ledger.windows[(scope, route, index)] = Window(*counts)
        return ledger
