"""The fleet scenario, interrupted as its run enters the state TAGOCHECK_INTERRUPT_AT names, by
the call SIGINT's handler makes (tests/loadtests/test_interrupt_states.py)."""

import os

from tagocheck.load import lifecycle
from tagocheck.load.gateway import Gateway  # noqa: F401 - Locust runs the user classes it finds
from tagocheck.load.hooks import Scenario, use

use("fleet")
AT = os.environ["TAGOCHECK_INTERRUPT_AT"]


def _interrupt(moved: lifecycle.Transition) -> None:
    if moved.after == AT and Scenario.coordinator is not None:
        Scenario.coordinator.interrupt("SIGINT")


lifecycle.watch(_interrupt)
