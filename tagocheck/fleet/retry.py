"""Retry policies: how a device's client tries a report again when no good answer came.

The official clients retry differently, and both are modelled as their code does it (read from
tago-io/sdk-js src/infrastructure/apiRequest.ts and tagoio-sdk 5.1.8 api_request.py, and measured
against a local server, loadtests/README.md):

- `sdk-js`: at most 5 attempts (TAGOIO_REQUEST_ATTEMPTS); after a 5xx, a timeout or a network
  error it waits 1.5 s x 2^(n-1), capped at 30 s (1.5, 3, 6, 12 s); a 4xx is never retried.
- `sdk-py`: at most 5 attempts, 1.5 s apart; only a connection that could not be made is
  retried. A 5xx with a JSON body is returned at once, and a read timeout, a dropped connection
  or a body that is not JSON end the call with an exception of the SDK's own.

`fixed:SECONDS[:TRIES]` and `exp:BASE:CAP:TRIES` retry what sdk-js retries, with their own waits.
The timeout of every attempt is --request-timeout (60 s by default: both SDKs' figure).
"""

from __future__ import annotations

from dataclasses import dataclass

from tagocheck.fleet.bounds import FleetConfigError
from tagocheck.judge import checks
from tagocheck.wire import transport

MAX_TRIES = 100
MAX_WAIT_SECONDS = 3600.0
NAMES = ("none", "sdk-js", "sdk-py")
SYNTAX = "none, sdk-js, sdk-py, fixed:SECONDS[:TRIES] or exp:BASE:CAP:TRIES"

ANY_FAILURE = "5xx, timeouts and network errors"
NO_CONNECTION = "connections that could not be made"


@dataclass(frozen=True)
class RetryPolicy:
    name: str
    tries: int = 1
    """Attempts in all, the first one included."""
    base: float = 0.0
    cap: float = 0.0
    growth: float = 1.0
    """The wait before attempt n+1 is base x growth^(n-1), at most cap."""
    retries_on: str = ANY_FAILURE

    @classmethod
    def parse(cls, text: str) -> RetryPolicy:
        raw = str(text).strip()
        if raw == "none":
            return cls("none")
        if raw == "sdk-js":
            return cls("sdk-js", tries=5, base=1.5, cap=30.0, growth=2.0)
        if raw == "sdk-py":
            return cls("sdk-py", tries=5, base=1.5, cap=1.5, retries_on=NO_CONNECTION)
        kind, _, rest = raw.partition(":")
        try:
            numbers = [float(x) for x in rest.split(":")] if rest else []
        except ValueError:
            numbers = []
        if kind == "fixed" and len(numbers) in (1, 2):
            tries = numbers[1] if len(numbers) == 2 else 5
            return cls._checked(raw, "fixed", numbers[0], numbers[0], 1.0, tries)
        if kind == "exp" and len(numbers) == 3:
            base, cap, tries = numbers
            return cls._checked(raw, "exp", base, cap, 2.0, tries, cap_at_least_base=True)
        raise FleetConfigError(f"{raw!r}: use {SYNTAX}")

    @classmethod
    def _checked(
        cls,
        raw: str,
        kind: str,
        base: float,
        cap: float,
        growth: float,
        tries: float,
        *,
        cap_at_least_base: bool = False,
    ) -> RetryPolicy:
        if not (0 <= base <= MAX_WAIT_SECONDS and 0 <= cap <= MAX_WAIT_SECONDS):
            raise FleetConfigError(f"{raw!r}: waits are 0 to {MAX_WAIT_SECONDS:g} s")
        if cap_at_least_base and cap < base:
            raise FleetConfigError(f"{raw!r}: the cap is below the base")
        if tries != int(tries) or not 1 <= tries <= MAX_TRIES:
            raise FleetConfigError(f"{raw!r}: TRIES is a whole number, 1 to {MAX_TRIES}")
        return cls(raw, int(tries), base, cap, growth)

    def __str__(self) -> str:
        return self.name

    @property
    def retrying(self) -> bool:
        return self.tries > 1

    def wait_after(self, attempt: int) -> float:
        """Seconds between attempt `attempt` and the next."""
        return min(self.cap, self.base * self.growth ** (attempt - 1))

    def retries(self, outcome: str, status: int, cause: str | None) -> bool:
        """Whether the client tries again after this answer (or this failure to get one)."""
        if self.retries_on == NO_CONNECTION:
            return outcome == checks.TRANSPORT_ERROR and cause in (
                transport.REFUSED,
                transport.NO_HOST,
            )
        return outcome == checks.TRANSPORT_ERROR or status >= 500

    def describe(self) -> str:
        """The policy in words, for the report and the console."""
        if not self.retrying:
            return "no retries"
        if self.growth == 1.0:
            waits = f"{self.base:g} s apart"
        else:
            waits = f"waits of {self.base:g} s doubling to at most {self.cap:g} s"
        return f"{self.name}: at most {self.tries} attempts, {waits}, after {self.retries_on}"


def unsure(outcome: str, status: int) -> bool:
    """An attempt the target may have stored though it did not say so: no answer at all, or a
    5xx. A retry after one may store the report twice; one after a 4xx or a 429 should not."""
    return outcome == checks.TRANSPORT_ERROR or status >= 500
