"""The credentials TagoTiP derives from a profile's Authorization Token and a device's serial.

The token (`at` and 32 hex characters) is secret and never sent; what goes on the wire is its
Authorization Hash (TagoTiP §2, TagoTiPs §2.1); TagoTiP/S adds the Device Hash (TagoTiPs §2.2)
and, optionally, an Encryption Key derived with HMAC-SHA256 (TagoTiPs §2.4).
"""

from __future__ import annotations

import hashlib
import hmac


def _hex_part(token: str) -> str:
    return token[2:] if token.startswith("at") else token


def authorization_hash(token: str) -> str:
    """The 16 hex characters a frame carries for `token`: SHA-256 of the token without its `at`
    prefix (UTF-8), its first 8 bytes (TagoTiP §2)."""
    return hashlib.sha256(_hex_part(token).encode()).digest()[:8].hex()


def device_hash(serial: str) -> bytes:
    """The 8 bytes a TagoTiP/S envelope names its device by: SHA-256 of the serial, its first 8
    (TagoTiPs §2.2)."""
    return hashlib.sha256(serial.encode()).digest()[:8]


def derive_key(token: str, serial: str, length: int) -> bytes:
    """A device's Encryption Key derived from the token and serial (TagoTiPs §2.4, optional):
    HMAC-SHA256 keyed by the token's hex part over the serial, its first `length` bytes."""
    if length not in (16, 32):
        raise ValueError("a TagoTiP/S key is 16 or 32 bytes")
    digest = hmac.new(_hex_part(token).encode(), serial.encode(), hashlib.sha256).digest()
    return digest[:length]


def mqtt_credentials(auth_hash: str) -> tuple[str, str]:
    """The MQTT binding's CONNECT username and password: the hash's two halves
    (TagoTipServers §3.1)."""
    return auth_hash[:8], auth_hash[8:]
