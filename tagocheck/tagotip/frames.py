"""TagoTiP frames, built and parsed: the one place the protocol's text grammar lives.

TagoTiP (tago-io/tagotip `TagoTiP.md`, Revision B) is TagoIO's device protocol: one text frame
per uplink, `PUSH|AUTH|SERIAL|[temperature:=32.5#C]`, answered by `ACK|OK|1`. Each rule below
names its section (§) of that file; where TagoIO's documentation pages (tago-io/docs
`docs/tagotip/`) show a form the specification does not have, the parser accepts it too, names
it a docs variant on the parsed body ([X] in schemas/tagotip.md), and refuses it only when
asked to be strict, so a check can tell which form a target takes and never call a documented
form a violation.

A parse failure is a `FrameError` carrying the error code the server must answer (§9.2) and the
section of the rule broken.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

MAX_FRAME_BYTES = 16_384  # §4.5
MAX_IDENTIFIER = 100  # §4.5.1: variable name, serial, group, metadata key
MAX_UNIT = 25  # §4.5.1
MAX_VARIABLES = 100  # §4.5.1, per [] block
MAX_METADATA = 32  # §4.5.1, per {} block
MAX_COUNTER = 0xFFFF_FFFF  # §10.1

UPLINK_METHODS = ("PUSH", "PULL", "PING")  # §5.1
ACK_STATUSES = ("OK", "PONG", "CMD", "ERR")  # §5.2
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

Kind = Literal["number", "string", "boolean", "location"]
OPERATORS: dict[str, Kind] = {":=": "number", "?=": "boolean", "@=": "location", "=": "string"}
"""§6.3.1, in the order §12.4 checks them: multi-character operators first."""
SYMBOL = {kind: op for op, kind in OPERATORS.items()}

# Docs variants: forms TagoIO's documentation pages show that the specification does not.
DOCS_LOCATION_MODIFIER = "docs: body-level location @=lat,lng (transports/http, transports/mqtt)"
DOCS_LOCATION_SUFFIX = "docs: variable-level location suffix @=lat,lng (transports/mqtt)"
DOCS_MODIFIER_ORDER = "docs: body-level @timestamp before ^group (transports/http, mqtt)"

_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")  # §6.3.1
_IDENTIFIER = re.compile(r"[a-z0-9_]+")  # §14 VARNAMECHAR
_SERIAL = re.compile(r"[A-Za-z0-9_-]+")  # §14 SERIALCHAR
_AUTH = re.compile(r"[0-9A-Fa-f]{16}")  # §14 auth = 16HEXDIG
_COUNTER = re.compile(r"0|[1-9][0-9]*")  # §14 counter-value: no leading zeros
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")  # §6.5 >x: byte pairs
_BASE64 = re.compile(r"[A-Za-z0-9+/=]+")  # §14 BASE64CHAR
_DIGITS = re.compile(r"[0-9]+")
_DETAIL = re.compile(r"[\x21-\x7b\x7d\x7e]+")  # §14 DETAILCHAR: VCHAR but "|"
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


def _refuse(rule: str, why: str, code: str = "invalid_payload") -> FrameError:
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
            raise _refuse(rule, f"backslash before {following!r}, which is no escape")
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


def _scan(raw: str, start: int, stops: str) -> int:
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


def _check_text(raw: str, rule: str, what: str, *, escapes: bool, also_excluded: str = "") -> str:
    """A string value, metadata value or unit as §14's character classes allow it."""
    if not raw:
        raise _refuse(rule, f"an empty {what}")
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\\":
            if not escapes:
                raise _refuse(rule, f"a backslash in a {what}, which has no escapes")
            index += 2
            continue
        if char in _STRUCTURAL or char in also_excluded:
            raise _refuse(rule, f"an unescaped {char!r} in a {what}")
        if ord(char) < 0x20 or ord(char) == 0x7F:
            raise _refuse(rule, f"a control character in a {what}")
        index += 1
    return unescape(raw, rule) if escapes else raw


