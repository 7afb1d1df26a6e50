"""An immutable device's data in chunks: one per calendar period (day, week, month or quarter) in
UTC, named `<first second>_<last second>` and shown from `...T00:00:00.000+00:00` to
`...T23:59:59.999+00:00`, newest first, as the API lists them [OAS examples]. Weeks start on
Monday (the examples' weeks do). Dates are proleptic Gregorian from year 0 to 9999, the range a
record's time may take (records.MIN_MS..MAX_MS); a chunk's id is negative before 1970."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tagocheck.server.records import MAX_MS, MIN_MS, civil_from_days, days_from_civil

DAY_MS = 86_400_000
CHUNK_ID = re.compile(r"^(-?\d+)_(-?\d+)$")
MONDAY_1970 = 4
"""1970-01-05, the first Monday after the epoch, is day 4."""


@dataclass(frozen=True)
class Chunk:
    first_ms: int
    end_ms: int
    """The first millisecond after the chunk."""

    @property
    def id(self) -> str:
        return f"{self.first_ms // 1000}_{self.end_ms // 1000 - 1}"

    def view(self, amount: int) -> dict[str, object]:
        return {
            "amount": amount,
            "from": _iso(self.first_ms),
            "id": self.id,
            "to": _iso(self.end_ms - 1),
        }

    def dates(self) -> tuple[str, str]:
        """Its first and last days, for a file name's $FROM$ and $TO$."""
        return _iso(self.first_ms)[:10], _iso(self.end_ms - 1)[:10]


def _iso(ms: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmm+00:00`, the year in four digits."""
    days, in_day = divmod(ms, DAY_MS)
    year, month, day = civil_from_days(days)
    seconds, millis = divmod(in_day, 1000)
    hours, rest = divmod(seconds, 3600)
    clock = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{millis:03d}"
    return f"{year:04d}-{month:02d}-{day:02d}T{clock}+00:00"


def chunk_of(time_ms: int, period: str) -> Chunk:
    """The chunk a record's time falls in."""
    days = time_ms // DAY_MS
    if period == "day":
        first, end = days, days + 1
    elif period == "week":
        first = days - (days - MONDAY_1970) % 7
        end = first + 7
    else:
        months = 1 if period == "month" else 3
        year, month, _ = civil_from_days(days)
        month = (month - 1) // months * months + 1
        first = days_from_civil(year, month, 1)
        end = days_from_civil(year + (month + months > 12), (month + months - 1) % 12 + 1, 1)
    # the weeks at either end of the range are cut to it: no record's time is outside
    return Chunk(max(first * DAY_MS, MIN_MS), min(end * DAY_MS, MAX_MS + 1))


def parse_chunk_id(chunk_id: str, period: str) -> Chunk | None:
    """The chunk an id names, if it is one of this period's chunks; ValueError if the id is not
    a chunk id at all."""
    found = CHUNK_ID.match(chunk_id)
    if not found:
        raise ValueError(chunk_id)
    first_ms = int(found.group(1)) * 1000
    if not MIN_MS <= first_ms <= MAX_MS:
        return None  # no record's time is there
    chunk = chunk_of(first_ms, period)
    return chunk if chunk.id == chunk_id else None


def chunks(day_counts: list[tuple[int, int]], period: str) -> list[tuple[Chunk, int]]:
    """Chunks with their record counts, newest first, from (UTC day number, records) pairs."""
    totals: dict[Chunk, int] = {}
    for day, amount in day_counts:
        chunk = chunk_of(day * DAY_MS, period)
        totals[chunk] = totals.get(chunk, 0) + amount
    return sorted(totals.items(), key=lambda item: item[0].first_ms, reverse=True)
