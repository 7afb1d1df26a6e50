"""GET /data queries as a stateful test against an in-memory model of one device's data.

Hypothesis posts, edits and deletes records and asks the target every documented kind of query,
comparing each answer with what the model says it must be. Records carry distinct times far in
the past, so order is defined; records sent without a time get the server's time and are only
counted, through a relative start_date. Deletes may take up to 30 s to show on a real target, so
reads after a delete poll until they agree or the time is up.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    rule,
    run_state_machine_as_test,
)

BASE = datetime(2024, 3, 1, tzinfo=UTC)
WINDOW = {"start_date": "2024-02-29T00:00:00.000Z", "end_date": "2024-03-02T00:00:00.000Z"}
VARIABLES = ["temp", "hum", "pos"]
GROUPS = ["g1", "g2"]
DELETE_VISIBLE_WITHIN = 30.0
ARRAY_STYLES = ["repeat", "brackets", "indexed"]
SUBJECTS = ("GET /data", "PUT /data", "DELETE /data")
"""What this test checks; POST /data only makes the data (its findings are its own)."""


def said_count(result) -> int | None:
    """The one number of an acknowledgement text ("3 Data Removed"), in whatever words."""
    numbers = re.findall(r"\d+", result) if isinstance(result, str) else []
    return int(numbers[0]) if len(numbers) == 1 else None


@dataclass
class Record:
    id: str | None
    variable: str
    value: float | int
    group: str
    time_ms: int | None  # None: sent without a time (server time, recent)
    location: list[float] | None = None


def iso(ms: int) -> str:
    return (
        (datetime.fromtimestamp(ms / 1000, UTC))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def array_param(name: str, values: list[str], style: str) -> list[tuple[str, str]]:
    if style == "brackets":
        return [(f"{name}[]", v) for v in values]
    if style == "indexed":
        return [(f"{name}[{i}]", v) for i, v in enumerate(values)]
    return [(name, v) for v in values]


class DeviceData(RuleBasedStateMachine):
    fleet = None  # set by the test before the run

    records = Bundle("records")

    def __init__(self) -> None:
        super().__init__()
        self.model: list[Record] = []
        self.used_ms: set[int] = set()
        self.device = self.fleet.device("queries")

    def teardown(self) -> None:
        self.fleet.remove(self.device.id)

    # -- requests

    def call(self, method: str, **kwargs):
        return self.fleet.client.request(
            method, "/data", token=self.device.token, token_kind="device-full", **kwargs
        )

    def get(self, params):
        reply = self.call("GET", params=params)
        assert reply.verdict.succeeded, reply.said
        return reply.result

    def eventually(self, check) -> None:
        """Poll a read until it agrees with the model (deletes may be slow to show)."""
        deadline = time.monotonic() + (0 if self.fleet.target.embedded else DELETE_VISIBLE_WITHIN)
        while True:
            try:
                check()
                return
            except AssertionError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)

    # -- the model

    def timed(self, variables=None, groups=None) -> list[Record]:
        chosen = [r for r in self.model if r.time_ms is not None]
        if variables:
            chosen = [r for r in chosen if r.variable in variables]
        if groups:
            chosen = [r for r in chosen if r.group in groups]
        return sorted(chosen, key=lambda r: r.time_ms)

    # -- rules that change data

    @initialize(target=records)
    def first_record(self):
        return self._post([("temp", 1, "g1", 0, None)])[0]

    @rule(
        target=records,
        batch=st.lists(
            st.tuples(
                st.sampled_from(VARIABLES),
                st.one_of(
                    st.integers(-1000, 1000), st.floats(-1000, 1000).map(lambda f: round(f, 2))
                ),
                st.sampled_from(GROUPS),
                st.integers(0, 86_000),
                st.one_of(st.none(), st.tuples(st.floats(-90, 90), st.floats(-180, 180))),
            ),
            min_size=1,
            max_size=4,
        ),
    )
    def post(self, batch):
        made = self._post(batch)
        return made[0]

    def _post(self, batch) -> list[Record]:
        body, made = [], []
        for variable, value, group, second, where in batch:
            ms = int((BASE + timedelta(seconds=second)).timestamp() * 1000)
            while ms in self.used_ms:
                ms += 1
            self.used_ms.add(ms)
            record = {"variable": variable, "value": value, "group": group, "time": iso(ms)}
            location = None
            if where is not None and variable == "pos":
                record["location"] = {"lat": where[0], "lng": where[1]}
                location = [where[1], where[0]]
            body.append(record)
            made.append(Record(None, variable, value, group, ms, location))
        self.fleet.need(self.call("POST", json=body), "post the model's records")
        for record in made:
            found = self.get(
                {
                    "variables": record.variable,
                    "start_date": iso(record.time_ms),
                    "end_date": iso(record.time_ms),
                    "qty": 1,
                }
            )
            assert len(found) == 1, f"a record sent at {iso(record.time_ms)} was not stored"
            record.id = found[0]["id"]
        self.model += made
        return made

    @rule(count=st.integers(1, 3))
    def post_without_time(self, count):
        body = [{"variable": "recent", "value": i} for i in range(count)]
        self.fleet.need(self.call("POST", json=body), "post records without a time")
        self.model += [Record(None, "recent", i, "", None) for i in range(count)]

    @rule(record=records, value=st.integers(-1000, 1000))
    def edit(self, record, value):
        reply = self.call("PUT", json=[{"id": record.id, "value": value}])
        assert reply.verdict.succeeded, reply.said
        live = record in self.model
        assert said_count(reply.result) in (None, int(live)), f"PUT said {reply.result!r}"
        record.value = value

    @rule(record=consumes(records))
    def delete_by_id(self, record):
        reply = self.call("DELETE", params={"ids": record.id})
        live = record in self.model
        assert reply.verdict.succeeded, reply.said
        assert said_count(reply.result) in (None, int(live)), f"DELETE said {reply.result!r}"
        if live:
            self.model.remove(record)
        self.eventually(lambda: self._check_count({"ids": record.id}, 0))

    @rule(variable=st.sampled_from(VARIABLES))
    def delete_last_item(self, variable):
        timed = self.timed([variable])
        reply = self.call("DELETE", params={"variables": variable, "query": "last_item", **WINDOW})
        assert reply.verdict.succeeded, reply.said
        assert said_count(reply.result) in (None, 1 if timed else 0), f"said {reply.result!r}"
        if timed:
            self.model.remove(timed[-1])
        self.eventually(
            lambda: self._check_count(
                {"variables": variable, **WINDOW}, len(self.timed([variable]))
            )
        )

    # -- rules that read and compare

    def _check_count(self, params, expected: int) -> None:
        got = self.get({**params, "query": "count"})
        assert got == expected, f"count {params}: target {got}, model {expected}"

    @rule(
        variables=st.lists(st.sampled_from(VARIABLES), min_size=0, max_size=3, unique=True),
        groups=st.lists(st.sampled_from(GROUPS), max_size=2, unique=True),
        qty=st.one_of(st.none(), st.integers(1, 20)),
        skip=st.integers(0, 5),
        ascending=st.booleans(),
        style=st.sampled_from(ARRAY_STYLES),
    )
    def list_records(self, variables, groups, qty, skip, ascending, style):
        params = [
            *array_param("variables", variables, style),
            *array_param("groups", groups, style),
        ]
        params += [*WINDOW.items(), ("skip", str(skip))]
        params.append(("ordination", "ascending" if ascending else "descending"))
        if qty is not None:
            params.append(("qty", str(qty)))
        expected = self.timed(variables, groups)
        expected = expected if ascending else expected[::-1]
        expected = expected[skip : skip + (qty if qty is not None else 15)]
        got = self.get(params)
        assert [r["id"] for r in got] == [r.id for r in expected], f"GET /data {params}"
        for returned, record in zip(got, expected, strict=True):
            assert returned["variable"] == record.variable and returned["value"] == record.value
            assert returned["group"] == record.group

    @rule(record=records)
    def by_id_and_by_value(self, record):
        live = record in self.model
        got = self.get({"ids": record.id, **WINDOW})
        assert [r["id"] for r in got] == ([record.id] if live else []), f"ids={record.id}"
        text = json.dumps(record.value)
        params = [("values", text), ("variables", record.variable), ("qty", "100"), *WINDOW.items()]
        expected = [r.id for r in self.timed([record.variable]) if json.dumps(r.value) == text]
        got = self.get(params)
        assert [r["id"] for r in got] == expected[::-1], f"values={text}"

    @rule(variables=st.lists(st.sampled_from(VARIABLES), max_size=2, unique=True))
    def count(self, variables):
        self._check_count({"variables": variables, **WINDOW}, len(self.timed(variables)))

    @rule()
    def count_recent_with_a_relative_date(self):
        recent = sum(1 for r in self.model if r.time_ms is None)
        self._check_count({"variables": "recent", "start_date": "1 day"}, recent)

    @rule(variable=st.sampled_from(VARIABLES), kind=st.sampled_from(["last_item", "last_value"]))
    def last(self, variable, kind):
        timed = self.timed([variable])
        got = self.get({"variables": variable, "query": kind, **WINDOW})
        assert [r["id"] for r in got] == ([timed[-1].id] if timed else []), f"{kind} {variable}"

    @rule()
    def last_location(self):
        located = [r for r in self.timed() if r.location is not None]
        got = self.get({"query": "last_location", **WINDOW})
        if not located:
            assert got == []
            return
        assert [r["id"] for r in got] == [located[-1].id]
        assert got[0]["location"] == {"type": "Point", "coordinates": located[-1].location}

    @rule(variable=st.sampled_from(VARIABLES), kind=st.sampled_from(["min", "max"]))
    def extreme(self, variable, kind):
        timed = self.timed([variable])
        got = self.get({"variables": variable, "query": kind, **WINDOW})
        if not timed:
            assert got == []
            return
        best = (min if kind == "min" else max)(r.value for r in timed)
        assert len(got) == 1 and got[0]["value"] == best, f"{kind} {variable}"

    @rule(variable=st.sampled_from(VARIABLES), kind=st.sampled_from(["sum", "avg"]))
    def statistic(self, variable, kind):
        values = [r.value for r in self.timed([variable])]
        got = self.get({"variables": variable, "query": kind, **WINDOW})
        expected = sum(values) if kind == "sum" else (sum(values) / len(values) if values else 0)
        assert isinstance(got, int | float), f"{kind} returned {got!r}"
        assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-6), f"{kind} {variable}"


def test_queries_agree_with_the_model(fleet):
    """GET /data answers its documented filters and queries as a model of the device's data says,
    after POST, PUT and DELETE /data (facts 3) [C]."""
    DeviceData.fleet = fleet
    # Each example is a fresh device and a dozen steps: a third of the profile's example count.
    examples = max(3, settings.default.max_examples // 3)
    run_state_machine_as_test(
        DeviceData,
        settings=settings(settings.default, max_examples=examples, stateful_step_count=12),
    )