def _identifier(raw: str, what: str, rule: str = "§4.5.1") -> str:
    if not _IDENTIFIER.fullmatch(raw):
        raise _refuse("§1.3", f"{what} {raw!r} is not lowercase letters, digits and _")
    if len(raw) > MAX_IDENTIFIER:
        raise _refuse(rule, f"{what} of {len(raw)} bytes, over {MAX_IDENTIFIER}")
    return raw


# --- values and variables (§6) -------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    lat: float
    lng: float
    alt: float | None = None

    def text(self) -> str:
        parts = [self.lat, self.lng] + ([] if self.alt is None else [self.alt])
        return ",".join(_number_text(part) for part in parts)


def _number_text(number: float | int) -> str:
    """A number as §6.3.1 writes it: no exponent, no trailing `.0` on a whole one."""
    if isinstance(number, bool):
        raise TypeError("a boolean is no number")
    if isinstance(number, int) or (float(number).is_integer() and abs(number) < 2**53):
        return str(int(number))
    text = repr(float(number))
    if "e" in text or "E" in text:
        text = f"{float(number):.17f}".rstrip("0").rstrip(".")
    return text


def _number(raw: str, rule: str = "§6.3.1") -> int | float:
    if not _NUMBER.fullmatch(raw):
        raise _refuse(rule, f"{raw!r} is not a number as -?(0|[1-9][0-9]*)(.[0-9]+)? writes one")
    return float(raw) if "." in raw else int(raw)


def _location(raw: str, rule: str = "§6.3.1") -> Location:
    parts = raw.split(",")
    if len(parts) not in (2, 3):
        raise _refuse(rule, f"location {raw!r} is not lat,lng or lat,lng,alt")
    numbers = [float(_number(part, rule)) for part in parts]
    return Location(*numbers)


Value = int | float | str | bool | Location


@dataclass(frozen=True)
class Variable:
    """One data point of a PUSH body or a PULL answer (§6.3)."""

    name: str
    kind: Kind
    value: Value
    unit: str | None = None
    time: int | None = None
    group: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    location: Location | None = None  # the docs' location suffix [X]

    def text(self) -> str:
        """This variable on the wire, suffixes in §6.3's order."""
        if self.kind == "number":
            value = _number_text(self.value)  # type: ignore[arg-type]
        elif self.kind == "boolean":
            value = "true" if self.value else "false"
        elif self.kind == "location":
            value = self.value.text()  # type: ignore[union-attr]
        else:
            value = escape(str(self.value))
        out = [self.name, SYMBOL[self.kind], value]
        if self.unit is not None:
            out += ["#", self.unit]
        if self.location is not None:
            out += ["@=", self.location.text()]
        if self.time is not None:
            out += ["@", str(self.time)]
        if self.group is not None:
            out += ["^", self.group]
        if self.metadata:
            out.append(_metadata_text(self.metadata))
        return "".join(out)


def _metadata_text(metadata: Mapping[str, str]) -> str:
    return "{" + ",".join(f"{k}={escape(v, extra=',')}" for k, v in metadata.items()) + "}"


def _parse_metadata(raw: str) -> dict[str, str]:
    """The pairs inside a `{...}` block (§6.3.2): split by unescaped `,`, each on its first `=`."""
    if not raw:
        raise _refuse("§6.3", "an empty metadata block {}")
    pairs = split_unescaped(raw, ",")
    if len(pairs) > MAX_METADATA:
        raise _refuse("§4.5.1", f"{len(pairs)} metadata pairs, over {MAX_METADATA}")
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals:
            raise _refuse("§12.2", f"metadata pair {pair!r} has no =")
        metadata[_identifier(key, "metadata key")] = _check_text(
            value, "§14", "metadata value", escapes=True, also_excluded=","
        )
    return metadata


