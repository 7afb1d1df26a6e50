"""Ingest rules for device data: validation, normalisation and the formats the API speaks.

Limits are the documented ones (facts file section 3). "kB" is read as 1,000 bytes. A rejected
record names its field and its index in the request, and rejects the whole request.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Mapping
from itertools import count
from typing import Any

import orjson

MAX_VARIABLE = 100
MAX_UNIT = 25
MAX_GROUP = 100
MAX_VALUE_BYTES = 6_000
MAX_METADATA_BYTES = 10_000
MAX_BODY_BYTES = 200_000
FORBIDDEN_IN_VARIABLE = frozenset("*?!<>.-=$ ")
UNIX_MS_THRESHOLD = 100_000_000_000  # numbers above this are milliseconds, below it seconds


def relax_limits(factor: int = 10) -> None:
    """The lenient-limits fault: this process's target accepts fields past the documented sizes
    and forbidden characters in variables (the facts leave a target's reaction open)."""
    global MAX_VARIABLE, MAX_UNIT, MAX_GROUP, MAX_VALUE_BYTES, MAX_METADATA_BYTES
    global FORBIDDEN_IN_VARIABLE
    MAX_VARIABLE, MAX_UNIT, MAX_GROUP = MAX_VARIABLE * factor, MAX_UNIT * factor, MAX_GROUP * factor
    MAX_VALUE_BYTES, MAX_METADATA_BYTES = MAX_VALUE_BYTES * factor, MAX_METADATA_BYTES * factor
    FORBIDDEN_IN_VARIABLE = frozenset()


class InvalidData(ValueError):
    """A request's data breaks a documented rule; the message is what the client sees."""


# ---- ids and dates -----------------------------------------------------------------------------

_ID_PREFIX = os.urandom(5).hex()
_ID_COUNTER = count(int.from_bytes(os.urandom(3), "big"))


def new_id() -> str:
    """A 24-lowercase-hex id in the shape TagoIO uses: seconds, process random, counter."""
    return f"{int(time.time()):08x}{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFF:06x}"


_ID = re.compile(r"^[0-9a-f]{24}$")


def is_id(value: Any) -> bool:
    """A resource id (a device's, a record's, a parameter's) as TagoIO makes them: 24 lowercase
    hex characters [C]."""
    return isinstance(value, str) and _ID.match(value) is not None


def record_id(created_ms: int, seq: int) -> str:
    """A record's 24-hex id: its creation second, then its seq, which the id stands for."""
    return f"{created_ms // 1000:08x}{seq:016x}"


def seq_of(record_id: str) -> int | None:
    """The seq a record id stands for, or None when it is no record id of ours."""
    if len(record_id) != 24:
        return None
    try:
        seq = int(record_id[8:], 16)
    except ValueError:
        return None
    return seq if seq < 2**63 else None  # past SQLite's integers: no seq of ours


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# The dates the API speaks have four-digit years [C]: a moment outside them cannot be returned in
# that form, so it is refused as a record's time and clamped as a query's bound.
MIN_MS = -62_167_219_200_000  # 0000-01-01T00:00:00.000Z
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_DAY_MS = 86_400_000


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year, day 31 of a 30-day month
    running into the next, as JavaScript's Date reads an ISO date)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468 + day - 1


def civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719_468
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146_096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted + 2) // 5 + 1
    month = shifted + (3 if shifted < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day


def iso_z(ms: int | None) -> str | None:
    """Milliseconds since the epoch as ISO 8601 UTC with milliseconds and Z."""
    if ms is None:
        return None
    days, in_day = divmod(ms, _DAY_MS)
    year, month, day = civil_from_days(days)
    seconds, millis = divmod(in_day, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


# What common.schema.json#relative-time and #iso-time-in accept, and no more: a form the schema
# refuses is refused here too, so a client that follows the schema is never surprised.
_RELATIVE = re.compile(r"^([0-9]{1,4}) ?(second|minute|hour|day|week|month|year)s?$")
_UNIT_SECONDS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}
_ISO_DATE = re.compile(
    r"^([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"(?:[T ]([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9])(?:\.([0-9]+))?)?"
    r"(Z|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)?)?$"
)


def relative_ms(text: str) -> int | None:
    """ "2 hours" as milliseconds, or None when the text is not a relative duration."""
    found = _RELATIVE.match(text)
    if not found:
        return None
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2)] * 1000


