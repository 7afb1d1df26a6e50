"""The run second by second, and who was the limit: the generator or the target.

Each second the load generator notes how many reports were due and how many went out, how late
they went out, their latency, errors, and its own CPU. If it cannot keep up (lateness grows, CPU
above 90 %), the run says the generator was the limit, so a slow generator is never reported as a
slow target.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CPU_LIMIT = 90.0
LATE_MS = 100.0


@dataclass(frozen=True)
class Sample:
    t: float
    users: int
    cpu: float
    offered: float
    """Reports due per second."""
    achieved: float
    """Answers per second."""
    errors: int
    lateness_p99_ms: float
    corrected_p99_ms: float
    service_p99_ms: float


class Timeline:
    def __init__(self, path: Path | None = None) -> None:
        self.samples: list[Sample] = []
        self.path = path

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)
        if self.path is not None:
            with self.path.open("a") as log:
                log.write(json.dumps(asdict(sample)) + "\n")

    def limit(self) -> dict[str, Any]:
        """Which side limited the run, and the evidence."""
        steady = self.samples[2:] or self.samples  # the first seconds are ramp-up
        if not steady:
            return {"limit": "unknown", "why": "no samples"}
        busy = sum(s.cpu >= CPU_LIMIT for s in steady) / len(steady)
        third = max(1, len(steady) // 3)
        early = statistics.median(s.lateness_p99_ms for s in steady[:third])
        late = statistics.median(s.lateness_p99_ms for s in steady[-third:])
        offered = sum(s.offered for s in steady)
        achieved = sum(s.achieved for s in steady)
        ratio = achieved / offered if offered else 1.0
        evidence = {
            "generator_cpu_busy_share": round(busy, 3),
            "lateness_p99_ms_first_third": round(early, 1),
            "lateness_p99_ms_last_third": round(late, 1),
            "achieved_over_offered": round(ratio, 4),
        }
        if busy > 0.2:
            why = (
                f"the generator's CPU was at {CPU_LIMIT:g} % or more in {busy:.0%} of seconds; "
                f"schedule lateness p99 went from {early:.0f} to {late:.0f} ms"
            )
            return {"limit": "generator", "why": why, **evidence}
        if (late > LATE_MS and late > 2 * early) or ratio < 0.95:
            why = (
                f"the generator had CPU to spare, yet reports went out up to {late:.0f} ms late "
                f"and {ratio:.1%} of the offered rate was answered: the target's answers held "
                "the connections (more users would tell whether it can take more)"
            )
            return {"limit": "target", "why": why, **evidence}
        return {"limit": "none", "why": "the target kept up with the offered load", **evidence}
