"""How `tagocheck fuzz` tells its checks which kind each token is, without handing them tokens."""

from __future__ import annotations

import hashlib

TOKEN_KINDS_ENV = "TAGOCHECK_TOKEN_KINDS"
"""JSON: token fingerprint -> token kind (schemas/permissions.json's kinds)."""


def token_fingerprint(token: str) -> str:
    """What names a token in TAGOCHECK_TOKEN_KINDS: a hash's first 16 hex digits, never the
    token itself."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]