def parse_date_ms(text: str) -> int | None:
    """ISO 8601 (a date, "YYYY-MM-DD HH:mm:ss", with or without zone; UTC without) in ms; None
    if not such a date."""
    found = _ISO_DATE.match(text)
    if not found:
        return None
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    ms = days_from_civil(int(year), int(month), int(day)) * _DAY_MS
    ms += ((int(hour or 0) * 60 + int(minute or 0)) * 60 + int(second or 0)) * 1000
    ms += int((fraction or "0")[:3].ljust(3, "0"))
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        offset = (int(digits[:2]) * 60 + int(digits[2:] or 0)) * 60_000
        ms -= offset if zone[0] == "+" else -offset
    return ms


def parse_time_ms(value: Any) -> int | None:
    """A record's time: ISO 8601, or a Unix timestamp in seconds (milliseconds when that large);
    None when it is neither or has no four-digit year."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            return None
        moment = int(value if value >= UNIX_MS_THRESHOLD else value * 1000)
    elif isinstance(value, str):
        moment = parse_date_ms(value)
    else:
        return None
    return moment if moment is not None and MIN_MS <= moment <= MAX_MS else None


def parse_moment_ms(text: str, now: int, *, future: bool = False) -> int | None:
    """A query date: ISO 8601, or a relative duration before (or after) now; clamped to the
    four-digit years."""
    span = relative_ms(text)
    moment = parse_date_ms(text) if span is None else (now + span if future else now - span)
    return None if moment is None else min(max(moment, MIN_MS), MAX_MS)


def days_later(ms: int, days: int) -> int:
    return ms + days * _DAY_MS


# ---- records ------------------------------------------------------------------------------------


def json_bytes(value: Any) -> int:
    return len(orjson.dumps(value))


def _fail(index: int | None, field: str, problem: str) -> InvalidData:
    where = f"record {index}" if index is not None else "the record"
    return InvalidData(f"Invalid data in {where}: {field} {problem}")


def check_variable(raw: Any, index: int | None) -> str:
    if not isinstance(raw, str) or not raw:
        raise _fail(index, "variable", "is required and must be a non-empty string")
    if len(raw) > MAX_VARIABLE:
        raise _fail(index, "variable", f"is {len(raw)} characters; at most {MAX_VARIABLE}")
    bad = FORBIDDEN_IN_VARIABLE.intersection(raw)
    if bad:
        shown = " ".join(repr(c) for c in sorted(bad))
        raise _fail(index, "variable", f"contains forbidden characters {shown}")
    return raw.lower()


SQLITE_INTEGERS = range(-(2**63), 2**63)


def numeric(value: Any) -> int | float | None:
    """A value's number for the statistics column: a JSON integer past SQLite's 64 bits is kept
    as the nearest float (its exact text stays in the value column)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if isinstance(value, float) or value in SQLITE_INTEGERS else float(value)


def check_value(raw: Any, index: int | None) -> Any:
    if raw is None or isinstance(raw, bool | int | float):
        return raw
    if isinstance(raw, str):
        size = len(raw.encode("utf-8"))
        if size > MAX_VALUE_BYTES:
            raise _fail(index, "value", f"is {size} bytes; at most {MAX_VALUE_BYTES}")
        return raw
    raise _fail(index, "value", "must be a string, number or boolean")


def check_text(raw: Any, index: int | None, field: str, limit: int) -> str:
    if not isinstance(raw, str):
        raise _fail(index, field, "must be a string")
    if len(raw) > limit:
        raise _fail(index, field, f"is {len(raw)} characters; at most {limit}")
    return raw


