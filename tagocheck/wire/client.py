"""An HTTP client for a TagoIO target that puts every response through the registry of checks.

The contract suite makes every request through it, so no response escapes validation. It honours
429s the way a polite client must against a real account: it waits for Retry-After (header or
message) and tries again, a bounded number of times, unless a test asks to see the 429 itself.
TLS verification is on unless the caller turns it off.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import requests
import requests.adapters

from tagocheck.judge import checks, findings
from tagocheck.judge.exchange import Exchange
from tagocheck.judge.recorder import ContractViolation, Recorder, violation_message
from tagocheck.redact import redact_token, scrub
from tagocheck.spec import ratelimits, routes

Params = Mapping[str, Any] | Sequence[tuple[str, Any]] | None


@dataclass
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str]
    verdict: checks.Verdict
    raw: bytes
    curl: str
    """The request as a curl command line, tokens redacted."""
    route: str = ""
    findings: list[findings.Finding] = field(default_factory=list)
    """The findings this answer showed (each also in the recorder)."""

    def __repr__(self) -> str:
        # Bodies can hold tokens (a new device's, a resolved serial's): a failing assertion that
        # prints a Reply must not show them.
        outcome, message = self.verdict.outcome, self.message
        return f"Reply(status={self.status}, outcome={outcome!r}, message={message!r})"

    @property
    def ok(self) -> bool:
        return self.verdict.outcome == checks.ACCEPTED

    @property
    def result(self) -> Any:
        return self.body.get("result") if isinstance(self.body, dict) else None

    @property
    def message(self) -> str | None:
        return self.verdict.message

    @property
    def said(self) -> str | None:
        """The message with the target's own explanation beside it (redacted)."""
        return self.verdict.said


class TagoClient:
    def __init__(
        self,
        base_url: str,
        *,
        verify: bool | str = True,
        recorder: Recorder | None = None,
        timeout: float = 30.0,
        max_429_waits: int = 3,
        ssl_false: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=64)
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)
        # Passed with every request: requests lets REQUESTS_CA_BUNDLE override Session.verify.
        self.verify = verify
        self.recorder = recorder or Recorder()
        self.timeout = timeout
        self.max_429_waits = max_429_waits
        self.waited_for_429 = 0.0
        self.ssl_false = ssl_false
        """Send `_ssl=false` (as a query key) with every request: the plain-HTTP opt-in [C]."""

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        token_kind: str | None = None,
        header: str = "Token",
        params: Params = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        honour_429: bool = True,
        check: bool = True,
        negotiate: bool = True,
    ) -> Reply:
        """Send one request; raise ContractViolation if the response breaks the contract on a
        route the current test checks (findings on other routes are recorded, not raised).

        A refusal of a list parameter's plain form (`variables=temp`) is tried again in the
        `name[]=` form unless `negotiate` is off: both are documented, and a target that takes
        only one is a deviation to name, not a reason for every later test to fail."""
        # pytest prints each frame's arguments in a failure; this frame's include the token.
        __tracebackhide__ = True
        sent_headers = dict(headers or {})
        if token is not None:
            sent_headers[header] = token
        body = orjson.dumps(json) if json is not None else data
        if body is not None:
            sent_headers.setdefault("Content-Type", "application/json")
        if self.ssl_false:
            params = [*_items(params), ("_ssl", "false")]
        sending = dict(
            method=method,
            path=path,
            token_kind=token_kind,
            body=body,
            headers=sent_headers,
            honour_429=honour_429,
            check=check,
        )
        reply = self._send(params=params, **sending)
        other_form = bracketed(reply, params) if negotiate else None
        if other_form is None:
            return reply
        retried = self._send(params=other_form, **sending)
        if retried.verdict.succeeded:
            found = self.recorder.find(
                reply.route,
                "array-form",
                findings.DEVIATION,
                expected="list parameters in any documented form: repeated keys, name[]=, "
                "name[0]= [C/SDK]",
                observed=f"refused the plain form (HTTP {reply.status}: {reply.said}); "
                "accepted name[]=",
                reproduction=reply.curl,
            )
            retried.findings.append(found)
            self.recorder.note(reply.route, "list parameter form", "name[] only")
        return retried

    def _send(
        self,
        *,
        method: str,
        path: str,
        params: Params,
        token_kind: str | None,
        body: bytes | None,
        headers: dict[str, str],
        honour_429: bool,
        check: bool,
    ) -> Reply:
        __tracebackhide__ = True
        query = _query_dict(params)
        waits = 0
        while True:
            sent_at = time.time()
            response = self.http.request(
                method,
                self.base_url + path,
                params=params,
                data=body,
                headers=headers,
                timeout=self.timeout,
                verify=self.verify,
            )
            raw = response.content
            verdict = Exchange(
                method=method,
                path=urlsplit(path).path,
                status=response.status_code,
                body=raw,
                due=sent_at,
                sent_at=sent_at,
                answered_at=time.time(),
                token_kind=token_kind,
                query=query,
                headers=response.headers,
            ).judge()
            described = curl(method, self.base_url + path, params, headers, body)
            route = verdict.route or f"{method} {urlsplit(path).path}"
            found = self.recorder.record(verdict, described, raw, route)
            failing = self.recorder.failing(found)
            if check and failing and self.recorder.is_subject(verdict.route):
                raise ContractViolation(violation_message(described, verdict, failing), failing)
            if response.status_code == 429 and honour_429 and waits < self.max_429_waits:
                seconds = retry_after(response.headers, raw)
                waits += 1
                self.waited_for_429 += seconds
                time.sleep(seconds)
                continue
            parsed, value = checks.parse_body(raw)
            return Reply(
                response.status_code,
                value if parsed else None,
                response.headers,
                verdict,
                raw,
                described,
                route,
                found,
            )


