"""GET and DELETE /data: the documented query parameters and query kinds, as SQL.

Parameters: variables (also variable; `v=a&v=b`, `v[]=a`, `v[0]=a`), groups, ids, values, qty
(default 15, at most 10,000), skip, ordination, start_date / end_date (ISO 8601 or relative such as
"1 day"), details, and query: count, min, max, avg, sum, last_/first_ item, value, location and
insert, conditional and aggregate. avg, sum, conditional and aggregate need a start_date and a range
of at most one month. `function` means what the query kind makes it [OAS]: aggregate's avg, sum,
min or max; conditional's gt, gte, lt, lte, eq or ne, compared with `value`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from tagocheck.server.records import days_later, iso_z, parse_moment_ms, record_out, seq_of
from tagocheck.server.store import DATA_COLUMNS

Query = Mapping[str, Sequence[str]]

DEFAULT_QTY = 15
MAX_QTY = 10_000
MAX_RANGE_DAYS = 31

# kind -> (order, extra condition, order column)
FIRST_LAST = {
    "last_item": ("DESC", None, "time_ms"),
    "last_value": ("DESC", "value IS NOT NULL", "time_ms"),
    "last_location": ("DESC", "location IS NOT NULL", "time_ms"),
    "last_insert": ("DESC", None, "created_ms"),
    "first_item": ("ASC", None, "time_ms"),
    "first_value": ("ASC", "value IS NOT NULL", "time_ms"),
    "first_location": ("ASC", "location IS NOT NULL", "time_ms"),
    "first_insert": ("ASC", None, "created_ms"),
}
NEEDS_START = {"avg", "sum", "conditional", "aggregate"}
KINDS = {"default", "count", "min", "max", *NEEDS_START, *FIRST_LAST}
INTERVALS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400, "month": 30 * 86400}
AGGREGATE_FUNCTIONS = {"avg": "AVG", "sum": "SUM", "min": "MIN", "max": "MAX", "count": "COUNT"}
"""count is this target's own addition: the sources list avg, sum, min and max."""
COMPARISONS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=", "ne": "!="}
"""query=conditional's functions [OAS]: gt..lte compare numbers, eq and ne a value."""


class BadQuery(ValueError):
    """A query the API documents as invalid; the message is what the client sees."""


@dataclass
class Selection:
    kind: str
    variables: list[str]
    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    order: str = "DESC"
    qty: int = DEFAULT_QTY
    skip: int = 0
    query: Query = field(default_factory=dict)

    def sql_where(self, extra: Sequence[str] = ()) -> str:
        clauses = [*self.where, *extra]
        return " WHERE " + " AND ".join(clauses) if clauses else ""


