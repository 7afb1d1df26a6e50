"""Each device's uplinks one at a time, numbered: a device sends its next uplink only when the
last is answered or given up on, as a device does, and each carries the next number of its
counter (TagoTiP's `!N`, or the TagoTiP/S envelope's counter), 1, 2, ... A number is never
reused, so a late answer to an uplink given up on is never taken for the next one's.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import gevent.lock


class Turns:
    """This process's devices' turns: a lock and a counter each, made on first use."""

    def __init__(self) -> None:
        self.locks: dict[str, gevent.lock.Semaphore] = {}
        self.counters: dict[str, itertools.count] = {}

    @contextmanager
    def of(self, serial: str) -> Iterator[int]:
        """The device's turn: held while its uplink is out; gives the uplink's number."""
        with self.locks.setdefault(serial, gevent.lock.Semaphore()):
            yield next(self.counters.setdefault(serial, itertools.count(1)))
