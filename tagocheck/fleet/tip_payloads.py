"""A device's report as a TagoTiP PUSH body: the same readings a profile makes for POST /data,
written as TagoTiP variables (TagoTiP §6.3), so a fleet on TagoTiP offers what a fleet on the
device path does, record for record.

Each reading's variables carry its group (`^`, so integrity traces every data point to its
report) and, for a device that buffers, the time it was measured (`@` in ms); a backfill's
readings share one frame, each variable with its own suffixes. A record's location becomes the
docs' location suffix (`@=lat,lng`, docs/tagotip/transports [X]); metadata values are text, as
TagoTiP's metadata is; an empty unit is left out (a unit has at least one character, §14).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tagocheck.tagotip.bodies import Location, PushBody, Variable, variable_text

Record = dict[str, Any]


def _fields(record: Record, group: str, measured_ms: int | None) -> tuple[Any, ...]:
    """One record as a variable's fields, in Variable's order."""
    value = record.get("value")
    if isinstance(value, bool):
        kind, written = "boolean", value
    elif isinstance(value, int | float):
        kind, written = "number", value
    else:
        kind, written = "string", "" if value is None else str(value)
    place = record.get("location")
    metadata = record.get("metadata")
    return (
        record["variable"],
        kind,
        written,
        record.get("unit") or None,
        measured_ms,
        group,
        {str(k): str(v) for k, v in metadata.items()} if metadata else {},
        None if place is None else Location(place["lat"], place["lng"]),
    )


def variable_of(record: Record, group: str, measured_ms: int | None) -> Variable:
    """One record as the variable that stores it."""
    return Variable(*_fields(record, group, measured_ms))


def push_body(readings: Iterable[tuple[str, int | None, list[Record]]]) -> PushBody:
    """A report's frame body: each reading (its group, the time it was measured or None, its
    records) as variables."""
    return PushBody(
        tuple(
            variable_of(record, group, measured)
            for group, measured, records in readings
            for record in records
        )
    )


def push_text(readings: Iterable[tuple[str, int | None, list[Record]]]) -> str:
    """push_body(readings).text(), written without the objects: what a fleet sends for every
    report (tests/tagotip/test_fleet_frames.py holds the two to the same text)."""
    return (
        "["
        + ";".join(
            variable_text(*_fields(record, group, measured))
            for group, measured, records in readings
            for record in records
        )
        + "]"
    )