def _one(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _given(query: Query, name: str, default: str) -> str:
    """A parameter's value, the default only when it is absent: `query=` names no kind."""
    found = _one(query, name)
    return default if found is None else found


def _int(query: Query, name: str, default: int, low: int, high: int | None) -> int:
    raw = _one(query, name)
    if raw is None:
        return default
    if not re.fullmatch(r"-?[0-9]+", raw):
        raise BadQuery(f"{name} must be a whole number")
    number = int(raw)
    if high is None and number < low:
        raise BadQuery(f"{name} must be a whole number from {low}")
    if high is not None and not low <= number <= high:
        raise BadQuery(f"{name} must be from {low} to {high:,}")
    return number


def value_candidates(raw: str) -> list[str]:
    """A `values` filter matches a stored JSON value written either as a number or a string."""
    found = [orjson.dumps(raw).decode()]
    with contextlib.suppress(orjson.JSONDecodeError):
        found.append(orjson.dumps(orjson.loads(raw)).decode())
    return found


def select(query: Query, device: int | None, now: int) -> Selection:
    """Parse a query for a device (its key); None means every device (the cross-device fault)."""
    kind = _given(query, "query", "default")
    if kind not in KINDS:
        raise BadQuery(f"unknown query {kind!r}")
    variables = [v.lower() for name in ("variables", "variable") for v in query.get(name, ())]
    selection = Selection(kind=kind, variables=variables, query=query)
    if device is not None:
        selection.where.append("device = ?")
        selection.params.append(device)
    if variables:
        _in(selection, "variable", variables)
    if query.get("groups"):
        _in(selection, "grp", list(query["groups"]))
    if query.get("ids"):
        _in(selection, "seq", [seq_of(i) for i in query["ids"]])
    if query.get("values"):
        _in(selection, "value", [c for v in query["values"] for c in value_candidates(v)])
    start = _date(query, "start_date", now)
    end = _date(query, "end_date", now)
    if start is not None:
        selection.where.append("time_ms >= ?")
        selection.params.append(start)
    if end is not None:
        selection.where.append("time_ms <= ?")
        selection.params.append(end)
    if kind in NEEDS_START:
        if start is None:
            raise BadQuery(f"query={kind} needs a start_date")
        if days_later(start, MAX_RANGE_DAYS) < (end if end is not None else now):
            raise BadQuery(f"query={kind} takes a date range of at most one month")
    ordination = _given(query, "ordination", "descending")
    if ordination not in ("ascending", "descending"):
        raise BadQuery("ordination must be ascending or descending")
    selection.order = "ASC" if ordination == "ascending" else "DESC"
    selection.qty = _int(query, "qty", DEFAULT_QTY, 1, MAX_QTY)
    selection.skip = min(_int(query, "skip", 0, 0, None), 2**62)
    accepted = COMPARISONS if kind == "conditional" else AGGREGATE_FUNCTIONS
    given = _one(query, "function")
    if given is not None and given not in accepted:
        raise BadQuery(f"function must be one of {', '.join(accepted)} for query={kind}")
    boolean(query, "details")
    return selection


def boolean(query: Query, name: str) -> bool | None:
    """A boolean query parameter; None when absent."""
    raw = _one(query, name)
    if raw is None:
        return None
    # any case: the official Python SDK sends Python's True and False [SDK]
    if raw.lower() not in ("true", "false"):
        raise BadQuery(f"{name} must be true or false")
    return raw.lower() == "true"


def _in(selection: Selection, column: str, values: list[Any]) -> None:
    selection.where.append(f"{column} IN ({','.join('?' * len(values))})")
    selection.params.extend(values)


def _date(query: Query, name: str, now: int) -> int | None:
    raw = _one(query, name)
    if raw is None:
        return None
    moment = parse_moment_ms(raw, now)
    if moment is None:
        raise BadQuery(f"{name} must be an ISO 8601 date or a relative time such as '1 day'")
    return moment


Rows = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
DeviceIds = Mapping[int, str]


def run(selection: Selection, rows: Rows, device_ids: DeviceIds) -> Any:
    """The result of GET /data for a selection: records, or a bare number."""
    kind = selection.kind
    base = f"SELECT {DATA_COLUMNS} FROM data"
    if kind == "count":
        return rows(f"SELECT COUNT(*) FROM data{selection.sql_where()}", selection.params)[0][0]
    if kind in ("avg", "sum"):
        sql = f"SELECT {kind.upper()}(num) FROM data{selection.sql_where(['num IS NOT NULL'])}"
        return whole(rows(sql, selection.params)[0][0] or 0)
    if kind == "aggregate":
        return _aggregate(selection, rows)
    if kind in FIRST_LAST or kind in ("min", "max"):
        return [record_out(r, device_ids) for r in _singles(selection, rows, base)]
    extra, extra_params = _conditional(selection) if kind == "conditional" else ([], [])
    sql = (
        f"{base}{selection.sql_where(extra)} ORDER BY time_ms {selection.order}, "
        f"seq {selection.order} LIMIT ? OFFSET ?"
    )
    found = rows(sql, [*selection.params, *extra_params, selection.qty, selection.skip])
    return [record_out(r, device_ids) for r in found]


def selected_seqs(selection: Selection, rows: Rows, device_ids: DeviceIds) -> list[int]:
    """The records DELETE /data removes: what GET would list for the same query."""
    if selection.kind not in FIRST_LAST and selection.kind not in ("default", "conditional"):
        raise BadQuery(f"query={selection.kind} cannot select data to delete")
    return [seq_of(r["id"]) for r in run(selection, rows, device_ids)]


def _singles(selection: Selection, rows: Rows, base: str) -> list[tuple[Any, ...]]:
    """One record per variable asked for (or one overall) for first_*, last_*, min and max."""
    if selection.kind in FIRST_LAST:
        order, condition, column = FIRST_LAST[selection.kind]
    else:
        order, condition, column = (
            ("ASC" if selection.kind == "min" else "DESC"),
            "num IS NOT NULL",
            "num",
        )
    extra = [condition] if condition else []
    found = []
    for variable in selection.variables or [None]:
        where = [*extra, "variable = ?"] if variable is not None else extra
        params = [*selection.params, *([variable] if variable is not None else [])]
        sql = f"{base}{selection.sql_where(where)} ORDER BY {column} {order}, seq {order} LIMIT 1"
        found.extend(rows(sql, params))
    return found


SAFE_INTEGER = 2**53
"""Past it a float's whole value is not exact, and JSON numbers are doubles: it stays a float."""


def whole(number: float) -> int | float:
    """A statistic as JSON writes it: a whole number without a fraction (`135`, not `135.0`), as
    a Node-based API's JSON does."""
    if isinstance(number, float) and number.is_integer() and abs(number) <= SAFE_INTEGER:
        return int(number)
    return number


def _conditional(selection: Selection) -> tuple[list[str], list[Any]]:
    function = _one(selection.query, "function")
    raw = _one(selection.query, "value")
    if function not in COMPARISONS or raw is None:
        raise BadQuery(f"query=conditional needs value and function ({', '.join(COMPARISONS)})")
    operator = COMPARISONS[function]
    if function in ("eq", "ne"):
        candidates = value_candidates(raw)
        negate = "NOT " if function == "ne" else ""
        return [f"value {negate}IN ({','.join('?' * len(candidates))})"], candidates
    try:
        number = float(raw)
    except ValueError:
        raise BadQuery(f"query=conditional with function={function} compares numbers") from None
    return [f"num {operator} ?"], [number]


def _aggregate(selection: Selection, rows: Rows) -> list[dict[str, Any]]:
    function = _one(selection.query, "function") or "avg"
    interval = _one(selection.query, "interval") or "hour"
    if function not in AGGREGATE_FUNCTIONS or interval not in INTERVALS:
        raise BadQuery(
            f"query=aggregate takes function ({', '.join(AGGREGATE_FUNCTIONS)}) "
            f"and interval ({', '.join(INTERVALS)})"
        )
    bucket = INTERVALS[interval] * 1000
    sql = (
        f"SELECT variable, (time_ms / {bucket}) * {bucket} AS slot, "
        f"{AGGREGATE_FUNCTIONS[function]}(num) FROM data"
        f"{selection.sql_where(['num IS NOT NULL'])} GROUP BY variable, slot "
        f"ORDER BY slot {selection.order}, variable LIMIT ? OFFSET ?"
    )
    found = rows(sql, [*selection.params, selection.qty, selection.skip])
    return [{"variable": v, "value": whole(value), "time": iso_z(slot)} for v, slot, value in found]
