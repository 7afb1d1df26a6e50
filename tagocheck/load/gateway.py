"""The Locust user of the fleet scenarios: a gateway (one connection) sending whichever of this
process's devices' reports is due next.

Gateways take due reports from the shard's schedule (Shard.wait_for_due). Every answer goes to
the shard's observer, which judges it with the registry of checks; Locust's stats show each class
that is not "accepted" as a failure with its reason.
"""

from __future__ import annotations

import functools
import os
import random
import time

import gevent
import gevent.ssl
import orjson
from geventhttpclient.url import URL
from locust import FastHttpUser, constant, task
from locust.exception import CatchResponseError

from tagocheck import checks, transport
from tagocheck.exchange import Exchange
from tagocheck.fleet.httpclient import patch_connection_pool
from tagocheck.fleet.integrity import report_group
from tagocheck.fleet.payloads import PROFILES
from tagocheck.fleet.schedule import Report
from tagocheck.load import shard as this_process
from tagocheck.load.shard import IDLE_SECONDS

patch_connection_pool()  # keep-alive must survive past 1,024 open sockets


def failure_label(verdict: checks.Verdict) -> str:
    """How a response that was not plainly accepted shows in Locust's failures table."""
    if verdict.outcome == checks.TRANSPORT_ERROR:  # no status: the cause is the exception
        return f"{verdict.outcome}: {verdict.message}"
    checks_broken = ", ".join(sorted({v.check for v in verdict.violations}))
    reason = verdict.message or checks_broken or ""
    return (f"{verdict.outcome} {verdict.status}" + (f": {reason}" if reason else ""))[:200]


class TimedUser(FastHttpUser):
    """A user that waits --request-timeout seconds for an answer (to connect, and to read);
    past it the request is a transport error, "no answer within N s"."""

    abstract = True

    insecure = False
    """TLS is verified, as everywhere in the suite (FastHttpUser's default is not to)."""

    def __init__(self, environment) -> None:
        options = environment.parsed_options
        timeout = getattr(options, "request_timeout", None) or FastHttpUser.network_timeout
        self.network_timeout = self.connection_timeout = timeout
        ca_cert = getattr(options, "ca_cert", "") or os.environ.get("REQUESTS_CA_BUNDLE")
        if ca_cert:
            self.ssl_context_factory = functools.partial(
                gevent.ssl.create_default_context, cafile=ca_cert
            )
        super().__init__(environment)


class Gateway(TimedUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.url = self.client._build_url("/data")
        self.url_split = URL(self.url)
        self.path = self.url_split.request_uri
        if getattr(self.environment.parsed_options, "ssl_false", False):
            self.path += ("&" if "?" in self.path else "?") + "_ssl=false"
        self.http = None  # the pooled HTTPClient for the host, fetched on the first report
        self.request_event = self.environment.events.request

    @task
    def report(self) -> None:
        shard = this_process.current
        taken = shard.wait_for_due() if shard is not None else None
        if taken is None:
            gevent.sleep(IDLE_SECONDS)
            return
        self.send(shard, taken[1])

    def send(self, shard: this_process.Shard, report: Report) -> None:
        """Post one report and judge the answer.

        The request goes straight to the user's pooled geventhttpclient HTTPClient, and the
        request event is fired here, as Locust's documentation describes for custom clients: the
        stats, CSVs and web UI see every request as they would through FastHttpSession. That
        path's per-request work (URL parsing, cookie jar, header merging, a response wrapper, a
        context manager) cost about a fifth of the process and none of it applies to a device
        posting JSON (bench/locust_overhead.py).
        """
        config = shard.fleet.config
        records = PROFILES[config.payload](
            self.rng, report.device, report.sequence, config.records_per_request
        )
        group = report_group(shard.swarm_tag, report.sequence)
        for record in records:
            record["group"] = group
        body = orjson.dumps(records)
        headers = {
            "Device-Token": shard.fleet.tokens[report.device],
            "Content-Type": "application/json",
        }
        if config.connection == "per-report":
            headers["Connection"] = "close"
        if self.http is None:
            self.http = self.client.client.clientpool.get_client(self.url_split)
        shard.request_sent()
        sent, started = time.time(), time.perf_counter()
        status, answer, error = 0, b"", None
        try:
            response = self.http.request("POST", self.path, body=body, headers=headers)
            try:
                answer = response.read()
                status = response.status_code
            finally:
                response.release()
        except Exception as caught:  # any failure to get an answer is a transport error
            error = caught
        finally:
            shard.request_done()
        answered = time.time()
        verdict = shard.observer.observe(
            Exchange(
                method="POST",
                path="/data",
                status=status,
                body=answer,
                due=report.due,
                sent_at=sent,
                answered_at=answered,
                device=str(report.device),
                transport_error=None
                if error is None
                else transport.cause(error, self.network_timeout),
                report_group=group,
                records_sent=len(records),
            )
        )
        failed = not (verdict.outcome == checks.ACCEPTED and verdict.ok)
        self.request_event.fire(
            request_type="POST",
            name="POST /data",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=len(answer),
            response=None,
            context={},
            exception=CatchResponseError(failure_label(verdict)) if failed else None,
            start_time=sent,
            url=self.url,
        )
