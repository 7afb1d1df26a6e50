"""A target whose starter is gone stops itself: the launcher names itself in the target's
environment (PARENT_VARIABLE), and a target that finds itself handed to another parent was
orphaned by a test worker or job killed outright, which cannot stop it any more."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from tagocheck.server import PARENT_VARIABLE


async def stop_when_orphaned(stop: Callable[[], None]) -> None:
    """Stop as SIGTERM would once the process that started this target is gone (killed, or a
    test worker that died): a target nobody will stop would run on, holding its port and
    tokens. Only when that process said so: a target a user started from a shell lives on."""
    parent = os.environ.get(PARENT_VARIABLE)
    if not parent:
        return
    while os.getppid() == int(parent):
        await asyncio.sleep(1)
    stop()
