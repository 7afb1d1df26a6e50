"""Ctrl-C (or SIGTERM) while a scenario is still being imported: nothing has started and
nothing is written yet, so the run ends with one line and the signal's exit status (130 for
SIGINT), not a traceback from whichever import it landed in. On a cold, busy machine the imports
take seconds (CI once interrupted a run inside jsonschema's). Standard library only: this runs
before anything else of the scenario's. The scenario calls imported() when its imports are done,
and the handlers Locust and the run install take over from there.
"""

from __future__ import annotations

import os
import signal
import sys

GUARDED = (signal.SIGINT, signal.SIGTERM)


def _interrupted(signum: int, frame: object) -> None:
    name = signal.Signals(signum).name
    sys.stderr.write(
        f"tagocheck: interrupted ({name}) while starting: nothing was run or written\n"
    )
    sys.stderr.flush()
    os._exit(128 + signum)


_previous = {number: signal.signal(number, _interrupted) for number in GUARDED}


def imported() -> None:
    """The scenario's imports are done: the signals go back to what they were."""
    for number, handler in _previous.items():
        signal.signal(number, handler)
