"""The Locust user of the fleet scenarios: a gateway (one connection) sending whichever of this
process's devices' reports is due next, on the fleet's path (each device's own token, or one
network posting for all of them).

Gateways take due reports from the shard's schedule (Shard.wait_for_due). Every answer goes to
the shard's observer, which judges it with the registry of checks; Locust's stats show each class
that is not "accepted" as a failure with its reason.
"""

from __future__ import annotations

import functools
import os
import random
import time
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote

import gevent
import gevent.ssl
import orjson
from geventhttpclient.url import URL
from locust import FastHttpUser, constant, task
from locust.exception import CatchResponseError

from tagocheck.fleet.httpclient import patch_connection_pool
from tagocheck.fleet.integrity import report_group
from tagocheck.fleet.model import TAGOTIP_PATHS, NetworkAccess, TipAccess
from tagocheck.fleet.paths import NETWORK_PATH, route_of
from tagocheck.fleet.payloads import PROFILES, Record, iso_time
from tagocheck.fleet.schedule import Report
from tagocheck.fleet.tip_payloads import push_text
from tagocheck.judge import checks
from tagocheck.judge.exchange import TAGOTIP_HTTP, TAGOTIP_SEALED, Exchange
from tagocheck.judge.tagotip_answers import judge_ack, judge_sealed
from tagocheck.load import shard as this_process
from tagocheck.load.connections import Fire, NoAnswer
from tagocheck.load.mqtt_devices import MqttDevices
from tagocheck.load.shard import IDLE_SECONDS
from tagocheck.load.tcp_devices import TcpDevices
from tagocheck.load.turns import Turns
from tagocheck.load.udp_devices import UdpDevices
from tagocheck.spec import ratelimits
from tagocheck.tagotip import http_binding
from tagocheck.tagotip.bindings import MQTT as TAGOTIP_MQTT
from tagocheck.tagotip.bindings import TCP as TAGOTIP_TCP
from tagocheck.tagotip.bindings import UDP as TAGOTIP_UDP
from tagocheck.tagotip.sealing import Sealing
from tagocheck.wire import transport
from tagocheck.wire.client import retry_after

RETRY_AFTER = ratelimits.rate_limits().retry_after_header
patch_connection_pool()  # keep-alive must survive past 1,024 open sockets


def failure_label(verdict: checks.Verdict) -> str:
    """How a response that was not plainly accepted shows in Locust's failures table."""
    if verdict.outcome == checks.TRANSPORT_ERROR:  # no status: the cause is the exception
        return f"{verdict.outcome}: {verdict.message}"
    checks_broken = ", ".join(sorted({v.check for v in verdict.violations}))
    reason = verdict.message or checks_broken or ""
    return (f"{verdict.outcome} {verdict.status}" + (f": {reason}" if reason else ""))[:200]


