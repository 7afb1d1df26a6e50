"""A backup's CSV reads back as the records it was written from (tagocheck.server.backups)."""

from __future__ import annotations

import orjson
from hypothesis import example, given
from hypothesis import strategies as st

from tagocheck.server import backups
from tagocheck.server.records import iso_z

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
records = st.fixed_dictionaries(
    {
        "variable": st.text(min_size=1, max_size=20),
        "value": values,
        "unit": st.one_of(st.none(), st.text(min_size=1, max_size=5)),
        "group": st.text(min_size=1, max_size=10),
        "location": st.one_of(
            st.none(),
            st.builds(
                lambda lng, lat: {"type": "Point", "coordinates": [lng, lat]},
                st.floats(-180, 180),
                st.floats(-90, 90),
            ),
        ),
        "metadata": st.one_of(st.none(), st.dictionaries(st.text(max_size=5), st.text())),
        "time": st.integers(0, 4_102_444_800_000),
    }
)


EXAMPLE = {
    "variable": "t",
    "value": 1,
    "unit": None,
    "group": "g",
    "location": None,
    "metadata": None,
    "time": 0,
}


def row(record):
    encoded = {k: orjson.dumps(record[k]).decode() for k in ("location", "metadata")}
    return (
        1,
        1,
        record["variable"],
        None if record["value"] is None else orjson.dumps(record["value"]).decode(),
        None,
        record["unit"],
        record["group"],
        None if record["location"] is None else encoded["location"],
        None if record["metadata"] is None else encoded["metadata"],
        record["time"],
        0,
    )


def read_back_value(value):
    """What a CSV keeps of a value: a text that reads as a JSON number or boolean becomes one."""
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
        return parsed if isinstance(parsed, int | float | bool) else value
    return value


@example([{**EXAMPLE, "variable": "variable", "value": "value"}], False)  # no header
@given(st.lists(records, max_size=5), st.booleans())
def test_a_backup_reads_back_as_its_records(sent, headers):
    found = backups.from_csv(backups.to_csv([row(r) for r in sent], headers))
    assert len(found) == len(sent)
    for record, back in zip(sent, found, strict=True):
        assert back["variable"] == record["variable"]
        assert back["value"] == (
            None if record["value"] == "" else read_back_value(record["value"])
        )
        assert back.get("unit") == record["unit"]
        assert back["group"] == record["group"]
        assert back.get("location") == record["location"]
        assert back.get("metadata") == record["metadata"]
        assert back["time"] == iso_z(record["time"])
