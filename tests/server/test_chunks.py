"""Chunks of an immutable device (tagocheck.server.chunks): every record's time, from year 0 to
9999, falls in one chunk whose id names it back and whose dates the schema reads."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagocheck.server.chunks import CHUNK_ID, chunk_of, parse_chunk_id
from tagocheck.server.records import MAX_MS, MIN_MS
from tagocheck.spec import schemas

PERIODS = ("day", "week", "month", "quarter")


@pytest.mark.parametrize("period", PERIODS)
@given(time_ms=st.integers(MIN_MS, MAX_MS))
def test_a_records_chunk_holds_it_and_its_id_names_it(period, time_ms):
    chunk = chunk_of(time_ms, period)
    assert chunk.first_ms <= time_ms < chunk.end_ms
    assert CHUNK_ID.match(chunk.id)
    assert parse_chunk_id(chunk.id, period) == chunk
    assert not schemas.errors("results/device-data.schema.json#chunks", [chunk.view(1)])


def test_the_openapi_files_example_chunks():
    week = chunk_of(1_658_200_000_000, "week")
    assert week.view(1584) == {
        "amount": 1584,
        "from": "2022-07-18T00:00:00.000+00:00",
        "id": "1658102400_1658707199",
        "to": "2022-07-24T23:59:59.999+00:00",
    }
    assert chunk_of(-1, "day").id == "-86400_-1"


@pytest.mark.parametrize("chunk_id", ["1658102401_1658707199", "99999999999999999_1", "-1_5"])
def test_an_id_that_is_no_chunk_is_none(chunk_id):
    assert parse_chunk_id(chunk_id, "week") is None


def test_an_id_that_is_no_chunk_id_raises():
    with pytest.raises(ValueError):
        parse_chunk_id("last-week", "week")
