"""TagoTiP devices over TCP (TagoTipServers §4, docs/tagotip/transports/tcp), as real devices
connect: each device its own connection, made when a report is due and none is open, carrying
whole frames `PUSH|!N|HASH|SERIAL|BODY\\n` and reading `ACK|!N|STATUS[|DETAIL]\\n` back, paired
by the counter N. The server ends a connection at its TTL or after the idle timeout, saying why
first; the device reads what came while it slept before it sends, so it connects again rather
than send into a connection already ended. With `--tagotip-envelope` each message is a
length-prefixed TagoTiP/S envelope instead (TagoTiPs §5.4), each answer opened with the device's
key and taken for the one uplink out (a sealed ACK carries no counter of the uplink's, §9).

The sockets are the standard library's, which Locust's gevent has patched: a wait for an answer
yields to the other devices.
"""

from __future__ import annotations

import select
import socket
import time

from gevent.monkey import get_original

from tagocheck.load.connections import (
    CLOSE_REASONS,
    Connections,
    Fire,
    NoAnswer,
    connected_socket,
)
from tagocheck.tagotip.frames import Uplink, parse_ack
from tagocheck.tagotip.grammar import FrameError
from tagocheck.tagotip.sealing import Sealing

_poll = get_original("select", "poll")
"""The operating system's poll, not gevent's: with no wait it never blocks, and it takes any
descriptor, where select() refuses those past 1,023 (a fleet of 3,000 TCP devices raised
ValueError in every gateway past the first thousand connections)."""


def _readable(sock: socket.socket) -> bool:
    """Whether the server sent something (or closed) that is waiting to be read: no wait."""
    poller = _poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class TcpConnection:
    """One device's connection while it lasts, and what the server said on it."""

    def __init__(self, address: tuple[str, int], sealing: Sealing | None) -> None:
        self.address = address
        self.sealing = sealing
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.opened_at = 0.0
        self.closed_because: str | None = None

    def open(self, timeout: float) -> None:
        try:
            self.sock = connected_socket(self.address, timeout)
        except OSError as error:
            raise NoAnswer(f"connect: {type(error).__name__}: {error}") from None

    @property
    def open_now(self) -> bool:
        """Whether the connection still stands, after reading what the server said while the
        device slept: a close notice or the close itself end it; anything else is a late answer
        to an uplink given up on, dropped (a sealed one could not be told from the next's)."""
        if self.closed_because is not None or self.sock is None:
            return False
        ended = False
        try:
            while not ended and _readable(self.sock):
                data = self.sock.recv(65536)
                ended = not data
                self.buffer += data
            while (late := self._take()) is not None:  # a notice before the close says why
                self._closing(late)
        except (OSError, NoAnswer):
            return False
        if ended:
            self.closed_because = self.closed_because or "other"
            self.close()
        return not ended

    @property
    def in_flight(self) -> int:
        """None while the device asks for a connection: it carries one device, which waits for
        each answer before it sends again."""
        return 0

    def exchange(self, serial: str, message: bytes, counter: int, timeout: float) -> bytes:
        """Send one uplink; its answer, or NoAnswer (the connection ended first, or none came)."""
        assert self.sock is not None
        deadline = time.monotonic() + timeout
        try:
            self.sock.sendall(self._framed(message))
            while True:
                answer = self._message(deadline)
                if self.sealing is not None:
                    return self.sealing.opened(serial, answer)
                if _counter(answer) in (counter, None):
                    return answer
        except TimeoutError:
            raise NoAnswer(f"no ACK within {timeout:g} s") from None
        except OSError as error:
            self.closed_because = self.closed_because or "other"
            raise NoAnswer(f"the connection ended before the ACK: {error}") from None

    def _framed(self, message: bytes) -> bytes:
        if self.sealing is not None:
            return len(message).to_bytes(2, "big") + message
        return message + b"\n"

    def _message(self, deadline: float) -> bytes:
        """The next message the server sent: a line, or a length-prefixed one when sealed. A
        close notice ends the connection here (NoAnswer with its reason)."""
        while (found := self._take()) is None:
            assert self.sock is not None
            self.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            data = self.sock.recv(65536)
            if not data:
                self.closed_because = self.closed_because or "other"
                self.close()
                raise NoAnswer(f"the connection ended before the ACK ({self.closed_because})")
            self.buffer += data
        self._closing(found)
        return found

    def _closing(self, message: bytes) -> None:
        """A close notice ends the connection here: NoAnswer with its reason."""
        ack = _read(message)
        if ack is not None and ack.seq is None and ack.detail in CLOSE_REASONS:
            self.closed_because = ack.detail  # the server ends the connection next
            self.close()
            raise NoAnswer(f"the connection ended before the ACK ({ack.detail})")

    def _take(self) -> bytes | None:
        if self.sealing is None:
            line, found, rest = self.buffer.partition(b"\n")
            if not found:
                return None
            self.buffer = rest
            return line
        if len(self.buffer) < 2:
            return None
        length = int.from_bytes(self.buffer[:2], "big")
        if len(self.buffer) < 2 + length:
            return None
        message, self.buffer = self.buffer[2 : 2 + length], self.buffer[2 + length :]
        return message

    def close(self) -> None:
        self.closed_because = self.closed_because or "client"
        if self.sock is not None:
            self.sock.close()


class TcpDevices:
    """This process's devices' TCP connections: one per device at most, made when needed."""

    def __init__(
        self,
        address: str,
        auth_hash: str,
        fire: Fire,
        sealing: Sealing | None = None,
        spread: float = 0.0,
        seed: str = "",
    ) -> None:
        host, _, port = address.rpartition(":")
        self.auth_hash = auth_hash
        self.sealing = sealing
        self.connections = Connections(
            lambda _: TcpConnection((host, int(port)), sealing), fire, spread=spread, seed=seed
        )

    def send(self, serial: str, body: bytes, timeout: float) -> bytes:
        """One uplink of the device, on its open connection or a new one: its ACK (opened, when
        sealed); NoAnswer when none came."""
        with self.connections.turns.of(serial) as counter:
            connection, _ = self.connections.connection(serial, timeout)
            if self.sealing is None:
                frame = Uplink("PUSH", self.auth_hash, serial, body.decode(), counter).text()
                message = frame.encode()
            else:
                message = self.sealing.seal(self.auth_hash, serial, body.decode(), counter)
            return connection.exchange(serial, message, counter, timeout)

    def close_all(self) -> None:
        self.connections.close_all()


def _read(message: bytes):  # type: ignore[no-untyped-def]
    try:
        return parse_ack(message)
    except (FrameError, UnicodeDecodeError):
        return None


def _counter(answer: bytes) -> int | None:
    ack = _read(answer)
    return None if ack is None else ack.seq