def _metadata_block(raw: str, start: int) -> tuple[dict[str, str], int]:
    """The metadata of the block opening at raw[start] == "{", and the index after its "}"."""
    end = _scan(raw, start + 1, "}")
    if end >= len(raw):
        raise _refuse("§12.2", "a metadata block with no closing }")
    return _parse_metadata(raw[start + 1 : end]), end + 1


def parse_variable(raw: str, *, strict: bool = False, used: set[str] | None = None) -> Variable:
    """One variable of a `[...]` block, left to right in a single pass (§12.2)."""
    index = 0
    while index < len(raw) and raw[index] not in ":?@=":
        index += 1
    name = _identifier(raw[:index], "variable name")
    # §12.4: multi-character operators first (the table's order)
    operator = next((op for op in OPERATORS if raw.startswith(op, index)), None)
    if operator is None:
        raise _refuse("§6.3.1", f"variable {raw!r} has no operator (:= = ?= @=)")
    kind = OPERATORS[operator]
    index += len(operator)
    end = _scan(raw, index, "#@^{")
    if kind == "location":
        # a location's commas and digits end at the first suffix mark; "#" is a parse error
        end = _scan(raw, index, "@^{#")
    text = raw[index:end]
    if kind == "number":
        value: Value = _number(text)
    elif kind == "boolean":
        if text not in ("true", "false"):
            raise _refuse("§6.3.1", f"boolean {text!r} is not true or false")
        value = text == "true"
    elif kind == "location":
        value = _location(text)
    else:
        value = _check_text(text, "§6.3.1", "string value", escapes=True)
    index = end
    unit = time = group = location = None
    metadata: dict[str, str] = {}
    # suffixes, each at most once and in §6.3.2's order (the docs' location after the unit)
    order = ["#", "@=", "@", "^", "{"]
    last = -1
    while index < len(raw):
        mark = "@=" if raw.startswith("@=", index) else raw[index]
        if mark not in order:
            raise _refuse("§6.3", f"{raw[index:]!r} after the value is no suffix")
        place = order.index(mark)
        if place <= last:
            raise _refuse("§6.3", f"suffix {mark!r} out of order or repeated in {raw!r}")
        last = place
        if mark == "#":
            if kind == "location":
                raise _refuse("§6.3.2", "a #unit after a location value")
            end = _scan(raw, index + 1, "@^{")
            unit = _check_text(raw[index + 1 : end], "§14", "unit", escapes=False)
            if len(unit.encode()) > MAX_UNIT:
                raise _refuse("§4.5.1", f"unit of {len(unit.encode())} bytes, over {MAX_UNIT}")
        elif mark == "@=":
            if strict or kind == "location":
                raise _refuse("§6.3.2", "a location suffix @= (a docs form, not the spec's)")
            end = _scan(raw, index + 2, "@^{")
            location = _location(raw[index + 2 : end])
            if used is not None:
                used.add(DOCS_LOCATION_SUFFIX)
        elif mark == "@":
            end = _scan(raw, index + 1, "^{")
            if not _DIGITS.fullmatch(raw[index + 1 : end]):
                raise _refuse("§6.3.2", f"timestamp {raw[index + 1 : end]!r} is not digits")
            time = int(raw[index + 1 : end])
        elif mark == "^":
            end = _scan(raw, index + 1, "{")
            group = _identifier(raw[index + 1 : end], "group")
        else:
            metadata, end = _metadata_block(raw, index)
            if end != len(raw):
                raise _refuse("§6.3", f"{raw[end:]!r} after a variable's metadata")
        index = end
    return Variable(name, kind, value, unit, time, group, metadata, location)


# --- bodies (§6, §7) ------------------------------------------------------------------------


@dataclass(frozen=True)
class Passthrough:
    """A raw payload for the device's payload parser (§6.5): `>x` hex or `>b` base64."""

    encoding: Literal["x", "b"]
    data: str

    def text(self) -> str:
        return f">{self.encoding}{self.data}"


