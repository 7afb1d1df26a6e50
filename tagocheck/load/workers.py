"""A distributed run's Locust workers as the master sees them: how long a silent one is waited
for, and whether the test stopped because every one went missing."""

from __future__ import annotations

from typing import Any

import locust.runners
from locust.runners import MasterRunner

LIVENESS = 15
"""Heartbeats (one a second) a worker may miss before the master calls it missing. Locust's own
3 is too short for a generator that shares its machine: in CI, all four workers of a run
building their shards on a busy 2-core machine "went missing" 3.6 s after their spawn jobs, and
the master stopped the test before a report was sent. A worker that really died is now noticed
after about 16 s instead of 4."""


def wait_longer_for_workers() -> None:
    """Locust reads the figure each time it (re)arms a worker's count: set before any arrives."""
    locust.runners.HEARTBEAT_LIVENESS = max(locust.runners.HEARTBEAT_LIVENESS, LIVENESS)


def workers_lost(runner: Any) -> str | None:
    """Why the test stopped, when Locust's master stopped it for want of workers; else None."""
    if not isinstance(runner, MasterRunner) or runner.worker_count > 0:
        return None
    missing = runner.clients.missing
    if not missing:
        return None
    return (
        f"every Locust worker went missing ({len(missing)} sent no heartbeat for "
        f"{locust.runners.HEARTBEAT_LIVENESS + 1} s) and Locust's master stopped the test: "
        "the load generator failed, not the target"
    )
