"""Keep tokens out of everything the suite prints or writes.

A token is shown only in a short redacted form (its first four characters), enough to tell two
tokens apart in a log without letting anyone use one.
"""

from __future__ import annotations

import re

# Bare UUIDs (device tokens and older tokens of every kind) and the newer prefixed tokens.
TOKEN_PATTERN = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
    r"|\b(?:p|a|u|n)-[0-9A-Za-z_-]{16,}"
    r"|\bat[0-9A-Za-z_-]{30,}"
)


def redact_token(token: str) -> str:
    """`6f0e…` for a token; tokens too short to shorten safely are hidden whole."""
    return f"{token[:4]}…" if len(token) >= 16 else "…"


def scrub(text: str) -> str:
    """The text with every token-looking string replaced by its redacted form."""
    return TOKEN_PATTERN.sub(lambda m: redact_token(m.group(0)), text)
