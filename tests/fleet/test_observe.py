"""The fleet observer counts one exchange at a time; what conforms but departs from a documented
form is listed by kind, survives a worker's wire, and is stated in the verdict, never failed."""

from __future__ import annotations

import json

from tagocheck.fleet.observe import FleetObserver
from tagocheck.judge.exchange import Exchange


def test_departures_are_counted_carried_and_not_failures():
    observer = FleetObserver(60)
    for i, status in enumerate((200, 202, 202)):
        observer.observe(
            Exchange(
                method="POST",
                path="/data",
                status=status,
                body=b'{"status":true,"result":"1 Data Added"}',
                due=10.0 + i,
                sent_at=10.0 + i,
                answered_at=10.01 + i,
                device="1",
                records_sent=1,
            )
        )
    assert observer.failed == 0 and observer.nonconforming == 0
    assert observer.departures == {"deviation POST /data: status-code at /status": 2}
    copy = FleetObserver.from_wire(json.loads(json.dumps(observer.to_wire())))
    assert copy.summary()["departures"] == observer.summary()["departures"]


def test_the_verdict_states_departures_as_a_fact():
    from tagocheck.report import trouble_verdict

    facts: list[str] = []
    trouble_verdict.note_departures(
        {"departures": {"deviation POST /data: status-code at /status": 2}}, facts
    )
    assert facts == [
        "2 answers departed from a documented form without breaking a rule, most often "
        "deviation POST /data: status-code at /status (2)."
    ]