@dataclass(frozen=True)
class Route:
    """How a report reaches the target: the device path (POST /data with the device's token),
    the network path (POST /integration/network/data with the network's token, the device named
    by metadata.serial in every record, the authorization key in the query [X]) or the TagoTiP
    path (a PUSH body to POST /v1/tip/{serial} on the binding's own URL, with the profile's
    hash; its MQTT, UDP or TCP binding; or, sealed in TagoTiP/S, POST /v1/tips, `$tips/`, the
    TagoTiP/S port or a length-prefixed TCP connection)."""

    path: str
    """Without the query string: what the checks and the stats see."""
    request_uri: str
    """What is sent: with the authorization key and _ssl=false when given (never shown)."""
    url: str
    url_split: URL | None
    network: NetworkAccess | None
    tip: TipAccess | None = None
    devices: MqttDevices | UdpDevices | TcpDevices | None = None
    """The devices' own MQTT or TCP connections or UDP sockets, on those TagoTiP bindings."""
    transport: str = "POST"
    """What carries a report, as Locust's stats name the request's type: POST (HTTP), MQTT,
    UDP or TCP."""
    sealing: Sealing | None = None
    """How each frame is sealed in TagoTiP/S, on a TagoTiP path with --tagotip-envelope."""
    turns: Turns | None = None
    """The devices' turns and counters on POST /v1/tips (the other bindings keep their own)."""

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def method(self) -> str:
        return METHOD_OF[self.transport]

    @property
    def request_type(self) -> str:
        """The transport, as Locust's stats name the request's type."""
        return self.transport

    @property
    def protocol(self) -> str:
        """What the answer is read as (Exchange.protocol)."""
        if self.sealing is not None:
            return TAGOTIP_SEALED
        if self.transport in PROTOCOL_OF:
            return PROTOCOL_OF[self.transport]
        return TAGOTIP_HTTP if self.tip is not None else "rest"

    @classmethod
    def of(cls, client, shard: this_process.Shard, options, fire: Fire) -> Route:
        config, tip = shard.fleet.config, shard.tip
        if config.via in TAGOTIP_PATHS and tip is not None:
            return cls._tagotip(shard, tip, fire)
        network = shard.network if shard.fleet.config.via == "network" else None
        path = NETWORK_PATH if network is not None else "/data"
        url = client._build_url(path)
        query = []
        if network is not None:
            query.append(f"authorization_token={quote(network.authorization, safe='')}")
        if getattr(options, "ssl_false", False):
            query.append("_ssl=false")
        split = URL(url)
        uri = split.request_uri + ("?" + "&".join(query) if query else "")
        return cls(path, uri, url, split, network)

    @classmethod
    def _tagotip(cls, shard: this_process.Shard, tip: TipAccess, fire: Fire) -> Route:
        """A TagoTiP fleet's route: its binding's, plain or sealed. The devices' connections,
        sockets or turns are the process's, whichever gateway sends."""
        config = shard.fleet.config
        via, envelope = config.via, config.tagotip_envelope
        spread = {"spread": config.connection_spread, "seed": str(config.seed)}
        path = route_of(via, envelope).partition(" ")[2]
        sealing = Sealing.of(envelope, tip.authorization)
        if via in (TAGOTIP_MQTT, TAGOTIP_UDP, TAGOTIP_TCP):
            if shard.devices is None:
                if via == TAGOTIP_MQTT:
                    shard.devices = MqttDevices(
                        tip.mqtt,
                        tip.auth_hash,
                        fire,
                        sealing,
                        serials=[serial for serial in shard.fleet.senders if serial],
                        per_connection=config.devices_per_connection,
                        **spread,
                    )
                elif via == TAGOTIP_UDP:
                    shard.devices = UdpDevices(tip.udp, tip.auth_hash, sealing)
                else:
                    tcp_fire = functools.partial(fire, kind="TCP")
                    shard.devices = TcpDevices(tip.tcp, tip.auth_hash, tcp_fire, sealing, **spread)
            transport = via.removeprefix("tagotip-").upper()
            address = {TAGOTIP_MQTT: tip.mqtt, TAGOTIP_UDP: tip.udp, TAGOTIP_TCP: tip.tcp}[via]
            url = f"{transport.lower()}://{address}"
            return cls(path, "", url, None, None, tip, shard.devices, transport, sealing)
        if sealing is not None and shard.turns is None:
            shard.turns = Turns()
        split = URL(tip.url + (http_binding.PUSH_PATH if sealing is None else path))
        turns = shard.turns if sealing is not None else None
        uri, url = split.request_uri, str(split)
        return cls(path, uri, url, split, None, tip, sealing=sealing, turns=turns)

    def uri(self, sender: str) -> str:
        """What one report is sent to: a TagoTiP device's own path names its serial (a sealed
        one's envelope does)."""
        if self.tip is not None and self.sealing is None:
            return self.request_uri + quote(sender, safe="")
        return self.request_uri

    def body(self, readings: list[tuple[str, float | None, list[Record]]], sender: str) -> bytes:
        """A report's readings (group, when measured for a device that buffers, records) as
        the route carries them: JSON records, or one TagoTiP PUSH body."""
        if self.tip is not None:
            return push_text(
                (group, None if measured is None else round(measured * 1000), records)
                for group, measured, records in readings
            ).encode()
        out = []
        for group, measured, records in readings:
            for record in records:
                record["group"] = group
                if measured is not None:  # devices that buffer send each reading's time
                    record["time"] = iso_time(measured)
                if self.network is not None:  # the official form: each record names the device
                    record["metadata"] = {**record.get("metadata", {}), "serial": sender}
                out.append(record)
        return orjson.dumps(out)

    def headers(self, sender: str) -> dict[str, str]:
        if self.sealing is not None:  # the envelope authorises it (TagoTipServers §2.9)
            return {"Content-Type": "application/octet-stream"}
        if self.tip is not None:
            return {**http_binding.authorization(self.tip.auth_hash), "Content-Type": "text/plain"}
        if self.network is not None:
            return {"Token": self.network.token, "Content-Type": "application/json"}
        return {"Device-Token": sender, "Content-Type": "application/json"}

    def status_of(self, answer: bytes, carried_by: int = 0) -> int:
        """What an ACK from MQTT or UDP, or a sealed one in the HTTP status `carried_by`, means
        in the HTTP binding's statuses (so it is counted as an HTTP answer is)."""
        if self.sealing is not None:
            return judge_sealed(answer, self.name, carried_by).status
        return judge_ack(PROTOCOL_OF[self.transport], answer).status


METHOD_OF = {"POST": "POST", "MQTT": "PUBLISH", "UDP": "DATAGRAM", "TCP": "TCP"}
"""A transport's word in a route's name (`DATAGRAM PUSH|{serial}`; fleet.paths.ROUTES)."""
PROTOCOL_OF = {"MQTT": TAGOTIP_MQTT, "UDP": TAGOTIP_UDP, "TCP": TAGOTIP_TCP}


