"""TagoTiP's lexical rules, shared by its bodies and frames: the limits, the refusal a broken
rule makes, escaping and scanning (tago-io/tagotip `TagoTiP.md`, Revision B; each rule names
its section). A parse failure is a `FrameError` carrying the error code the server must answer
(§9.2) and the section of the rule broken.
"""

from __future__ import annotations

import re

MAX_FRAME_BYTES = 16_384  # §4.5
MAX_IDENTIFIER = 100  # §4.5.1: variable name, serial, group, metadata key
MAX_UNIT = 25  # §4.5.1
MAX_VARIABLES = 100  # §4.5.1, per [] block
MAX_METADATA = 32  # §4.5.1, per {} block
MAX_COUNTER = 0xFFFF_FFFF  # §10.1

ERROR_CODES = (  # §9.2, and the close reasons of the servers' rate-limit page [C]
    "invalid_token",
    "invalid_method",
    "invalid_payload",
    "invalid_seq",
    "device_not_found",
    "variable_not_found",
    "rate_limited",
    "auth_failed",
    "unsupported_version",
    "payload_too_large",
    "server_error",
    "ttl_expired",
    "keep_alive_timeout",
    "unsupported_cipher",  # TagoTiPs §9's plaintext fallbacks
    "envelope_too_large",
)

IDENTIFIER = re.compile(r"[a-z0-9_]+")  # §14 VARNAMECHAR
DIGITS = re.compile(r"[0-9]+")
ESCAPABLE = frozenset("|[];,{}#@^n\\")  # §4.4
_STRUCTURAL = frozenset("#;@[\\]^{|}")  # §14: what VALCHAR and UNITCHAR exclude unescaped
_ESCAPE_ON_BUILD = frozenset("|[];,{}#@^\\")


class FrameError(ValueError):
    """A frame the server must refuse: `code` is the ACK's error code (§9.2), `rule` the
    section of the rule broken, for a person reading a finding."""

    def __init__(self, code: str, rule: str, why: str) -> None:
        super().__init__(f"{code} ({rule}): {why}")
        self.code = code
        self.rule = rule
        self.why = why


def refuse(rule: str, why: str, code: str = "invalid_payload") -> FrameError:
    return FrameError(code, rule, why)


# --- escaping (§4.4) ----------------------------------------------------------------------


def escape(text: str, *, extra: str = "") -> str:
    """`text` as a string or metadata value on the wire: structural characters and newlines
    escaped with a backslash (§4.4)."""
    out = []
    for char in text:
        if char == "\n":
            out.append("\\n")
        elif char in _ESCAPE_ON_BUILD or char in extra:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def unescape(raw: str, rule: str = "§4.4") -> str:
    """The value `raw` stands for: each backslash escape decoded (`\\n` a newline)."""
    out = []
    chars = iter(raw)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        following = next(chars, None)
        if following is None or following not in ESCAPABLE:
            raise refuse(rule, f"backslash before {following!r}, which is no escape")
        out.append("\n" if following == "n" else following)
    return "".join(out)


def split_unescaped(raw: str, separator: str) -> list[str]:
    """`raw` split at each `separator` not escaped by a backslash; escapes stay in the parts."""
    parts, current, chars = [], [], iter(raw)
    for char in chars:
        if char == "\\":
            current.append(char)
            current.append(next(chars, ""))
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def scan(raw: str, start: int, stops: str) -> int:
    """The index of the first unescaped character of `stops` in `raw` from `start`, or its end."""
    index = start
    while index < len(raw):
        if raw[index] == "\\":
            index += 2
            continue
        if raw[index] in stops:
            return index
        index += 1
    return len(raw)


def check_text(raw: str, rule: str, what: str, *, escapes: bool, also_excluded: str = "") -> str:
    """A string value, metadata value or unit as §14's character classes allow it."""
    if not raw:
        raise refuse(rule, f"an empty {what}")
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\\":
            if not escapes:
                raise refuse(rule, f"a backslash in a {what}, which has no escapes")
            index += 2
            continue
        if char in _STRUCTURAL or char in also_excluded:
            raise refuse(rule, f"an unescaped {char!r} in a {what}")
        if ord(char) < 0x20 or ord(char) == 0x7F:
            raise refuse(rule, f"a control character in a {what}")
        index += 1
    return unescape(raw, rule) if escapes else raw


def identifier(raw: str, what: str, rule: str = "§4.5.1") -> str:
    if not IDENTIFIER.fullmatch(raw):
        raise refuse("§1.3", f"{what} {raw!r} is not lowercase letters, digits and _")
    if len(raw) > MAX_IDENTIFIER:
        raise refuse(rule, f"{what} of {len(raw)} bytes, over {MAX_IDENTIFIER}")
    return raw