@dataclass(frozen=True)
class PushBody:
    """A structured PUSH body (§6.2): body-level defaults and the variables they cascade to."""

    variables: tuple[Variable, ...]
    group: str | None = None
    time: int | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    location: Location | None = None  # the docs' body-level location [X]
    variants: frozenset[str] = frozenset()  # docs forms this body used, not the spec's

    def text(self) -> str:
        out = []
        if self.location is not None:
            out.append("@=" + self.location.text())
        if self.group is not None:
            out.append("^" + self.group)
        if self.time is not None:
            out.append(f"@{self.time}")
        if self.metadata:
            out.append(_metadata_text(self.metadata))
        return "".join(out) + "[" + ";".join(v.text() for v in self.variables) + "]"

    def points(self) -> list[Variable]:
        """Each variable with the body's defaults applied (§6.4): its own suffixes win, and its
        metadata merges over the body's."""
        return [
            Variable(
                v.name,
                v.kind,
                v.value,
                v.unit,
                v.time if v.time is not None else self.time,
                v.group if v.group is not None else self.group,
                {**self.metadata, **v.metadata},
                v.location if v.location is not None else self.location,
            )
            for v in self.variables
        ]


def parse_push_body(raw: str, *, strict: bool = False) -> PushBody | Passthrough:
    """A PUSH body (§12.2): a passthrough, or body-level modifiers then a `[...]` block.

    `strict` refuses the docs' forms the specification lacks; otherwise they parse and are named
    in `variants`."""
    if raw.startswith(">"):
        flag, data = raw[1:2], raw[2:]
        if flag == "x" and _HEX.fullmatch(data):
            return Passthrough("x", data)
        if flag == "b" and _BASE64.fullmatch(data):
            return Passthrough("b", data)
        raise _refuse("§6.5", f"passthrough {raw[:20]!r} is not >x with byte pairs or >b base64")
    used: set[str] = set()
    index = 0
    group = time = location = None
    metadata: dict[str, str] = {}
    seen: list[str] = []
    while index < len(raw) and raw[index] != "[":
        mark = "@=" if raw.startswith("@=", index) else raw[index]
        if mark in seen:
            raise _refuse("§6.2", f"body-level modifier {mark!r} repeated")
        if mark == "@=":
            if strict:
                raise _refuse("§6.2", "a body-level location @= (a docs form, not the spec's)")
            end = _scan(raw, index + 2, "@^{[")
            location = _location(raw[index + 2 : end])
            used.add(DOCS_LOCATION_MODIFIER)
        elif mark == "^":
            end = _scan(raw, index + 1, "@{[")
            group = _identifier(raw[index + 1 : end], "group")
        elif mark == "@":
            end = _scan(raw, index + 1, "^{[")
            if not _DIGITS.fullmatch(raw[index + 1 : end]):
                raise _refuse("§6.2", f"timestamp {raw[index + 1 : end]!r} is not digits")
            time = int(raw[index + 1 : end])
        elif mark == "{":
            metadata, end = _metadata_block(raw, index)
        else:
            raise _refuse("§6.2", f"{raw[index : index + 20]!r} before the [ is no modifier")
        seen.append(mark)
        index = end
    # §6.2: ^GROUP, @TIMESTAMP, {METADATA} in that order; the docs' examples put @ before ^
    spec_order = [m for m in ("@=", "^", "@", "{") if m in seen]
    docs_order = [m for m in ("@=", "@", "^", "{") if m in seen]
    if seen != spec_order:
        if seen != docs_order or strict:
            raise _refuse("§6.2", f"body-level modifiers in the order {''.join(seen)}")
        used.add(DOCS_MODIFIER_ORDER)
    if index >= len(raw) or not raw.endswith("]") or _scan(raw, index + 1, "]") != len(raw) - 1:
        raise _refuse("§6.2", "a structured body is [variables], ending at its ]")
    inside = raw[index + 1 : -1]
    if not inside:
        raise _refuse("§6.3", "an empty variable block []")
    parts = split_unescaped(inside, ";")
    if len(parts) > MAX_VARIABLES:
        raise _refuse("§4.5.1", f"{len(parts)} variables in one block, over {MAX_VARIABLES}")
    variables = tuple(parse_variable(part, strict=strict, used=used) for part in parts)
    return PushBody(variables, group, time, metadata, location, frozenset(used))


