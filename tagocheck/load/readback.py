"""Integrity at a run's end: the traced devices' acknowledged reports against the records the
target returns when each device's are read back."""

from __future__ import annotations

import datetime
import time
from collections import Counter
from typing import Any

import gevent.pool

from tagocheck.fleet.integrity import check_times, reconcile, run_prefix, summarise
from tagocheck.fleet.model import Fleet
from tagocheck.fleet.observe import FleetObserver
from tagocheck.fleet.provision import ProvisionedDevice
from tagocheck.wire.client import TagoClient

READ_BACK_PAGE = 10_000
"""Records per GET /data when the integrity check reads a device's back: the documented most."""
AT_ONCE = 20
"""Devices read back at a time."""


def read_back(
    client: TagoClient,
    devices: list[ProvisionedDevice],
    traced: list[int],
    fleet: Fleet,
    observer: FleetObserver,
    *,
    run_tag: str,
    started_at: float,
) -> dict[str, Any]:
    """Every device when the fleet has at most --integrity-devices of them, else a fixed random
    sample (`traced`): the check reads each one's records back (one request per 10,000
    records), twenty devices at a time."""
    unanswered = 0
    prefix = run_prefix(run_tag)
    # records from before the run (a fleet file's devices may have years of them) are left
    # unread; an hour's margin for a target whose clock differs from ours
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_at - 3600))
    timed = bool(fleet.config.outages)  # readings carry the time they were measured

    def stored(index: int) -> tuple[int, Counter | None, list[tuple[str, int]]]:
        nonlocal unanswered
        groups: Counter = Counter()
        times: list[tuple[str, int]] = []
        skip = 0
        while True:
            try:
                reply = client.request(
                    "GET",
                    "/data",
                    token=devices[index].token,
                    token_kind="device-full",
                    params={"qty": READ_BACK_PAGE, "skip": skip, "start_date": since},
                    check=False,
                )
            except OSError:  # requests.RequestException: a target gone away: say so, go on
                unanswered += 1
                return index, None, times
            if not reply.ok or not isinstance(reply.result, list):
                unanswered += 1
                return index, None, times
            for record in reply.result:
                group = record.get("group") if isinstance(record, dict) else None
                if isinstance(group, str) and group.startswith(prefix):
                    groups[group] += 1
                    moment = _millis(record.get("time")) if timed else None
                    if moment is not None:
                        times.append((group, moment))
            if len(reply.result) < READ_BACK_PAGE:
                return index, groups, times
            skip += READ_BACK_PAGE

    acknowledged = observer.acknowledged_reports
    attempts = observer.attempts
    per_report = fleet.config.records_per_request
    per_device = {}
    for index, groups, times in gevent.pool.Pool(AT_ONCE).imap_unordered(stored, traced):
        if groups is not None:
            device, key = devices[index].id, str(index)
            found = reconcile(
                acknowledged.get(key, ()), groups, per_report, attempts.resent.get(key)
            )
            if timed:
                check_times(found, attempts.measured.get(key, {}), times)
            per_device[device] = found
    found = summarise(per_device, fleet_size=len(fleet), unanswered=unanswered)
    found["acknowledged"] = sum(observer.acknowledged.values())
    found["acknowledgements_miscounted"] = observer.miscounted
    found["count_not_understood"] = observer.count_not_understood
    return found


def _millis(value: Any) -> int | None:
    """A stored record's ISO 8601 time in ms since the epoch; None when it is none."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return round(moment.timestamp() * 1000)
