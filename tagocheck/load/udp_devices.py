"""TagoTiP devices over UDP (docs/tagotip/transports/udp), as real devices send: each device
from its own socket (its own source port, as it would be behind a NAT), each report one
datagram holding a whole frame, `PUSH|!N|HASH|SERIAL|BODY`, answered by one datagram,
`ACK|!N|STATUS[|DETAIL]`. The answer is paired with its uplink by the counter N, not by arrival:
a late ACK of an uplink already given up on is read and dropped. Nothing holds a connection, so
there is nothing to make again and no close to count. With `--tagotip-envelope` each frame
goes sealed in TagoTiP/S instead (to the endpoint's TagoTiP/S port), its counter the envelope's,
and each answer is opened with the device's key and judged. A sealed answer carries no counter
of the uplink's (TagoTiPs §9): the first datagram after the uplink is its answer, and whatever
came before it (a late answer to an uplink given up on) is read and dropped before it goes.

The sockets are the standard library's, which Locust's gevent has patched: a wait for an answer
yields to the other devices.
"""

from __future__ import annotations

import socket
import time

from tagocheck.load.connections import NoAnswer
from tagocheck.load.turns import Turns
from tagocheck.tagotip.frames import Uplink
from tagocheck.tagotip.sealing import Sealing, counter_of

MAX_DATAGRAM = 65_535


class UdpDevices:
    """This process's devices' sockets: one per device, made on its first report."""

    def __init__(self, address: str, auth_hash: str, sealing: Sealing | None = None) -> None:
        host, _, port = address.rpartition(":")
        self.address = (host, int(port))
        self.auth_hash = auth_hash
        self.sealing = sealing
        self.sockets: dict[str, socket.socket] = {}
        self.turns = Turns()

    def send(self, serial: str, body: bytes, timeout: float) -> bytes:
        """One uplink of the device: its ACK datagram, or NoAnswer when none came in time."""
        with self.turns.of(serial) as counter:
            if self.sealing is None:
                datagram = Uplink("PUSH", self.auth_hash, serial, body.decode(), counter).text()
                datagram = datagram.encode()
            else:
                datagram = self.sealing.seal(self.auth_hash, serial, body.decode(), counter)
            device = self._socket(serial)
            deadline = time.monotonic() + timeout
            try:
                if self.sealing is not None:
                    _drop_waiting(device)
                device.send(datagram)
                while (left := deadline - time.monotonic()) > 0:
                    device.settimeout(left)
                    answer = device.recv(MAX_DATAGRAM)
                    if self.sealing is not None:
                        return self.sealing.opened(serial, answer)
                    if counter_of(answer) in (counter, None):
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


def _drop_waiting(device: socket.socket) -> None:
    """Read and drop what already came to the device's socket: answers to uplinks it gave up on,
    which a sealed answer's lack of a counter would otherwise let pass for the next one's."""
    device.settimeout(0)
    try:
        while device.recv(MAX_DATAGRAM):
            pass
    except OSError:  # nothing more waiting (or an old ICMP refusal, read and dropped too)
        return
