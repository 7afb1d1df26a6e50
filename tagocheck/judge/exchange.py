"""One exchange with a target: the request, the answer (or why none came) and its timings.

The contract suite's client and the load runs' gateway and prober each build one per request and
hand it on whole: the registry of checks judges it into a verdict, and the fleet observer counts
it (latency from its timings, its records against the ledger). One record instead of a dozen loose
arguments, so every consumer reads the same request the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tagocheck.judge import checks, tagotip_answers
from tagocheck.tagotip.bindings import HTTP as TAGOTIP_HTTP
from tagocheck.tagotip.bindings import SEALED as TAGOTIP_SEALED


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    """Without the query string."""
    status: int = 0
    """0 when no HTTP answer came (see transport_error)."""
    body: bytes = b""
    due: float = 0.0
    """When the request was meant to go (a device's schedule); the send time when unscheduled."""
    sent_at: float = 0.0
    answered_at: float = 0.0
    token_kind: str | None = "device-full"
    query: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None
    """The answer's headers, where a check reads them (Retry-After of a 429)."""
    transport_error: str | None = None
    """Why no answer came, in words (tagocheck.wire.transport.cause)."""
    device: str | None = None
    records_sent: int | None = None
    """Records of a data report; None for other requests."""
    report_groups: tuple[str, ...] = ()
    """The groups of the readings a report carries (one, or a backfill batch's)."""
    ledger_route: str | None = None
    """A limit finer than the route (the aggregate query has its own)."""
    protocol: str = "rest"
    """What the answer is read as: a REST envelope, or a TagoTiP ACK as its binding carries it
    (TAGOTIP_HTTP's status and text, TAGOTIP_MQTT's ack-topic payload, TAGOTIP_UDP's datagram,
    TAGOTIP_TCP's line, TAGOTIP_SEALED's ACK as a TagoTiP/S answer opened to)."""
    carried_by: int = 0
    """The HTTP status a TagoTiP/S answer came with over POST /v1/tips, which §2.9 sets apart
    from what the ACK inside means (`status`: an opened ERR|rate_limited is a 429 in a 200)."""

    @property
    def answered(self) -> bool:
        return self.transport_error is None

    def judge(self) -> checks.Verdict:
        """The registry's verdict on the answer; a transport error is its own outcome."""
        if not self.answered:
            return checks.Verdict(
                route=None, status=0, outcome=checks.TRANSPORT_ERROR, message=self.transport_error
            )
        if self.protocol == TAGOTIP_HTTP:
            return tagotip_answers.judge_push(self.status, self.body)
        if self.protocol in tagotip_answers.ACK_FORMS:
            return tagotip_answers.judge_ack(self.protocol, self.body)
        if self.protocol == TAGOTIP_SEALED:
            route = f"{self.method} {self.path}"
            return tagotip_answers.judge_sealed(self.body, route, self.carried_by)
        return checks.judge(
            self.method,
            self.path,
            self.status,
            self.body,
            headers=self.headers,
            token_kind=self.token_kind,
            query=self.query,
        )
