"""Backups: a device's records written as a CSV file the target keeps (its Files), and read back.

The docs say what a backup is called and where it goes (`file_address` with $DEVICE$ and
$TIMESTAMP$, or a chunk's $FROM$ and $TO$; `headers` for a first row of column names) but not its
columns [?]. This target writes one row per record with the columns below. A value is written as
its text; reading back, a text that is a JSON number or boolean becomes one (as a CSV import
cannot tell `"21"` from `21`). Location and metadata are written as JSON.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

import orjson

from tagocheck.server.records import InvalidData, iso_z

COLUMNS = ("variable", "value", "unit", "group", "location", "metadata", "time")
TYPED_TEXT = (orjson.JSONDecodeError, TypeError)


def file_address(template: str, **fields: str) -> str:
    """A file's address from its template: `$NAME$` replaced, no leading slash, `.csv` at the
    end (the OAS examples: /device/$DEVICE$/$TIMESTAMP$ -> device/<id>/<ms>.csv).

    Any text is an address, as the documented form (a non-empty string) says: files are rows
    keyed by it, never paths on a disk, so `a/../b` or `x/` is a name like another. (This
    target once refused such names, and Schemathesis' stateful phase found the refusal of a
    schema-valid request.) Only the empty text names nothing."""
    if not template:
        raise InvalidData("Invalid file_address: it is empty")
    address = template
    for name, value in fields.items():
        address = address.replace(f"${name.upper()}$", value)
    address = address.lstrip("/")
    return address if address.endswith(".csv") else address + ".csv"


def to_csv(rows: Iterable[tuple[Any, ...]], headers: bool) -> bytes:
    """Stored data rows (store.DATA_COLUMNS) as a CSV file."""
    out = io.StringIO(newline="")
    # QUOTE_ALL: a value with a carriage return, a line feed or a NUL stays one field
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    if headers:
        writer.writerow(COLUMNS)
    for _seq, _device, variable, value, _num, unit, grp, location, metadata, moment, _c in rows:
        shown = "" if value is None else orjson.loads(value)
        writer.writerow(
            [
                variable,
                shown if isinstance(shown, str) else orjson.dumps(shown).decode(),
                unit or "",
                grp,
                location or "",
                metadata or "",
                iso_z(moment),
            ]
        )
    return out.getvalue().encode()


def from_csv(content: bytes) -> list[dict[str, Any]]:
    """The records a backup holds, as a data body: the first row names the columns if it is a
    header, else the columns are COLUMNS in order."""
    try:
        lines = list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error):
        raise InvalidData("Invalid file: not a CSV file in UTF-8") from None
    columns = list(COLUMNS)
    # a header names only columns; a record's row has its time, which is no column's name
    if lines and "variable" in lines[0] and set(lines[0]) <= set(COLUMNS):
        columns, lines = lines[0], lines[1:]
    found = []
    for line in lines:
        cells = dict(zip(columns, line, strict=False))
        record: dict[str, Any] = {"variable": cells.get("variable", "")}
        record["value"] = _typed(cells.get("value", ""))
        for name in ("unit", "group", "time"):
            if cells.get(name):
                record[name] = cells[name]
        for name in ("location", "metadata"):
            if cells.get(name):
                try:
                    record[name] = orjson.loads(cells[name])
                except orjson.JSONDecodeError:
                    raise InvalidData(f"Invalid file: {name} is not JSON") from None
        found.append(record)
    return found


def _typed(text: str) -> Any:
    if text == "":
        return None
    try:
        value = orjson.loads(text)
    except TYPED_TEXT:
        return text
    return value if isinstance(value, int | float | bool) else text
