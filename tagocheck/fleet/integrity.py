"""Integrity: every acknowledged report is stored, once.

Every report's records carry a `group` naming the run and the report (`<run tag>.<swarm>.<seq>`),
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
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

GROUP_PREFIX = "tc"
SAMPLE = 2000
"""Devices reconciled by default (--integrity-devices): each is read back at the end."""


def run_tag() -> str:
    """A tag for one run's groups: records a device stored in earlier runs are told apart."""
    return GROUP_PREFIX + secrets.token_hex(3)


def report_group(swarm_tag: str, sequence: int) -> str:
    return f"{swarm_tag}.{sequence}"


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

    def add(self, other: DeviceIntegrity) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


def reconcile(
    acknowledged: Iterable[str], stored_groups: Counter[str], records_per_report: int
) -> DeviceIntegrity:
    """Compare the groups of acknowledged reports with the records stored per group."""
    acked = set(acknowledged)
    found = DeviceIntegrity(reports_acknowledged=len(acked), stored=sum(stored_groups.values()))
    for group in acked:
        found.lost += max(0, records_per_report - stored_groups.get(group, 0))
    for group, count in stored_groups.items():
        found.duplicated += max(0, count - records_per_report)
        if group not in acked:
            found.stored_not_acknowledged += min(count, records_per_report)
    return found


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
            if found.lost or found.duplicated
        ),
        key=lambda row: -(row["lost"] + row["duplicated"]),
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
    if section.get("acknowledgements_miscounted"):
        found.append(
            f"{section['acknowledgements_miscounted']:,} acknowledgements miscounted the records "
            "sent"
        )
    return found