class Answer(NamedTuple):
    """What came back for one report, whatever carried it."""

    status: int
    """The HTTP status, or the one the binding's table gives an ACK; 0 when none came."""
    body: bytes = b""
    cause: str | None = None
    """Why no answer came."""
    retry_header: str | None = None
    """A 429's Retry-After."""
    carried_by: int = 0
    """The HTTP status a sealed answer came in (POST /v1/tips), beside what it means."""


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
        self.http = None  # the pooled HTTPClient for the host, fetched on the first report
        self.request_event = self.environment.events.request
        self._route: tuple[int, Route] | None = None

    def route(self, shard: this_process.Shard) -> Route:
        """Where this shard's reports go (the fleet's path), worked out once per shard: a web
        UI swarm may change the path."""
        if self._route is None or self._route[0] != id(shard):
            route = Route.of(self.client, shard, self.environment.parsed_options, self._connection)
            self._route = (id(shard), route)
        return self._route[1]

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
        route = self.route(shard)
        sender = shard.fleet.senders[report.device]
        work = shard.work
        timed = work is not None and work.backlog is not None
        readings, groups, sent_records = [], [], 0
        # a backfill request carries its buffered readings; any other report, its one reading
        for sequence, measured in [(r.sequence, r.measured) for r in report.readings] or [
            (report.sequence, report.measured or report.due)
        ]:
            group = report_group(shard.swarm_tag, sequence)
            groups.append(group)
            records = PROFILES[config.payload](
                self.rng, report.device, sequence, config.records_per_request
            )
            sent_records += len(records)
            readings.append((group, measured if timed else None, records))
        body = route.body(readings, sender)
        shard.request_sent()
        sent, started = time.time(), time.perf_counter()
        try:
            if route.devices is not None:
                came = self._through_device(route, sender, body)
            elif route.turns is not None:
                came = self._post_sealed(route, sender, body, config)
            else:
                came = self._post(route, sender, body, config)
        finally:
            shard.request_done()
        answered, answer, cause = time.time(), came.body, came.cause
        verdict = shard.observer.observe(
            Exchange(
                method=route.method,
                path=route.path,
                status=came.status,
                body=answer,
                due=report.due,
                sent_at=sent,
                answered_at=answered,
                device=str(report.device),
                transport_error=cause,
                report_groups=tuple(groups),
                records_sent=sent_records,
                token_kind="network" if route.network is not None else "device-full",
                protocol=route.protocol,
                carried_by=came.carried_by,
            )
        )
        if work is not None:
            work.answered(
                report,
                verdict,
                cause,
                sent,
                answered,
                lambda: retry_after(
                    {RETRY_AFTER: came.retry_header} if came.retry_header else {},
                    answer,
                    shard.window,
                ),
            )
        failed = not (verdict.outcome == checks.ACCEPTED and verdict.ok)
        self.request_event.fire(
            request_type=route.request_type,
            name=route.name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=len(answer),
            response=None,
            context={},
            exception=CatchResponseError(failure_label(verdict)) if failed else None,
            start_time=sent,
            url=route.url,
        )

    def _post(self, route: Route, sender: str, body: bytes, config) -> Answer:
        """One report over HTTP: status, answer, why none came, and a 429's Retry-After."""
        headers = route.headers(sender)
        if config.connection == "per-report":
            headers["Connection"] = "close"
        if self.http is None:
            self.http = self.client.client.clientpool.get_client(route.url_split)
        status, answer, retry_header = 0, b"", None
        try:
            response = self.http.request("POST", route.uri(sender), body=body, headers=headers)
            try:
                answer = response.read()
                status = response.status_code
                if status == 429:
                    retry_header = response.get(RETRY_AFTER)
            finally:
                response.release()
        except Exception as caught:  # any failure to get an answer is a transport error
            return Answer(0, cause=transport.cause(caught, self.network_timeout))
        return Answer(status, answer, retry_header=retry_header)

    def _post_sealed(self, route: Route, sender: str, body: bytes, config) -> Answer:
        """One report sealed in TagoTiP/S to POST /v1/tips, in the device's turn (one uplink out
        at a time, its counter growing, TagoTiPs §8-§9): the ACK the answer opens to, with what
        it means and the status it came in."""
        assert route.turns is not None and route.sealing is not None
        with route.turns.of(sender) as counter:
            sealed = route.sealing.seal(route.tip.auth_hash, sender, body.decode(), counter)
            came = self._post(route, sender, sealed, config)
        if came.cause is not None:
            return came
        frame = route.sealing.opened(sender, came.body)
        return Answer(route.status_of(frame, came.status), frame, carried_by=came.status)

    def _through_device(self, route: Route, sender: str, body: bytes) -> Answer:
        """One uplink on the device's own MQTT or TCP connection or UDP socket: the ACK with
        the status the HTTP binding's table gives it (so it is counted as an HTTP answer is),
        or why none came."""
        assert route.devices is not None
        try:
            answer = route.devices.send(sender, body, self.network_timeout)
        except NoAnswer as error:
            return Answer(0, cause=str(error))
        return Answer(route.status_of(answer), answer)

    def _connection(
        self, name: str, milliseconds: float, error: Exception | None, kind: str = "MQTT"
    ) -> None:
        """A device's connection made or closed: in Locust's stats beside the uplinks."""
        self.request_event.fire(
            request_type=kind,
            name=name,
            response_time=milliseconds,
            response_length=0,
            response=None,
            context={},
            exception=error,
        )
