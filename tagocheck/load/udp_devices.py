"""TagoTiP devices over UDP (docs/tagotip/transports/udp), as real devices send: each device
from its own socket (its own source port, as it would be behind a NAT), each report one
datagram holding a whole frame, `PUSH|!N|HASH|SERIAL|BODY`, answered by one datagram,
`ACK|!N|STATUS[|DETAIL]`. The answer is paired with its uplink by the counter N, not by arrival:
a late ACK of an uplink already given up on is read and dropped. Nothing holds a connection, so
there is nothing to make again and no close to count.

The sockets are the standard library's, which Locust's gevent has patched: a wait for an answer
yields to the other devices.
"""

from __future__ import annotations

import itertools
import socket
import time

import gevent.lock

from tagocheck.load.mqtt_devices import NoAnswer
from tagocheck.tagotip.frames import Uplink, parse_ack
from tagocheck.tagotip.grammar import FrameError

MAX_DATAGRAM = 65_535


class UdpDevices:
    """This process's devices' sockets: one per device, made on its first report."""

    def __init__(self, address: str, auth_hash: str) -> None:
        host, _, port = address.rpartition(":")
        self.address = (host, int(port))
        self.auth_hash = auth_hash
        self.sockets: dict[str, socket.socket] = {}
        self.locks: dict[str, gevent.lock.Semaphore] = {}
        self.counters: dict[str, itertools.count] = {}

    def send(self, serial: str, body: bytes, timeout: float) -> bytes:
        """One uplink of the device: its ACK datagram, or NoAnswer when none came in time."""
        lock = self.locks.setdefault(serial, gevent.lock.Semaphore())
        with lock:  # a device sends one uplink at a time, as a device does
            counter = next(self.counters.setdefault(serial, itertools.count(1)))
            frame = Uplink("PUSH", self.auth_hash, serial, body.decode(), counter).text()
            device = self._socket(serial)
            deadline = time.monotonic() + timeout
            try:
                device.send(frame.encode())
                while (left := deadline - time.monotonic()) > 0:
                    device.settimeout(left)
                    answer = device.recv(MAX_DATAGRAM)
                    if _counter_of(answer) in (counter, None):
                        return answer
            except TimeoutError:
                pass
            except OSError as error:  # an ICMP "port unreachable" comes back as a refusal
                raise NoAnswer(f"no ACK datagram: {error.strerror or error}") from None
            raise NoAnswer(f"no ACK datagram within {timeout:g} s")

    def _socket(self, serial: str) -> socket.socket:
        found = self.sockets.get(serial)
        if found is None:
            found = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            found.connect(self.address)  # answers from elsewhere are not the device's
            self.sockets[serial] = found
        return found

    def close_all(self) -> None:
        for device in self.sockets.values():
            device.close()
        self.sockets.clear()


def _counter_of(answer: bytes) -> int | None:
    """The ACK's `!N`; None for an ACK without one and for what is no ACK, which is taken as
    the answer: the judge names what is wrong with it, rather than the wait hiding it."""
    try:
        return parse_ack(answer).seq
    except (FrameError, UnicodeDecodeError):
        return None
