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
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import requests
import requests.adapters

from tagocheck import checks, ratelimits
from tagocheck.recorder import ContractViolation, Recorder, violation_message
from tagocheck.redact import redact_token

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


class TagoClient:
    def __init__(
        self,
        base_url: str,
        *,
        verify: bool | str = True,
        recorder: Recorder | None = None,
        timeout: float = 30.0,
        max_429_waits: int = 3,
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
    ) -> Reply:
        """Send one request; raise ContractViolation if the response breaks the contract."""
        # pytest prints each frame's arguments in a failure; this frame's include the token.
        __tracebackhide__ = True
        sent_headers = dict(headers or {})
        if token is not None:
            sent_headers[header] = token
        body = orjson.dumps(json) if json is not None else data
        if body is not None:
            sent_headers.setdefault("Content-Type", "application/json")
        query = _query_dict(params)
        waits = 0
        while True:
            response = self.http.request(
                method,
                self.base_url + path,
                params=params,
                data=body,
                headers=sent_headers,
                timeout=self.timeout,
                verify=self.verify,
            )
            raw = response.content
            verdict = checks.judge(
                method,
                urlsplit(path).path,
                response.status_code,
                raw,
                headers=response.headers,
                token_kind=token_kind,
                query=query,
            )
            described = curl(method, self.base_url + path, params, sent_headers, body)
            self.recorder.record(verdict, described, raw)
            if check and verdict.violations:
                raise ContractViolation(violation_message(described, verdict, raw))
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
            )


def retry_after(headers: Mapping[str, str], raw: bytes) -> float:
    """Seconds to wait after a 429: the header if sent, else the documented message, else 60."""
    limits = ratelimits.rate_limits()
    header = headers.get(limits.retry_after_header)
    if header and header.strip().isdigit():
        return float(header)
    parsed, value = checks.parse_body(raw)
    if parsed and isinstance(value, dict) and isinstance(value.get("message"), str):
        seconds = limits.retry_after_from_message(value["message"])
        if seconds is not None:
            return float(seconds)
    return 60.0


def _query_dict(params: Params) -> dict[str, list[str]]:
    if not params:
        return {}
    items = params.items() if isinstance(params, Mapping) else params
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
    parts = ["curl", "-X", method, shlex.quote(url)]
    for name, value in headers.items():
        shown = redact_token(value) if name.lower() in TOKEN_HEADERS else value
        parts += ["-H", shlex.quote(f"{name}: {shown}")]
    if body is not None:
        text = body.decode("utf-8", "replace")
        parts += ["--data", shlex.quote(text if len(text) <= 2000 else text[:2000] + "...")]
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
