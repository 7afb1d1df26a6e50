"""A fleet's side of TagoTiP/S (TagoTiPs §6): each uplink sealed with its device's key, each
answer opened with it. The same on every binding: a UDP datagram, an MQTT payload on
`$tips/{serial}/push`, a POST /v1/tips body all carry the one envelope, and the answer comes back
either sealed (an ACK envelope) or as a plaintext fallback (`ACK|ERR|auth_failed`, §9).

An answer is not paired with its uplink by a counter: the ACK envelope's counter is the
server's own nonce seed, independent of the uplink's, and a client must not read order into it
(§9). Instead a device has one uplink out at a time (§9: it MUST NOT send the next before the
ACK of the last) and the answer that comes is that uplink's (tagocheck.load.turns).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from tagocheck.tagotip import envelope
from tagocheck.tagotip.credentials import derive_key
from tagocheck.tagotip.frames import Ack, parse_ack, parse_ack_payload
from tagocheck.tagotip.grammar import FrameError


@dataclass(frozen=True)
class Sealing:
    """How a fleet seals its frames: the cipher suite, and the authorization key each
    device's key is derived from (§2.4). A credential: never shown."""

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
        """A PUSH of `body` by `serial`, sealed with the envelope's `counter`."""
        return envelope.seal(
            envelope.inner_uplink("PUSH", serial, body),
            key=self.key(serial),
            method="PUSH",
            counter=counter,
            auth_hash=auth_hash,
            serial=serial,
            suite=self.suite.id,
        )

    def opened(self, serial: str, answer: bytes) -> bytes:
        """An answer as the whole ACK frame it stands for (`ACK|OK|3`): a sealed ACK opened
        with the device's key, a plaintext fallback as it came; what neither opens nor reads as
        an ACK is given as it came, for the judge to name."""
        if answer.startswith(b"ACK|"):
            return answer
        try:
            _, inner, _ = envelope.open_envelope(answer, [self.key(serial)])
            ack = parse_ack_payload(inner)
        except (envelope.EnvelopeError, FrameError, UnicodeDecodeError):
            return answer
        return Ack(ack.status, ack.detail).text().encode()


@functools.cache
def _device_key(authorization: str, serial: str, length: int) -> bytes:
    """A device's key, derived once: an HMAC a report would otherwise cost."""
    return derive_key(authorization, serial, length)


def counter_of(answer: bytes) -> int | None:
    """A whole ACK frame's `!N`; None for an ACK without one and for what is no ACK, which is
    taken as the answer: the judge names what is wrong with it, rather than the wait hiding
    it."""
    try:
        return parse_ack(answer).seq
    except (FrameError, UnicodeDecodeError):
        return None