def parse_pull_body(raw: str) -> tuple[str, ...]:
    """A PULL body (§12.3): `[name;name;...]`, each a variable name."""
    if not (raw.startswith("[") and raw.endswith("]")) or len(raw) < 3:
        raise _refuse("§7.1", "a PULL body is [name;...], bracket-wrapped even for one name")
    names = raw[1:-1].split(";")
    if len(names) > MAX_VARIABLES:
        raise _refuse("§4.5.1", f"{len(names)} variables in one block, over {MAX_VARIABLES}")
    return tuple(_identifier(name, "variable name") for name in names)


def pull_body(names: Iterable[str]) -> str:
    return "[" + ";".join(names) + "]"


def variable_list(variables: Iterable[Variable]) -> str:
    """A PULL answer's detail (§7.2): the variables found, bracket-wrapped."""
    return "[" + ";".join(v.text() for v in variables) + "]"


def parse_variable_list(raw: str) -> tuple[Variable, ...]:
    """A PULL answer's detail back into variables."""
    body = parse_push_body(raw)
    if isinstance(body, Passthrough) or body.group or body.time or body.metadata:
        raise _refuse("§7.2", "a PULL answer is a bare [variables] list")
    return body.variables


# --- frames (§4, §9, §12.1) -----------------------------------------------------------------


@dataclass(frozen=True)
class Uplink:
    """A client's frame (§4.1). `body` is the raw body text (parse it by method)."""

    method: str
    auth: str
    serial: str
    body: str | None = None
    seq: int | None = None

    def text(self) -> str:
        fields = [self.method]
        if self.seq is not None:
            fields.append(f"!{self.seq}")
        fields += [self.auth, self.serial]
        if self.body is not None:
            fields.append(self.body)
        return "|".join(fields)


@dataclass(frozen=True)
class Ack:
    """A server's frame (§4.2, §9)."""

    status: str
    detail: str | None = None
    seq: int | None = None

    def text(self) -> str:
        fields = ["ACK"]
        if self.seq is not None:
            fields.append(f"!{self.seq}")
        fields.append(self.status)
        if self.detail is not None:
            fields.append(self.detail)
        return "|".join(fields)

    @property
    def count(self) -> int | None:
        """The data points a PUSH's OK says were added (§9.1), or None for another ACK."""
        if self.status == "OK" and self.detail is not None and _DIGITS.fullmatch(self.detail):
            return int(self.detail)
        return None


def _strip_terminator(text: str) -> str:
    # §3: on message transports the trailing LF is optional; a receiver takes both
    return text[:-1] if text.endswith("\n") else text


def check_size(frame: str | bytes, limit: int = MAX_FRAME_BYTES) -> None:
    """§4.5: a frame over the limit in UTF-8 bytes (its LF not counted) is refused."""
    data = frame.encode() if isinstance(frame, str) else frame
    if data.endswith(b"\n"):
        data = data[:-1]
    if len(data) > limit:
        raise FrameError("payload_too_large", "§4.5", f"{len(data)} bytes, over {limit}")
    if b"\x00" in data:
        raise _refuse("§1.3", "a NUL byte in the frame")


def parse_counter(raw: str, rule: str = "§10.1") -> int:
    """`!N` (§10.3), its decimal counter a 32-bit unsigned integer without leading zeros."""
    if not raw.startswith("!") or not _COUNTER.fullmatch(raw[1:]):
        raise _refuse(rule, f"counter {raw!r} is not ! and a decimal without leading zeros")
    value = int(raw[1:])
    if value > MAX_COUNTER:
        raise _refuse(rule, f"counter {value} over 2**32 - 1")
    return value


