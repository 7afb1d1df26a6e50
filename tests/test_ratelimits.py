"""The plans cover every route, match the facts file's table, and parse the 429 contract."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tagocheck.spec import ratelimits, routes, schemas

LIMITS = ratelimits.rate_limits()
TABLE = routes.route_table()
ROOT = Path(__file__).resolve().parents[1]
FACTS = ROOT.parent / "shared" / "tagoio-api-facts.md"
needs_facts = pytest.mark.skipif(not FACTS.exists(), reason=f"{FACTS} is not beside the repo")


def test_every_route_has_a_limit_or_says_none_is_documented():
    limited = LIMITS.limited_routes()
    undocumented = set(LIMITS.no_documented_limit)
    assert limited | undocumented == set(TABLE.ids)
    assert not limited & undocumented


def test_plans_and_device_caps():
    assert LIMITS.plans == ["free", "starter", "scale"]
    assert LIMITS.device_caps == {"free": 5, "starter": 100, "scale": 10000}
    assert LIMITS.window_seconds == 60


@pytest.mark.parametrize("plan", ["free", "starter", "scale"])
def test_every_row_has_a_figure_for_every_plan(plan):
    for row in LIMITS.limits:
        assert row.per_minute[plan] >= 1


def test_limits_for_requests():
    assert LIMITS.per_minute("free", "POST /data") == 250
    assert LIMITS.per_minute("starter", "GET /data") == 5000
    assert LIMITS.per_minute("scale", "DELETE /data") == 1000
    assert LIMITS.per_minute("free", "GET /data", {"query": "aggregate"}) == 5
    assert LIMITS.per_minute("free", "GET /data", {"query": "count"}) == 250
    assert LIMITS.per_minute("scale", "GET /info") == 10000
    assert LIMITS.per_minute("free", "GET /device/params") is None
    with pytest.raises(ratelimits.UnknownPlan):
        LIMITS.per_minute("gold", "POST /data")


def test_retry_after_is_read_from_the_documented_message():
    assert LIMITS.retry_after_from_message("Too many requests (Retry-After: 51)") == 51
    assert LIMITS.retry_after_from_message("Too many requests") is None
    assert LIMITS.retry_after_header == "Retry-After"
    assert schemas.is_valid(
        LIMITS.too_many_requests_body,
        {"status": False, "message": "Too many requests (Retry-After: 9)"},
    )


def test_soft_limit_keys_name_data_routes():
    assert LIMITS.device_soft_limit_keys == {
        "data_input": ["POST /data"],
        "data_output": ["GET /data"],
    }


def _facts_rows():
    """The hard-limits table of the facts file: (label, free, starter, scale)."""
    text = FACTS.read_text(encoding="utf-8")
    lines = text[text.index("Requests per minute") :].splitlines()[1:]
    table = [line for line in lines if line.startswith("|")]
    for line in table:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if re.fullmatch(r"[\d,]+", cells[1]):
            yield cells[0], *(int(c.replace(",", "")) for c in cells[1:])


def _normalise(route_or_label: str) -> str:
    """`DELETE /device/:id` and `DELETE /device/{id}` both become `DELETE /device/:`."""
    without_remark = re.sub(r"\s*\(.*\)$", "", route_or_label.strip())  # "GET /device (list)"
    return re.sub(r"\{[a-z_]+\}|:[a-z_]+", ":", without_remark)


@needs_facts
def test_the_plans_carry_the_facts_files_figures():
    rows = list(_facts_rows())
    assert len(rows) >= 12, rows  # every row with a figure for each plan
    ours = {}
    for row in LIMITS.limits:
        for route in row.routes:
            query = "".join(f"?{k}={v}" for k, v in row.query.items())
            ours[_normalise(route + query)] = tuple(row.per_minute[p] for p in LIMITS.plans)
    other = {
        _normalise(row["what"]): tuple(row["per_minute"][p] for p in LIMITS.plans)
        for row in json.loads((ROOT / "schemas" / "rate-limits.json").read_text())["other_limits"]
    }
    for label, free, starter, scale in rows:
        if label.startswith("POST /integration/network"):  # "(network ingest)": its data route
            label = "POST /integration/network/data"
        for route in label.split(", "):
            found = ours.get(_normalise(route)) or other.get(_normalise(route))
            assert found == (free, starter, scale), route


@needs_facts
def test_the_device_caps_are_the_facts_files():
    text = FACTS.read_text(encoding="utf-8")
    found = re.search(r"devices Free ([\d,]+) / Starter ([\d,]+) / Scale ([\d,]+)", text)
    assert found
    caps = [int(n.replace(",", "")) for n in found.groups()]
    assert [LIMITS.device_caps[p] for p in LIMITS.plans] == caps
