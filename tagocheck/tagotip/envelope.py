"""TagoTiP/S: the binary AEAD envelope around a headless inner frame (tago-io/tagotip
`TagoTiPs.md`, Revision C), sealed and opened with the `cryptography` library's AEAD ciphers.

An envelope is `flags (1) | counter (4, big-endian) | auth hash (8) | device hash (8) |
ciphertext + tag`; the 21-byte header is the AEAD's associated data, and the nonce is rebuilt
from it, never sent (§3.3, §5). An envelope that cannot be opened is an `EnvelopeError` whose
`code` is the plaintext fallback the server answers (§9).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from tagocheck.tagotip.credentials import device_hash
from tagocheck.tagotip.frames import check_serial
from tagocheck.tagotip.grammar import MAX_FRAME_BYTES, FrameError, split_unescaped

HEADER = 21  # §5
METHODS = {"PUSH": 0, "PULL": 1, "PING": 2, "ACK": 3}  # §5.1, bits 2-0
METHOD_NAMES = {number: name for name, number in METHODS.items()}
PLAINTEXT_ACK = 0x41  # §5.3: "A" starts a plaintext fallback, never an envelope


@dataclass(frozen=True)
class CipherSuite:
    """One row of §3.1's table."""

    id: int
    name: str
    key_bytes: int
    tag_bytes: int
    nonce_bytes: int

    def aead(self, key: bytes):
        if len(key) != self.key_bytes:
            raise ValueError(f"{self.name} takes a {self.key_bytes}-byte key, not {len(key)}")
        if self.name.endswith("CCM"):
            return AESCCM(key, tag_length=self.tag_bytes)
        if self.name.endswith("GCM"):
            return AESGCM(key)
        return ChaCha20Poly1305(key)


SUITES = {
    suite.id: suite
    for suite in (
        CipherSuite(0, "AES-128-CCM", 16, 8, 13),
        CipherSuite(1, "AES-128-GCM", 16, 16, 12),
        CipherSuite(2, "AES-256-CCM", 32, 8, 13),
        CipherSuite(3, "AES-256-GCM", 32, 16, 12),
        CipherSuite(4, "ChaCha20-Poly1305", 32, 16, 12),
    )
}
SUITE_BY_NAME = {suite.name: suite for suite in SUITES.values()}
SUITE_OPTIONS = {suite.name.lower(): suite for suite in SUITES.values()}
"""The suites as an option names them: `aes-128-ccm`, ..., `chacha20-poly1305`."""


class EnvelopeError(ValueError):
    """An envelope refused before its inner frame is read: `code` is the plaintext fallback
    (`auth_failed`, `unsupported_version`, `unsupported_cipher`, `envelope_too_large`, §9)."""

    def __init__(self, code: str, rule: str, why: str) -> None:
        super().__init__(f"{code} ({rule}): {why}")
        self.code = code
        self.rule = rule


def flags(suite: int, method: str, version: int = 0) -> int:
    """The flags byte (§5.1): cipher in bits 7-5, version in 4-3, method in 2-0."""
    value = suite << 5 | version << 3 | METHODS[method]
    if value == PLAINTEXT_ACK:
        raise ValueError("0x41 is reserved for plaintext fallbacks (§5.1): use version 1")
    return value


def nonce(flags_byte: int, device: bytes, counter: int, length: int) -> bytes:
    """§3.3: flags, zero padding, the device hash's first 4 bytes, the counter."""
    padding = bytes(length - 9)
    return bytes([flags_byte]) + padding + device[:4] + counter.to_bytes(4, "big")


def max_envelope(suite: CipherSuite) -> int:
    return MAX_FRAME_BYTES + HEADER + suite.tag_bytes  # §5.5


