"""An immutable device's data in chunks: one per calendar period (day, week, month or quarter) in
UTC, named `<first second>_<last second>` and shown from `...T00:00:00.000+00:00` to
`...T23:59:59.999+00:00`, newest first, as the API lists them [OAS examples]. Weeks start on
Monday (the examples' weeks do)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DAY_MS = 86_400_000
CHUNK_ID = re.compile(r"^(\d{1,12})_(\d{1,12})$")


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
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+00:00"


def chunk_of(time_ms: int, period: str) -> Chunk:
    """The chunk a record's time falls in."""
    day = datetime.fromtimestamp(time_ms // DAY_MS * DAY_MS / 1000, UTC)
    if period == "day":
        first, end = day, day + timedelta(days=1)
    elif period == "week":
        first = day - timedelta(days=day.weekday())
        end = first + timedelta(days=7)
    else:
        months = 1 if period == "month" else 3
        month = (day.month - 1) // months * months + 1
        first = day.replace(month=month, day=1)
        year, month = divmod(first.month - 1 + months, 12)
        end = first.replace(year=first.year + year, month=month + 1)
    return Chunk(int(first.timestamp() * 1000), int(end.timestamp() * 1000))


def parse_chunk_id(chunk_id: str, period: str) -> Chunk | None:
    """The chunk an id names, if it is one of this period's chunks."""
    found = CHUNK_ID.match(chunk_id)
    if not found:
        return None
    chunk = chunk_of(int(found.group(1)) * 1000, period)
    return chunk if chunk.id == chunk_id else None


def chunks(day_counts: list[tuple[int, int]], period: str) -> list[tuple[Chunk, int]]:
    """Chunks with their record counts, newest first, from (UTC day number, records) pairs."""
    totals: dict[Chunk, int] = {}
    for day, amount in day_counts:
        chunk = chunk_of(day * DAY_MS, period)
        totals[chunk] = totals.get(chunk, 0) + amount
    return sorted(totals.items(), key=lambda item: item[0].first_ms, reverse=True)