NOT_ABOUT_THE_QUERY = {401, 403, 404, 429}


def bracketed(reply: Reply, params: Params) -> list[tuple[str, Any]] | None:
    """The same query with every list parameter in the `name[]=` form, when a refusal may be
    about the plain form (a self-hosted server that wants arrays); None when there is no other
    form to try or the refusal is about something else (the token, the rate, the server)."""
    if reply.verdict.succeeded or reply.status in NOT_ABOUT_THE_QUERY or reply.status >= 500:
        return None
    route = reply.verdict.route and routes.route_table()[reply.verdict.route]
    if not route or not route.array_params:
        return None
    items = _items(params)
    if not any(k in route.array_params for k, _ in items):
        return None
    other: list[tuple[str, Any]] = []
    for key, value in items:
        if key not in route.array_params:
            other.append((key, value))
            continue
        values = value if isinstance(value, list | tuple) else str(value).split(",")
        other += [(f"{key}[]", v) for v in values]
    return other


def retry_after(headers: Mapping[str, str], raw: bytes, otherwise: float = 60.0) -> float:
    """Seconds to wait after a 429: the header if sent, else the documented message, else a
    window (60 s)."""
    limits = ratelimits.rate_limits()
    header = headers.get(limits.retry_after_header)
    if header and header.strip().isdigit():
        return float(header)
    parsed, value = checks.parse_body(raw)
    if parsed and isinstance(value, dict) and isinstance(value.get("message"), str):
        seconds = limits.retry_after_from_message(value["message"])
        if seconds is not None:
            return float(seconds)
    return otherwise


def _items(params: Params) -> list[tuple[str, Any]]:
    if not params:
        return []
    return list(params.items() if isinstance(params, Mapping) else params)


def _query_dict(params: Params) -> dict[str, list[str]]:
    items = _items(params)
    query: dict[str, list[str]] = {}
    for key, value in items:
        base = key.split("[", 1)[0] if key.endswith("]") and not key.startswith("filter") else key
        values = value if isinstance(value, list | tuple) else [value]
        query.setdefault(base, []).extend(str(v) for v in values)
    return query


def curl(
    method: str, url: str, params: Params, headers: Mapping[str, str], body: bytes | None
) -> str:
    """The request as a curl command line a user can paste, with tokens redacted."""
    if params:
        items = params.items() if isinstance(params, Mapping) else params
        url += "?" + urlencode(list(items), doseq=True)
    # a token or authorization key may be in the path (DELETE /device/token/{token}, resolve)
    parts = ["curl", "-X", method, shlex.quote(scrub(url))]
    for name, value in headers.items():
        shown = redact_token(value) if name.lower() in TOKEN_HEADERS else value
        parts += ["-H", shlex.quote(f"{name}: {shown}")]
    if body is not None:
        text = body.decode("utf-8", "replace")
        shown = scrub(text if len(text) <= 2000 else text[:2000] + "...")
        parts += ["--data", shlex.quote(shown)]
    return " ".join(parts)


TOKEN_HEADERS = {
    "token",
    "device-token",
    "profile-token",
    "account-token",
    "analysis-token",
    "middleware-token",
    "authorization",
}
