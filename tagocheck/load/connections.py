"""TagoTiP devices' own connections, whatever carries them (MQTT, TCP): at most one per device,
made when a report is due and none is open, ended by the server at its TTL or after the idle
timeout (said first: `ERR|ttl_expired`, `ERR|keep_alive_timeout`) and made again for the next
report, as a device would. With a spread (`--connection-spread`), each device's (gateway's)
first connection is ended by the device after a random part of it, as if the fleet had been
running: the connections' ages spread as in a fleet that did not start in one second, so the
TTL's reconnects come evenly rather than all together every TTL. Every connection made and
every close, with its reason and the connection's life, is a Locust request event (CONNECT,
`closed: REASON`), so the web UI, the CSVs and the report see them beside the uplinks (read back
by figures_from_stats).
"""

from __future__ import annotations

import functools
import math
import random
import socket
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import gevent.lock

from tagocheck.load.turns import Turns

Fire = Callable[[str, float, Exception | None], None]
CLOSE_REASONS = ("ttl_expired", "keep_alive_timeout")
"""What the server says before it ends a connection [C rate-limits]."""
SPREAD = "spread"
"""The close reason of a first connection the device ended itself (--connection-spread)."""
CONNECT = "CONNECT"
CLOSED = "closed: "
KINDS = ("MQTT", "TCP")
"""The request types the connections' events carry in Locust's stats."""


@functools.lru_cache(maxsize=64)
def _looked_up(host: str, port: int) -> tuple[Any, ...]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]


def connected_socket(address: tuple[str, int], timeout: float) -> socket.socket:
    """A TCP connection to `address`, its host looked up once a process (a failed lookup is
    tried again next time). socket.create_connection looks it up on every connection, and under
    gevent each lookup is a trip through a thread pool, even for an IP address: 12% of the
    generator's CPU with 3,000 MQTT devices reconnecting at a 15-s TTL (py-spy,
    bench/tagotip_connections.py). A fleet sees the address its first lookup gave, as devices behind
    one DNS answer do."""
    family, kind, proto, _, where = _looked_up(*address)
    sock = socket.socket(family, kind, proto)
    sock.settimeout(timeout)
    try:
        sock.connect(where)
    except OSError:
        sock.close()
        raise
    return sock


class NoAnswer(Exception):
    """The uplink got no ACK: the connection was refused, closed first, or the wait ran out."""


class Connection(Protocol):
    closed_because: str | None
    opened_at: float

    @property
    def open_now(self) -> bool: ...

    @property
    def in_flight(self) -> int:
        """Uplinks sent on it still waiting for their answer."""
        ...

    def open(self, timeout: float) -> None: ...

    def close(self) -> None: ...


C = TypeVar("C", bound=Connection)


class Connections(Generic[C]):
    """This process's devices' connections: one per device at most, made when needed."""

    def __init__(
        self,
        make: Callable[[str], C],
        fire: Fire,
        key_of: Callable[[str], str] = lambda serial: serial,
        spread: float = 0.0,
        seed: str = "",
    ) -> None:
        """`make(key)`: a new connection, not yet open, for the devices of that key (a device's
        serial, or its gateway's first: `key_of(serial)`); `fire(name, milliseconds, error)`: a
        connection event for Locust's stats (CONNECT, and each close, the server's or the
        device's own, timed by the connection's life); `spread`: the seconds over which first
        connections end (0: each lasts until the server ends it), drawn for each key from
        `seed`."""
        self.make = make
        self.fire = fire
        self.key_of = key_of
        self.spread = spread
        self.seed = seed
        self.ends: dict[str, float] = {}
        """When each key's first connection is ended by the device (inf once it was)."""
        self.open: dict[str, C] = {}
        self.making: dict[str, gevent.lock.Semaphore] = {}
        """A lock per key: a gateway's devices due together wait for one connection, rather
        than each making its own."""
        self.turns = Turns()

    def connection(self, serial: str, timeout: float) -> tuple[C, float]:
        """The device's open connection (its gateway's), or a new one: with the seconds it took
        to make (0 when it was open); NoAnswer when it could not be made."""
        key = self.key_of(serial)
        with self.making.setdefault(key, gevent.lock.Semaphore()):
            return self._connection(key, timeout)

    def _connection(self, key: str, timeout: float) -> tuple[C, float]:
        found = self.open.get(key)
        if found is not None and found.open_now:
            if time.perf_counter() < self.ends.get(key, math.inf) or found.in_flight:
                return found, 0.0  # ended only when no uplink of the gateway waits on it
            found.closed_because = SPREAD
            found.close()
        if found is not None:
            if key in self.ends:  # a first connection ends once, by the device or the server
                self.ends[key] = math.inf
            why = found.closed_because or "other"
            lived = (time.perf_counter() - found.opened_at) * 1000
            self.fire(f"{CLOSED}{why}", lived, None)
        began = time.perf_counter()
        connection = self.make(key)
        try:
            connection.open(timeout)
        except NoAnswer as error:
            self.open.pop(key, None)
            self.fire(CONNECT, (time.perf_counter() - began) * 1000, error)
            raise
        connection.opened_at = time.perf_counter()
        self.open[key] = connection
        if self.spread and key not in self.ends:
            drawn = random.Random(f"spread:{self.seed}:{key}").uniform(0, self.spread)
            self.ends[key] = connection.opened_at + drawn  # the same for a key in every run
        took = connection.opened_at - began
        self.fire(CONNECT, took * 1000, None)
        return connection, took

    def close_all(self) -> None:
        """At the run's end: every open connection closed by the device."""
        for connection in list(self.open.values()):
            if connection.open_now:
                connection.close()
        self.open.clear()


def figures_from_stats(stats: Any) -> dict[str, Any] | None:
    """The connections the devices made and how they ended, read back from Locust's stats
    (every process's, merged by Locust): None when no device connected."""
    kind = next((k for k in KINDS if (CONNECT, k) in stats.entries), None)
    if kind is None:
        return None
    made = stats.entries[(CONNECT, kind)]
    closed = {
        name.removeprefix(CLOSED): {
            "count": entry.num_requests,
            "median_life_ms": entry.get_response_time_percentile(0.5),
        }
        for (name, entry_kind), entry in stats.entries.items()
        if entry_kind == kind and name.startswith(CLOSED)
    }
    return {
        "kind": kind,
        "made": made.num_requests,
        "refused": made.num_failures,
        "connect_median_ms": made.get_response_time_percentile(0.5),
        "closed": closed,
    }