def check_serial(serial: str) -> str:
    if not _SERIAL.fullmatch(serial):
        raise _refuse("§14", f"serial {serial[:40]!r} is not letters, digits, - and _")
    if len(serial) > MAX_IDENTIFIER:
        raise _refuse("§4.5.1", f"serial of {len(serial)} bytes, over {MAX_IDENTIFIER}")
    return serial


def parse_uplink(frame: str | bytes) -> Uplink:
    """A client's frame (§12.1): its size, fields, method, counter, auth and serial checked.

    The body is left raw: `parse_push_body` or `parse_pull_body` reads it."""
    check_size(frame)
    try:
        text = frame.decode() if isinstance(frame, bytes) else frame
    except UnicodeDecodeError as broken:
        raise _refuse("§1.3", "a frame that is not UTF-8") from broken
    fields = split_unescaped(_strip_terminator(text), "|")
    method = fields[0]
    if method not in UPLINK_METHODS:
        code = "invalid_method"
        raise FrameError(code, "§5.1", f"method {method[:20]!r} is not PUSH, PULL or PING")
    seq = None
    if len(fields) > 1 and fields[1].startswith("!"):
        seq = parse_counter(fields[1])
        fields = [method, *fields[2:]]
    expected = 3 if method == "PING" else 4
    if len(fields) != expected:
        raise _refuse("§12.1", f"{method} takes {expected} fields besides !N, not {len(fields)}")
    if not _AUTH.fullmatch(fields[1]):
        raise FrameError("invalid_token", "§4.1", "AUTH is not 16 hex characters")
    serial = check_serial(fields[2])
    body = fields[3] if method != "PING" else None
    return Uplink(method, fields[1].lower(), serial, body, seq)


def parse_ack(frame: str | bytes) -> Ack:
    """A server's frame (§12.1 step 3, §14 ack-frame): well-formed, or FrameError."""
    text = frame.decode() if isinstance(frame, bytes) else frame
    fields = split_unescaped(_strip_terminator(text), "|")
    if fields[0] != "ACK":
        raise _refuse("§4.2", f"{text[:30]!r} does not start with ACK")
    seq = None
    if len(fields) > 1 and fields[1].startswith("!"):
        seq = parse_counter(fields[1], "§9.5")
        fields = ["ACK", *fields[2:]]
    if len(fields) not in (2, 3):
        raise _refuse("§12.1", f"an ACK of {len(fields)} fields besides !N")
    status = fields[1]
    detail = fields[2] if len(fields) == 3 else None
    return _checked_ack(Ack(status, detail, seq))


def _checked_ack(ack: Ack) -> Ack:
    if ack.status not in ACK_STATUSES:
        raise _refuse("§9.1", f"status {ack.status!r} is not OK, PONG, CMD or ERR")
    if ack.status == "ERR" and ack.detail not in ERROR_CODES:
        raise _refuse("§9.2", f"error code {ack.detail!r} is none of §9.2's")
    if ack.status == "PONG" and ack.detail is not None:
        raise _refuse("§9.1", "a PONG with a detail")
    detail = ack.detail
    if detail is not None and not detail.startswith("[") and not _DETAIL.fullmatch(detail):
        raise _refuse("§14", f"detail {ack.detail[:30]!r} has characters no detail has")
    if ack.status == "OK" and ack.detail is not None and ack.detail.startswith("["):
        parse_variable_list(ack.detail)
    return ack


def parse_ack_payload(payload: str | bytes) -> Ack:
    """An ACK as the MQTT binding's ack topic carries it (TagoTipServers §3.3): no `ACK|`."""
    text = payload.decode() if isinstance(payload, bytes) else payload
    return parse_ack("ACK|" + text)


def ack_payload(ack: Ack) -> str:
    """`ack` as the MQTT binding's ack topic carries it: `[!N|]STATUS[|DETAIL]`."""
    return ack.text().removeprefix("ACK|")
