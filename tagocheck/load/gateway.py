"""The Locust user of the fleet scenarios: a gateway (one connection) sending whichever of this
process's devices' reports is due next.

Gateways take due reports from the shard's schedule (Shard.wait_for_due). Every answer goes to
the shard's observer, which judges it with the registry of checks; Locust's stats show each class
that is not "accepted" as a failure with its reason.
"""

from __future__ import annotations

import random
import time

import gevent
import orjson
from locust import FastHttpUser, constant, task

from tagocheck import checks
from tagocheck.fleet.httpclient import patch_connection_pool
from tagocheck.fleet.payloads import PROFILES
from tagocheck.fleet.schedule import Report
from tagocheck.load import shard as this_process
from tagocheck.load.shard import IDLE_SECONDS

patch_connection_pool()  # keep-alive must survive past 1,024 open sockets


def failure_label(verdict: checks.Verdict) -> str:
    """How a response that was not plainly accepted shows in Locust's failures table."""
    checks_broken = ", ".join(sorted({v.check for v in verdict.violations}))
    reason = verdict.message or checks_broken or ""
    return (f"{verdict.outcome} {verdict.status}" + (f": {reason}" if reason else ""))[:200]


class Gateway(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.rng = random.Random()

    @task
    def report(self) -> None:
        shard = this_process.current
        taken = shard.wait_for_due() if shard is not None else None
        if taken is None:
            gevent.sleep(IDLE_SECONDS)
            return
        self.send(shard, taken[1])

    def send(self, shard: this_process.Shard, report: Report) -> None:
        config = shard.fleet.config
        records = PROFILES[config.payload](
            self.rng, report.device, report.sequence, config.records_per_request
        )
        headers = {
            "Device-Token": shard.fleet.tokens[report.device],
            "Content-Type": "application/json",
        }
        if config.connection == "per-report":
            headers["Connection"] = "close"
        shard.in_flight += 1
        sent = time.time()
        try:
            with self.client.post(
                "/data",
                data=orjson.dumps(records),
                headers=headers,
                name="POST /data",
                catch_response=True,
            ) as response:
                answered = time.time()
                error = response.error if response.status_code == 0 else None
                verdict = shard.observer.observe(
                    method="POST",
                    path="/data",
                    status=response.status_code or 0,
                    body=response.content or b"",
                    due=report.due,
                    sent_at=sent,
                    answered_at=answered,
                    device=str(report.device),
                    transport_error=type(error).__name__ if error else None,
                )
                if verdict.outcome == checks.ACCEPTED and verdict.ok:
                    response.success()
                else:
                    response.failure(failure_label(verdict))
        finally:
            shard.in_flight -= 1
