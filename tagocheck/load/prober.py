"""The Locust user of the `ratelimit` scenario: sends each probe when it is due and records the
answer in the ledger under the limit it drives."""

from __future__ import annotations

import time

import gevent
import orjson
from locust import constant, task

from tagocheck.fleet.probes import ProbeSchedule, Shot
from tagocheck.judge import checks
from tagocheck.judge.exchange import Exchange
from tagocheck.load import shard as this_process
from tagocheck.load.gateway import TimedUser, failure_label
from tagocheck.load.shard import IDLE_SECONDS
from tagocheck.wire import transport


class Prober(TimedUser):
    wait_time = constant(0)

    @task
    def probe(self) -> None:
        shard = this_process.current
        taken = shard.wait_for_due() if shard is not None else None
        if taken is None or not isinstance(taken[0], ProbeSchedule):
            gevent.sleep(IDLE_SECONDS)
            return
        self.send(shard, *taken)

    def params(self, probe) -> dict | None:
        """The probe's query, with _ssl=false where the run sends it."""
        if getattr(self.environment.parsed_options, "ssl_false", False):
            return {**(probe.params or {}), "_ssl": "false"}
        return probe.params or None

    def send(self, shard: this_process.Shard, schedule: ProbeSchedule, shot: Shot) -> None:
        probe = schedule.probes[shot.probe]
        headers = {"Token": probe.token}
        if probe.body is not None:
            headers["Content-Type"] = "application/json"
        shard.request_sent()
        sent = time.time()
        try:
            with self.client.request(
                probe.method,
                probe.path,
                params=self.params(probe),
                data=orjson.dumps(probe.body) if probe.body is not None else None,
                headers=headers,
                name=probe.label
                + (f" (device {probe.device})" if probe.device is not None else ""),
                catch_response=True,
            ) as response:
                answered = time.time()
                error = response.error if response.status_code == 0 else None
                verdict = shard.observer.observe(
                    Exchange(
                        method=probe.method,
                        path=probe.path,
                        status=response.status_code or 0,
                        body=response.content or b"",
                        due=shot.due,
                        sent_at=sent,
                        answered_at=answered,
                        device=str(probe.device) if probe.device is not None else None,
                        token_kind=probe.token_kind,
                        transport_error=transport.cause(error, self.network_timeout)
                        if error
                        else None,
                        ledger_route=probe.label,
                        query=probe.params,
                        headers=response.headers if response.status_code == 429 else None,
                    )
                )
                # 429s are what this scenario is after: they are failures only when the ledger
                # says they came early, which it can tell only per window, at the end.
                if verdict.ok and verdict.outcome in (checks.ACCEPTED, checks.RATE_LIMITED):
                    response.success()
                else:
                    response.failure(failure_label(verdict))
        finally:
            shard.request_done()
