"""Schemathesis hooks for what an OpenAPI document cannot state.

GET and DELETE /data (and /device/{id}/data) take query kinds that need other parameters [C]:
avg, sum, conditional and aggregate need a start_date within a month of the end, and `function`
means what the query kind makes it [OAS]: aggregate's avg|sum|min|max, conditional's
gt|gte|lt|lte|eq|ne with a value.
A schema of one parameter cannot say so, so Schemathesis would send `query=avg` alone as a
*valid* request and call the 400 it gets a failure. This hook completes such positive cases as
the docs require; negative cases are left as generated, so what they break stays broken.

And a list of strings in a query string: every value on the wire is one (`fields=null` is the
list ["null"]; so is every filter[field]=value a text), so a "schema-violating" value there cannot
be told from a valid one by any server. A request whose only violations are such values says
nothing about the target and its finding is dropped. No other finding is.

Loading these hooks also registers tagocheck's own checks (tagocheck.fuzz.checks): envelope,
result schema and token permission on every response.

Use: `SCHEMATHESIS_HOOKS=tagocheck.schemathesis_hooks st run ...`, or `tagocheck fuzz`.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation

from tagocheck.fuzz import checks  # noqa: F401  (registers tagocheck's checks with Schemathesis)
from tagocheck.spec.routes import route_table

NEEDS_START = {"avg", "sum", "conditional", "aggregate"}
COMPARISONS = {"gt", "gte", "lt", "lte", "eq", "ne"}
AGGREGATES = {"avg", "sum", "min", "max"}
DATA_PATHS = {"/data", "/device/{id}/data"}
# Query parameters whose every value on the wire is valid: lists of strings and filter[field]=text.
WIRE_STRINGS = {name for route in route_table() for name in route.array_params} | {"filter"}
NEGATIVE_DATA_ACCEPTED = "ST201"


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    meta = case.meta
    positive = meta is None or meta.generation.mode == GenerationMode.POSITIVE
    if not positive or case.operation.path not in DATA_PATHS or not isinstance(case.query, dict):
        return case
    kind = case.query.get("query")
    if kind in NEEDS_START:
        case.query["start_date"] = "1 day"
        case.query.pop("end_date", None)
    function = case.query.get("function")
    if kind == "conditional":
        if function not in COMPARISONS:
            case.query["function"] = function = "eq"
        if function not in ("eq", "ne") and not _is_number(case.query.get("value")):
            case.query["value"] = "1"  # gt, gte, lt and lte compare numbers
        case.query.setdefault("value", "1")
    elif function is not None and function not in AGGREGATES:
        case.query.pop("function")  # a comparison means nothing to another query kind
    return case


def _is_number(text: Any) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    if failure.code != NEGATIVE_DATA_ACCEPTED or case.meta is None:
        return True
    data = case.meta.phase.data
    negated = [(m.parameter_location, m.parameter) for m in getattr(data, "mutations", ())]
    if not negated:
        negated = [(getattr(data, "parameter_location", None), getattr(data, "parameter", None))]
    return not all(
        where == ParameterLocation.QUERY and name in WIRE_STRINGS for where, name in negated
    )
