"""A short ingest round trip against the embedded target: what `tagocheck capacity` can run today.

It starts the target, provisions a handful of devices, posts records, reads them back, and judges
every response with the registry of checks. It is bounded (a few hundred requests) and stops the
target by its PID whatever happens.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests
from rich.console import Console
from rich.progress import Progress

from tagocheck import checks
from tagocheck.target.launcher import start_target

DEVICES = 10
REPORTS_PER_DEVICE = 20
RECORDS_PER_REPORT = 3


@dataclass
class Summary:
    devices: int = 0
    acknowledged: int = 0
    stored: int = 0
    responses: int = 0
    seconds: float = 0.0
    outcomes: Counter = field(default_factory=Counter)
    violations: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.violations and self.stored == self.acknowledged

    def describe(self) -> str:
        checked = ", ".join(f"{n} {o}" for o, n in sorted(self.outcomes.items()))
        broken = ", ".join(f"{n} {c}" for c, n in sorted(self.violations.items())) or "none"
        return (
            f"Embedded target round trip: {self.devices} devices, {self.responses} responses "
            f"({checked}) in {self.seconds:.1f} s; violations: {broken}; "
            f"records acknowledged {self.acknowledged}, stored {self.stored}."
        )


def ingest_round_trip(out: Console) -> Summary:
    summary = Summary()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tagocheck-demo-") as state:
        target = start_target(Path(state), "--plan", "unlimited")
        try:
            http = requests.Session()

            def call(method: str, path: str, token: str, kind: str, **kwargs) -> requests.Response:
                response = http.request(
                    method, target.url + path, headers={"Token": token}, timeout=10, **kwargs
                )
                verdict = checks.judge(
                    method,
                    path,
                    response.status_code,
                    response.content,
                    headers=response.headers,
                    token_kind=kind,
                    query=kwargs.get("params"),
                )
                summary.responses += 1
                summary.outcomes[verdict.outcome] += 1
                summary.violations.update(v.check for v in verdict.violations)
                return response

            with Progress(console=out, transient=True) as progress:
                task = progress.add_task("provisioning devices", total=DEVICES)
                tokens = []
                for i in range(DEVICES):
                    made = call(
                        "POST",
                        "/device",
                        target.profile_token,
                        "profile",
                        json={"name": f"demo-{i:02d}", "type": "mutable"},
                    )
                    tokens.append(made.json()["result"]["token"])
                    progress.advance(task)
                summary.devices = len(tokens)
                task = progress.add_task("posting reports", total=DEVICES * REPORTS_PER_DEVICE)
                for report in range(REPORTS_PER_DEVICE):
                    for token in tokens:
                        records = [
                            {"variable": "temperature", "value": 20 + report, "unit": "C"},
                            {"variable": "humidity", "value": 40},
                            {"variable": "battery", "value": 3.7},
                        ][:RECORDS_PER_REPORT]
                        sent = call("POST", "/data", token, "device-full", json=records)
                        if sent.ok:
                            summary.acknowledged += int(sent.json()["result"].split()[0])
                        progress.advance(task)
                task = progress.add_task("reading back", total=DEVICES)
                for token in tokens:
                    counted = call("GET", "/data", token, "device-full", params={"query": "count"})
                    summary.stored += counted.json()["result"]
                    progress.advance(task)
        finally:
            target.stop()
    summary.seconds = time.monotonic() - began
    return summary
