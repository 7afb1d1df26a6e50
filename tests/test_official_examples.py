"""Every answer the facts file cites from an official source passes the checks: no violation,
and no finding at all, since a documented form is never a deviation from itself.

Each example is written here from ../shared/tagoio-api-facts.md (the section is named), not
copied from the OpenAPI file, whose fixtures break its own rules (facts section 6).
"""

from __future__ import annotations

import pytest

from tagocheck.judge import checks

ID = "6010ea3cb1f2e10012c7a4d1"
TOKEN = "2b1f0e8c-5a6d-4c3b-9e7f-0a1b2c3d4e5f"
RECORD = {
    "id": ID,
    "device": ID,
    "variable": "temperature",
    "value": 21.5,
    "time": "2021-09-16T17:51:43.672Z",
}

# (source, method, path, status, body, query)
OFFICIAL = [
    ("2: success", "GET", "/data", 200, {"status": True, "result": [RECORD]}, None),
    ("2: warning", "GET", "/data", 200, {"status": True, "result": [], "message": "note"}, None),
    (
        "2: failure, message at top",
        "GET",
        "/data",
        400,
        {"status": False, "message": "Invalid"},
        None,
    ),
    (
        "2: failure, message in result",
        "GET",
        "/data",
        400,
        {"status": False, "result": {"message": "Invalid"}},
        None,
    ),
    (
        "2: 401 Unauthorized",
        "GET",
        "/data",
        401,
        {"status": False, "message": "Unauthorized"},
        None,
    ),
    ("3: N Data Added", "POST", "/data", 200, {"status": True, "result": "2 Data Added"}, None),
    (
        "3: item(s) updated",
        "PUT",
        "/data",
        200,
        {"status": True, "result": "1 item(s) updated"},
        None,
    ),
    ("3: Data Removed", "DELETE", "/data", 200, {"status": True, "result": "1 Data Removed"}, None),
    ("3: count", "GET", "/data", 200, {"status": True, "result": 3}, {"query": ["count"]}),
    (
        "3: record without created_at (only with details=true)",
        "GET",
        "/data",
        200,
        {"status": True, "result": [RECORD]},
        None,
    ),
    (
        "6: location type point, lower case",
        "GET",
        "/data",
        200,
        {
            "status": True,
            "result": [{**RECORD, "location": {"type": "point", "coordinates": [-49.2, -25.4]}}],
        },
        None,
    ),
    (
        "4: create device, device_id, 201",
        "POST",
        "/device",
        201,
        {"status": True, "result": {"device_id": ID, "token": TOKEN}},
        None,
    ),
    (
        "4: create device, deviceID, 200",
        "POST",
        "/device",
        200,
        {"status": True, "result": {"deviceID": ID, "token": TOKEN}},
        None,
    ),
    (
        "4: device updated",
        "PUT",
        f"/device/{ID}",
        200,
        {"status": True, "result": "Successfully Updated"},
        None,
    ),
    (
        "4: device removed",
        "DELETE",
        f"/device/{ID}",
        200,
        {"status": True, "result": "Successfully Removed"},
        None,
    ),
    (
        "4: token removed",
        "DELETE",
        f"/device/token/{TOKEN}",
        200,
        {"status": True, "result": "Token Successfully Removed"},
        None,
    ),
    (
        "4: create token, expire_date",
        "POST",
        "/device/token",
        201,
        {"status": True, "result": {"token": TOKEN, "permission": "full", "expire_date": "never"}},
        None,
    ),
    (
        "6: device with description null and free-form tags",
        "GET",
        f"/device/{ID}",
        200,
        {
            "status": True,
            "result": {"id": ID, "name": "x", "description": None, "tags": [{"key": "a"}]},
        },
        None,
    ),
    (
        "5: 429",
        "GET",
        "/data",
        429,
        {"status": False, "message": "Too many requests (Retry-After: 17)"},
        None,
    ),
]


@pytest.mark.parametrize(
    ("source", "method", "path", "status", "body", "query"), OFFICIAL, ids=[o[0] for o in OFFICIAL]
)
def test_an_official_example_has_no_finding(source, method, path, status, body, query):
    verdict = checks.judge(method, path, status, body, query=query)
    assert verdict.findings == [], [str(f) for f in verdict.findings]
