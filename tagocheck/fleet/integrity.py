"""Integrity: every acknowledged report is stored, once.

Every report's records carry a `group` naming the run and the report (`<run tag>_<swarm>_<seq>`),
so the records a target returns can be traced back to the report that sent them. For a sample of
devices (all of them in small fleets) the observer keeps which reports were acknowledged; at the
end the target's records of those devices are read back and reconciled report by report. Counting
alone could not tell a lost record from one in flight at the stop, and a device that lost one
record and had another stored twice would look whole.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

GROUP_PREFIX = "tc"
SAMPLE = 2000
"""Devices reconciled by default (--integrity-devices): each is read back at the end."""


def run_tag() -> str:
    """A tag for one run's groups: records a device stored in earlier runs are told apart."""
    return GROUP_PREFIX + secrets.token_hex(3)


GROUP_SEPARATOR = "_"
"""Between a group's parts. TagoTiP takes a group of [a-z0-9_] only (TagoTiP §14), so with this
one form a report's group is the same on every path, REST or TagoTiP."""


def swarm_tag(run: str, swarm: int) -> str:
    """The groups of one swarm of a run (a web UI run may start several)."""
    return f"{run}{GROUP_SEPARATOR}{swarm}"


def run_prefix(run: str) -> str:
    """What every group of the run starts with, and no group of another run."""
    return run + GROUP_SEPARATOR


def report_group(swarm_tag: str, sequence: int) -> str:
    return f"{swarm_tag}{GROUP_SEPARATOR}{sequence}"


def traced_devices(fleet_size: int, sample: int) -> list[int]:
    """The devices whose reports are traced: every device when the fleet has at most `sample`,
    else a fixed random sample (the same in every process, so workers need not be told)."""
    if fleet_size <= sample:
        return list(range(fleet_size))
    return sorted(random.Random(0).sample(range(fleet_size), max(0, sample)))


@dataclass
class DeviceIntegrity:
    """One device's reports reconciled: records, except `reports_*`."""

    reports_acknowledged: int = 0
    stored: int = 0
    lost: int = 0
    """Records an acknowledged report sent that the target does not return."""
    duplicated: int = 0
    """Records returned more than once for one report."""
    stored_not_acknowledged: int = 0
    """Records stored from reports never acknowledged: in flight at the stop, or answered with
    an error after the write."""
    duplicated_by_retry: int = 0
    """Records stored more than once for a report the device sent again after an attempt the
    target may have stored (no answer, or a 5xx): the retries' doing, not the target's."""
    backfilled_checked: int = 0
    """Records of buffered readings whose stored time was read back."""
    time_changed: int = 0
    """Of those, records stored with another time than the reading's own."""
    out_of_order: int = 0
    """Readings stored with a time before that of a reading the device measured earlier."""

    def add(self, other: DeviceIntegrity) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


def reconcile(
    acknowledged: Iterable[str],
    stored_groups: Counter[str],
    records_per_report: int,
    resent: Mapping[str, int] | None = None,
) -> DeviceIntegrity:
    """Compare the groups of acknowledged reports with the records stored per group.

    `resent`: group -> attempts the target may have stored before the device sent the report
    again. Up to that many extra copies are the retries'; beyond them, the target's.
    """
    acked = set(acknowledged)
    resent = resent or {}
    found = DeviceIntegrity(reports_acknowledged=len(acked), stored=sum(stored_groups.values()))
    for group in acked:
        found.lost += max(0, records_per_report - stored_groups.get(group, 0))
    for group, count in stored_groups.items():
        extra = max(0, count - records_per_report)
        copies = resent.get(group, 0) + (group in acked) - 1
        by_retry = min(extra, max(0, copies) * records_per_report)
        found.duplicated_by_retry += by_retry
        found.duplicated += extra - by_retry
        if group not in acked:
            found.stored_not_acknowledged += min(count, records_per_report)
    return found


def check_times(
    found: DeviceIntegrity, measured: Mapping[str, float], stored: Iterable[tuple[str, int]]
) -> None:
    """Buffered readings against their stored records (group, time in ms): each must keep the
    time it was measured at, and no reading may be stored before one measured earlier."""
    by_time = []
    for group, moment in stored:
        if group in measured:
            found.backfilled_checked += 1
            found.time_changed += abs(moment - round(measured[group] * 1000)) > 1
        by_time.append((moment, sequence_of(group)))
    latest = -1
    for _, sequence in sorted(by_time):
        if sequence < latest:
            found.out_of_order += 1
        latest = max(latest, sequence)


def sequence_of(group: str) -> int:
    """The report's sequence, the last part of its group."""
    return int(group.rpartition(GROUP_SEPARATOR)[2])


def summarise(
    per_device: dict[str, DeviceIntegrity], *, fleet_size: int, unanswered: int
) -> dict[str, Any]:
    """The run's integrity section: totals, and the devices that lost or duplicated most."""
    total = DeviceIntegrity()
    for found in per_device.values():
        total.add(found)
    worst = sorted(
        (
            {"device": device, **asdict(found)}
            for device, found in per_device.items()
            if found.lost or found.duplicated or found.time_changed or found.out_of_order
        ),
        key=lambda row: -(row["lost"] + row["duplicated"] + row["time_changed"]),
    )
    return {
        "devices_checked": len(per_device),
        "devices_in_fleet": fleet_size,
        **asdict(total),
        "unanswered": unanswered,
        "worst": worst[:20],
    }


def problems(section: dict[str, Any]) -> list[str]:
    """What the integrity section holds against the target: each fails the run."""
    found = []
    if section.get("lost"):
        found.append(f"{section['lost']:,} acknowledged records were lost")
    if section.get("duplicated"):
        found.append(f"{section['duplicated']:,} records were stored more than once")
    if section.get("time_changed"):
        found.append(
            f"{section['time_changed']:,} of {section['backfilled_checked']:,} backfilled "
            "records were stored with another time than the reading's own"
        )
    if section.get("out_of_order"):
        found.append(
            f"{section['out_of_order']:,} readings were stored with a time before one measured "
            "earlier"
        )
    if section.get("acknowledgements_miscounted"):
        found.append(
            f"{section['acknowledgements_miscounted']:,} acknowledgements miscounted the records "
            "sent"
        )
    return found