def _coordinate(raw: Any, index: int | None, field: str, bound: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not -bound <= raw <= bound:
        raise _fail(index, field, f"must be a number from -{bound:g} to {bound:g}")
    return raw


def check_location(raw: Any, index: int | None) -> dict[str, Any]:
    """{lat, lng} or a GeoJSON Point in; always a GeoJSON Point [lng, lat] out."""
    if isinstance(raw, dict) and set(raw) == {"lat", "lng"}:
        lat = _coordinate(raw["lat"], index, "location.lat", 90)
        lng = _coordinate(raw["lng"], index, "location.lng", 180)
    elif isinstance(raw, dict) and raw.get("type") in ("Point", "point"):
        coordinates = raw.get("coordinates")
        if not isinstance(coordinates, list) or len(coordinates) != 2:
            raise _fail(index, "location.coordinates", "must be [lng, lat]")
        lng = _coordinate(coordinates[0], index, "location.coordinates[0]", 180)
        lat = _coordinate(coordinates[1], index, "location.coordinates[1]", 90)
    else:
        raise _fail(index, "location", "must be {lat, lng} or a GeoJSON Point")
    return {"type": "Point", "coordinates": [lng, lat]}


def check_metadata(raw: Any, index: int | None) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _fail(index, "metadata", "must be an object")
    size = json_bytes(raw)
    if size > MAX_METADATA_BYTES:
        raise _fail(index, "metadata", f"is {size} bytes; at most {MAX_METADATA_BYTES}")
    return raw


def check_time(raw: Any, index: int | None) -> int:
    moment = parse_time_ms(raw)
    if moment is None:
        raise _fail(index, "time", "must be an ISO 8601 date or a Unix timestamp")
    return moment


Row = tuple[Any, ...]
"""One stored record in the column order of the data table: (seq, device, variable, value_json,
num, unit, group, location_json, metadata_json, time_ms, created_ms)."""


def new_row(raw: Any, index: int | None, seq: int, device: int, group: str, created: int) -> Row:
    """Check one record as sent and turn it into the row to store."""
    if not isinstance(raw, dict):
        raise _fail(index, "record", "must be an object")
    variable = check_variable(raw.get("variable"), index)
    value = check_value(raw.get("value"), index)
    unit = check_text(raw["unit"], index, "unit", MAX_UNIT) if raw.get("unit") is not None else None
    groups = [
        check_text(raw[k], index, k, MAX_GROUP)
        for k in ("group", "serie")
        if raw.get(k) is not None
    ]
    grp = groups[0] if groups else group  # group, else serie, its deprecated alias
    location = raw.get("location")
    location = check_location(location, index) if location is not None else None
    metadata = raw.get("metadata")
    metadata = check_metadata(metadata, index) if metadata is not None else None
    moment = check_time(raw["time"], index) if raw.get("time") is not None else created
    return (
        seq,
        device,
        variable,
        None if value is None else orjson.dumps(value).decode(),
        numeric(value),
        unit,
        grp,
        None if location is None else orjson.dumps(location).decode(),
        None if metadata is None else orjson.dumps(metadata).decode(),
        moment,
        created,
    )


def batch(body: Any) -> list[Any]:
    """A POST body is one record or a non-empty array of them."""
    if isinstance(body, list):
        if not body:
            raise InvalidData("Invalid data: the array is empty")
        return body
    if isinstance(body, dict):
        return [body]
    raise InvalidData("Invalid data: send a data object or an array of them")


EDITABLE = ("id", "value", "unit", "time", "group", "serie", "location", "metadata")


def update_fields(raw: Any, index: int | None) -> dict[str, Any]:
    """One PUT /data item: its id and the columns to change. A field that is not a record's is
    refused: ignoring it would drop the edit its sender meant."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise _fail(index, "id", "is required")
    if not is_id(raw["id"]):
        raise _fail(index, "id", "must be a record id (24 lowercase hex characters)")
    unknown = sorted(set(raw) - set(EDITABLE))
    if unknown:
        raise _fail(index, unknown[0], f"is not a field of a record ({', '.join(EDITABLE)})")
    changes: dict[str, Any] = {}
    if "value" in raw:
        value = check_value(raw["value"], index)
        changes["value"] = None if value is None else orjson.dumps(value).decode()
        changes["num"] = numeric(value)
    if "unit" in raw:
        changes["unit"] = check_text(raw["unit"], index, "unit", MAX_UNIT)
    groups = [check_text(raw[k], index, k, MAX_GROUP) for k in ("group", "serie") if k in raw]
    if groups:
        changes["grp"] = groups[0]  # group, else serie, its deprecated alias
    if "location" in raw:
        changes["location"] = orjson.dumps(check_location(raw["location"], index)).decode()
    if "metadata" in raw:
        changes["metadata"] = orjson.dumps(check_metadata(raw["metadata"], index)).decode()
    if "time" in raw:
        changes["time_ms"] = check_time(raw["time"], index)
    return {"id": raw["id"], "changes": changes}


def record_out(row: Any, device_ids: Mapping[int, str]) -> dict[str, Any]:
    """A stored row as GET /data returns it; device_ids maps device keys to device ids."""
    (seq, device, variable, value, _num, unit, grp, location, metadata, moment, created) = row
    out: dict[str, Any] = {
        "id": record_id(created, seq),
        "device": device_ids[device],
        "variable": variable,
        "value": None if value is None else orjson.loads(value),
        "group": grp,
        "time": iso_z(moment),
        "created_at": iso_z(created),
    }
    if unit is not None:
        out["unit"] = unit
    if location is not None:
        out["location"] = orjson.loads(location)
    if metadata is not None:
        out["metadata"] = orjson.loads(metadata)
    return out
