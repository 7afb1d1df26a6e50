"""How a load run ended, which its verdict and exit status start from.

A run is `completed` until something ends it otherwise; the first such thing is the one the
report names (an interruption after a crash is still a crash):

    not-run      it could not start: bad input, an unreachable target, a set-up that failed
    crashed      an error broke the run off after it had started
    interrupted  SIGINT or SIGTERM

The cause is said in words: a transport error by what happened on the wire (connection refused,
no answer within 10 s), a contract violation by its first line, anything else by its type and
message; never a traceback, never a token.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from tagocheck.judge.recorder import ContractViolation
from tagocheck.redact import scrub
from tagocheck.wire import transport

COMPLETED, NOT_RUN, CRASHED, INTERRUPTED = "completed", "not-run", "crashed", "interrupted"
MAX_CAUSE = 300


class RunError(RuntimeError):
    """A run that cannot start; the message is the one line the user sees."""


@dataclass(frozen=True)
class Ending:
    how: str = COMPLETED
    why: str = ""
    signal: str | None = None
    at: float = field(default_factory=time.time)

    def then(self, other: Ending) -> Ending:
        """The ending after `other` happens too: the first that was not `completed`."""
        return other if self.how == COMPLETED else self

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_not_run(run_dir: Path, scenario: str, ending: Ending) -> None:
    """The summary of a run that never got its fleet going: how it ended, and why (the verdict
    reads it as such, not as a damaged run directory)."""
    summary = {"scenario": scenario, "ended": ending.as_dict(), "written": time.time()}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))


def could_not_start(why: str) -> str:
    """The one line of a run that could not start (the verdict's words for it)."""
    return f"the run could not start: {why}"


def cause(error: BaseException, host: str | None = None) -> str:
    """One line saying why `error` happened."""
    if isinstance(error, requests.RequestException):
        said = transport.cause(error)
        return f"cannot reach {host}: {said}" if host else said
    if isinstance(error, ContractViolation):
        text = str(error).splitlines()[0]
    elif isinstance(error, RuntimeError | ValueError) and type(error).__module__.startswith(
        "tagocheck"
    ):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}"
    text = scrub(" ".join(text.split()))
    return text if len(text) <= MAX_CAUSE else text[: MAX_CAUSE - 3] + "..."