def seal(
    inner: str | bytes,
    *,
    key: bytes,
    method: str,
    counter: int,
    auth_hash: str,
    serial: str | None = None,
    device: bytes | None = None,
    suite: int = 0,
) -> bytes:
    """An envelope around the headless inner frame `inner` (§6). The device hash is the
    serial's unless `device` is given (a downlink names the device it answers)."""
    plain = inner.encode() if isinstance(inner, str) else inner
    if len(plain) > MAX_FRAME_BYTES:
        raise ValueError(f"an inner frame of {len(plain)} bytes, over {MAX_FRAME_BYTES} (§5.5)")
    cipher = SUITES[suite]
    device = device if device is not None else device_hash(serial or "")
    flags_byte = flags(suite, method)
    header = bytes([flags_byte]) + counter.to_bytes(4, "big") + bytes.fromhex(auth_hash) + device
    sealed = cipher.aead(key).encrypt(
        nonce(flags_byte, device, counter, cipher.nonce_bytes), plain, header
    )
    return header + sealed


@dataclass(frozen=True)
class Header:
    """What an envelope says in the clear (§12 steps 1-5)."""

    flags: int
    suite: CipherSuite
    method: str
    counter: int
    auth_hash: str
    device: bytes


def read_header(envelope: bytes) -> Header:
    """The clear header, checked: size, version, cipher suite, method (§12 steps 1-5)."""
    if len(envelope) < HEADER + 1 or envelope[0] == PLAINTEXT_ACK:
        raise EnvelopeError("auth_failed", "§12", f"{len(envelope)} bytes are no envelope")
    flags_byte = envelope[0]
    if flags_byte >> 3 & 0b11:
        raise EnvelopeError("unsupported_version", "§5.1", f"version {flags_byte >> 3 & 3}")
    suite = SUITES.get(flags_byte >> 5)
    if suite is None:
        raise EnvelopeError("unsupported_cipher", "§3.1", f"cipher suite {flags_byte >> 5}")
    if len(envelope) > max_envelope(suite):
        raise EnvelopeError("envelope_too_large", "§5.5", f"{len(envelope)} bytes")
    method = METHOD_NAMES.get(flags_byte & 0b111)
    if method is None:
        raise EnvelopeError("auth_failed", "§5.1", f"method {flags_byte & 7} is reserved")
    return Header(
        flags_byte,
        suite,
        method,
        int.from_bytes(envelope[1:5], "big"),
        envelope[5:13].hex(),
        envelope[13:21],
    )


def open_envelope(envelope: bytes, keys: Iterable[bytes]) -> tuple[Header, bytes, bytes]:
    """The header, the inner frame and the key that opened it: each candidate key tried in turn
    (§12 step 9: devices sharing a device hash, or a key being rotated); none → auth_failed."""
    header = read_header(envelope)
    aad, sealed = envelope[:HEADER], envelope[HEADER:]
    number = nonce(header.flags, header.device, header.counter, header.suite.nonce_bytes)
    for key in keys:
        if len(key) != header.suite.key_bytes:
            continue
        try:
            return header, header.suite.aead(key).decrypt(number, sealed, aad), key
        except InvalidTag:
            continue
    raise EnvelopeError("auth_failed", "§12", "no key of this device opens the envelope")


# --- headless inner frames (§4) ---------------------------------------------------------------


def inner_uplink(method: str, serial: str, body: str | None = None) -> str:
    """§4.1: `SERIAL|BODY`, or `SERIAL` for a PING."""
    return serial if method == "PING" else f"{serial}|{body}"


def parse_inner_uplink(method: str, inner: bytes) -> tuple[str, str | None]:
    """The serial and body of an uplink inner frame (§4.1, §7 step 6)."""
    try:
        text = inner.decode()
    except UnicodeDecodeError as broken:
        raise FrameError("invalid_payload", "§4", "an inner frame that is not UTF-8") from broken
    fields = split_unescaped(text, "|")
    expected = 1 if method == "PING" else 2
    if len(fields) != expected:
        raise FrameError(
            "invalid_payload", "§4.1", f"{method}'s inner frame has {len(fields)} fields"
        )
    return check_serial(fields[0]), (fields[1] if expected == 2 else None)


def inner_ack(status: str, detail: str | None = None) -> str:
    """§4.2: `STATUS[|DETAIL]`, no `ACK|`."""
    return status if detail is None else f"{status}|{detail}"


KeyLookup = Callable[[str, bytes], Iterable[bytes]]
"""(auth hash, device hash) → the candidate keys of the devices it may name."""
