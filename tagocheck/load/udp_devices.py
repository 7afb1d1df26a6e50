"""TagoTiP devices over UDP (docs/tagotip/transports/udp), as real devices send: each device
from its own socket (its own source port, as it would be behind a NAT), each report one
datagram holding a whole frame, `PUSH|!N|HASH|SERIAL|BODY`, answered by one datagram,
`ACK|!N|STATUS[|DETAIL]`. The answer is paired with its uplink by the counter N, not by arrival:
a late ACK of an uplink already given up on is read and dropped. Nothing holds a connection, so
there is nothing to make again and no close to count. With `--tagotip-envelope` each frame
goes sealed in TagoTiP/S instead (to the endpoint's TagoTiP/S port), its counter the envelope's,
and each answer is opened with the device's key before it is paired and judged.

The sockets are the standard library's, which Locust's gevent has patched: a wait for an answer
yields to the other devices.
"""

from __future__ import annotations

import functools
import itertools
import socket
import time
from dataclasses import dataclass, field

import gevent.lock

from tagocheck.load.mqtt_devices import NoAnswer
from tagocheck.tagotip import envelope
from tagocheck.tagotip.credentials import derive_key
from tagocheck.tagotip.frames import Ack, Uplink, parse_ack, parse_ack_payload
from tagocheck.tagotip.grammar import FrameError

MAX_DATAGRAM = 65_535


@dataclass(frozen=True)
class Sealing:
    """How a fleet seals its frames in TagoTiP/S (TagoTiPs §6): the cipher suite, and the
    authorization key each device's key is derived from (§2.4). A credential: never shown."""

    suite: envelope.CipherSuite
    authorization: str = field(repr=False)

    @classmethod
    def of(cls, option: str, authorization: str) -> Sealing | None:
        """The sealing `--tagotip-envelope` names; None for plain frames."""
        if option == "none":
            return None
        return cls(envelope.SUITE_OPTIONS[option], authorization)

    def key(self, serial: str) -> bytes:
        return _device_key(self.authorization, serial, self.suite.key_bytes)

    def seal(self, auth_hash: str, serial: str, body: str, counter: int) -> bytes:
        return envelope.seal(
            envelope.inner_uplink("PUSH", serial, body),
            key=self.key(serial),
            method="PUSH",
            counter=counter,
            auth_hash=auth_hash,
            serial=serial,
            suite=self.suite.id,
        )

    def opened(self, serial: str, answer: bytes) -> tuple[int | None, bytes]:
        """An answer datagram as (its counter, the ACK frame it stands for): the sealed ACK
        opened with the device's key, a plaintext fallback (`ACK|ERR|auth_failed`, §9) as it
        came; what does not open is given as it came, for the judge to name."""
        if answer.startswith(b"ACK|"):
            return _counter_of(answer), answer
        try:
            header, inner, _ = envelope.open_envelope(answer, [self.key(serial)])
            ack = parse_ack_payload(inner)
        except (envelope.EnvelopeError, FrameError, UnicodeDecodeError):
            return None, answer
        return header.counter, Ack(ack.status, ack.detail, header.counter).text().encode()


class UdpDevices:
    """This process's devices' sockets: one per device, made on its first report."""

    def __init__(self, address: str, auth_hash: str, sealing: Sealing | None = None) -> None:
        host, _, port = address.rpartition(":")
        self.address = (host, int(port))
        self.auth_hash = auth_hash
        self.sealing = sealing
        self.sockets: dict[str, socket.socket] = {}
        self.locks: dict[str, gevent.lock.Semaphore] = {}
        self.counters: dict[str, itertools.count] = {}

    def send(self, serial: str, body: bytes, timeout: float) -> bytes:
        """One uplink of the device: its ACK datagram, or NoAnswer when none came in time."""
        lock = self.locks.setdefault(serial, gevent.lock.Semaphore())
        with lock:  # a device sends one uplink at a time, as a device does
            counter = next(self.counters.setdefault(serial, itertools.count(1)))
            if self.sealing is None:
                datagram = Uplink("PUSH", self.auth_hash, serial, body.decode(), counter).text()
                datagram = datagram.encode()
            else:
                datagram = self.sealing.seal(self.auth_hash, serial, body.decode(), counter)
            device = self._socket(serial)
            deadline = time.monotonic() + timeout
            try:
                device.send(datagram)
                while (left := deadline - time.monotonic()) > 0:
                    device.settimeout(left)
                    answer = device.recv(MAX_DATAGRAM)
                    if self.sealing is None:
                        said = _counter_of(answer)
                    else:
                        said, answer = self.sealing.opened(serial, answer)
                    if said in (counter, None):
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


@functools.cache
def _device_key(authorization: str, serial: str, length: int) -> bytes:
    """A device's key, derived once: an HMAC a report would otherwise cost."""
    return derive_key(authorization, serial, length)


def _counter_of(answer: bytes) -> int | None:
    """The ACK's `!N`; None for an ACK without one and for what is no ACK, which is taken as
    the answer: the judge names what is wrong with it, rather than the wait hiding it."""
    try:
        return parse_ack(answer).seq
    except (FrameError, UnicodeDecodeError):
        return None
