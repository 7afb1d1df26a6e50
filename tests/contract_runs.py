"""How the suite's own tests run `pytest contract/` in a subprocess, as a user would."""

from __future__ import annotations

import sys
from pathlib import Path

from tagocheck.server.launcher import RunningTarget

ROOT = Path(__file__).resolve().parents[1]
WINDOW = "2"


def contract_command(
    *tests: str, target: RunningTarget | None = None, plan: str = "starter"
) -> list[str]:
    """`pytest TESTS` against a target (its URL and profile token), with 2-second windows."""
    command = [sys.executable, "-m", "pytest", *tests, "-p", "no:cacheprovider", "-q"]
    command += ["--plan", plan, "--rate-window", WINDOW]
    if target is not None:
        command += ["--target", target.url, "--profile-token", target.profile_token]
    return command
