"""The run's events log (events.jsonl): what happened when, for the report and for whoever reads
a run directory after a run died. One JSON object a line, written as it happens."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tagocheck.redact import scrub


class EventLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def note(self, kind: str, message: str, **details: Any) -> None:
        event = {"t": time.time(), "kind": kind, "message": scrub(message), **details}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as log:
            log.write(json.dumps(event) + "\n")
