"""TagoTiP bodies, built and parsed: typed variables with their suffixes, body-level defaults,
metadata, passthrough payloads, PULL lists (tago-io/tagotip `TagoTiP.md` §6, §7, §12.2-§12.4).

Where TagoIO's documentation pages (tago-io/docs `docs/tagotip/`) show a form the specification
does not have, the parser accepts it too, names it a docs variant on the parsed body ([X] in
schemas/tagotip.md), and refuses it only when asked to be strict, so a check can tell which form
a target takes and never call a documented form a violation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from tagocheck.tagotip.grammar import (
    DIGITS,
    MAX_METADATA,
    MAX_UNIT,
    MAX_VARIABLES,
    check_text,
    escape,
    identifier,
    refuse,
    scan,
    split_unescaped,
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
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")  # §6.5 >x: byte pairs
_BASE64 = re.compile(r"[A-Za-z0-9+/=]+")  # §14 BASE64CHAR


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
        raise refuse(rule, f"{raw!r} is not a number as -?(0|[1-9][0-9]*)(.[0-9]+)? writes one")
    return float(raw) if "." in raw else int(raw)


def _location(raw: str, rule: str = "§6.3.1") -> Location:
    parts = raw.split(",")
    if len(parts) not in (2, 3):
        raise refuse(rule, f"location {raw!r} is not lat,lng or lat,lng,alt")
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
        return variable_text(
            self.name,
            self.kind,
            self.value,
            self.unit,
            self.time,
            self.group,
            self.metadata,
            self.location,
        )


def variable_text(
    name: str,
    kind: Kind,
    value: Value,
    unit: str | None = None,
    time: int | None = None,
    group: str | None = None,
    metadata: Mapping[str, str] | None = None,
    location: Location | None = None,
) -> str:
    """A variable on the wire, suffixes in §6.3's order: Variable.text, also called without a
    Variable by a fleet writing a frame per report (building the frozen dataclass first was
    most of the cost of a TagoTiP body on the generator, bench/paths.py)."""
    if kind == "number":
        written = _number_text(value)  # type: ignore[arg-type]
    elif kind == "boolean":
        written = "true" if value else "false"
    elif kind == "location":
        written = value.text()  # type: ignore[union-attr]
    else:
        written = escape(str(value))
    text = name + SYMBOL[kind] + written
    if unit is not None:
        text += "#" + unit
    if location is not None:
        text += "@=" + location.text()
    if time is not None:
        text += "@" + str(time)
    if group is not None:
        text += "^" + group
    if metadata:
        text += _metadata_text(metadata)
    return text


def _metadata_text(metadata: Mapping[str, str]) -> str:
    return "{" + ",".join(f"{k}={escape(v, extra=',')}" for k, v in metadata.items()) + "}"


def _parse_metadata(raw: str) -> dict[str, str]:
    """The pairs inside a `{...}` block (§6.3.2): split by unescaped `,`, each on its first `=`."""
    if not raw:
        raise refuse("§6.3", "an empty metadata block {}")
    pairs = split_unescaped(raw, ",")
    if len(pairs) > MAX_METADATA:
        raise refuse("§4.5.1", f"{len(pairs)} metadata pairs, over {MAX_METADATA}")
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals:
            raise refuse("§12.2", f"metadata pair {pair!r} has no =")
        metadata[identifier(key, "metadata key")] = check_text(
            value, "§14", "metadata value", escapes=True, also_excluded=","
        )
    return metadata


def _metadata_block(raw: str, start: int) -> tuple[dict[str, str], int]:
    """The metadata of the block opening at raw[start] == "{", and the index after its "}"."""
    end = scan(raw, start + 1, "}")
    if end >= len(raw):
        raise refuse("§12.2", "a metadata block with no closing }")
    return _parse_metadata(raw[start + 1 : end]), end + 1


def parse_variable(raw: str, *, strict: bool = False, used: set[str] | None = None) -> Variable:
    """One variable of a `[...]` block, left to right in a single pass (§12.2)."""
    index = 0
    while index < len(raw) and raw[index] not in ":?@=":
        index += 1
    name = identifier(raw[:index], "variable name")
    # §12.4: multi-character operators first (the table's order)
    operator = next((op for op in OPERATORS if raw.startswith(op, index)), None)
    if operator is None:
        raise refuse("§6.3.1", f"variable {raw!r} has no operator (:= = ?= @=)")
    kind = OPERATORS[operator]
    index += len(operator)
    end = scan(raw, index, "#@^{")
    if kind == "location":
        # a location's commas and digits end at the first suffix mark; "#" is a parse error
        end = scan(raw, index, "@^{#")
    text = raw[index:end]
    if kind == "number":
        value: Value = _number(text)
    elif kind == "boolean":
        if text not in ("true", "false"):
            raise refuse("§6.3.1", f"boolean {text!r} is not true or false")
        value = text == "true"
    elif kind == "location":
        value = _location(text)
    else:
        value = check_text(text, "§6.3.1", "string value", escapes=True)
    index = end
    unit = time = group = location = None
    metadata: dict[str, str] = {}
    # suffixes, each at most once and in §6.3.2's order (the docs' location after the unit)
    order = ["#", "@=", "@", "^", "{"]
    last = -1
    while index < len(raw):
        mark = "@=" if raw.startswith("@=", index) else raw[index]
        if mark not in order:
            raise refuse("§6.3", f"{raw[index:]!r} after the value is no suffix")
        place = order.index(mark)
        if place <= last:
            raise refuse("§6.3", f"suffix {mark!r} out of order or repeated in {raw!r}")
        last = place
        if mark == "#":
            if kind == "location":
                raise refuse("§6.3.2", "a #unit after a location value")
            end = scan(raw, index + 1, "@^{")
            unit = check_text(raw[index + 1 : end], "§14", "unit", escapes=False)
            if len(unit.encode()) > MAX_UNIT:
                raise refuse("§4.5.1", f"unit of {len(unit.encode())} bytes, over {MAX_UNIT}")
        elif mark == "@=":
            if strict or kind == "location":
                raise refuse("§6.3.2", "a location suffix @= (a docs form, not the spec's)")
            end = scan(raw, index + 2, "@^{")
            location = _location(raw[index + 2 : end])
            if used is not None:
                used.add(DOCS_LOCATION_SUFFIX)
        elif mark == "@":
            end = scan(raw, index + 1, "^{")
            if not DIGITS.fullmatch(raw[index + 1 : end]):
                raise refuse("§6.3.2", f"timestamp {raw[index + 1 : end]!r} is not digits")
            time = int(raw[index + 1 : end])
        elif mark == "^":
            end = scan(raw, index + 1, "{")
            group = identifier(raw[index + 1 : end], "group")
        else:
            metadata, end = _metadata_block(raw, index)
            if end != len(raw):
                raise refuse("§6.3", f"{raw[end:]!r} after a variable's metadata")
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
        raise refuse("§6.5", f"passthrough {raw[:20]!r} is not >x with byte pairs or >b base64")
    used: set[str] = set()
    index = 0
    group = time = location = None
    metadata: dict[str, str] = {}
    seen: list[str] = []
    while index < len(raw) and raw[index] != "[":
        mark = "@=" if raw.startswith("@=", index) else raw[index]
        if mark in seen:
            raise refuse("§6.2", f"body-level modifier {mark!r} repeated")
        if mark == "@=":
            if strict:
                raise refuse("§6.2", "a body-level location @= (a docs form, not the spec's)")
            end = scan(raw, index + 2, "@^{[")
            location = _location(raw[index + 2 : end])
            used.add(DOCS_LOCATION_MODIFIER)
        elif mark == "^":
            end = scan(raw, index + 1, "@{[")
            group = identifier(raw[index + 1 : end], "group")
        elif mark == "@":
            end = scan(raw, index + 1, "^{[")
            if not DIGITS.fullmatch(raw[index + 1 : end]):
                raise refuse("§6.2", f"timestamp {raw[index + 1 : end]!r} is not digits")
            time = int(raw[index + 1 : end])
        elif mark == "{":
            metadata, end = _metadata_block(raw, index)
        else:
            raise refuse("§6.2", f"{raw[index : index + 20]!r} before the [ is no modifier")
        seen.append(mark)
        index = end
    # §6.2: ^GROUP, @TIMESTAMP, {METADATA} in that order; the docs' examples put @ before ^
    spec_order = [m for m in ("@=", "^", "@", "{") if m in seen]
    docs_order = [m for m in ("@=", "@", "^", "{") if m in seen]
    if seen != spec_order:
        if seen != docs_order or strict:
            raise refuse("§6.2", f"body-level modifiers in the order {''.join(seen)}")
        used.add(DOCS_MODIFIER_ORDER)
    if index >= len(raw) or not raw.endswith("]") or scan(raw, index + 1, "]") != len(raw) - 1:
        raise refuse("§6.2", "a structured body is [variables], ending at its ]")
    inside = raw[index + 1 : -1]
    if not inside:
        raise refuse("§6.3", "an empty variable block []")
    parts = split_unescaped(inside, ";")
    if len(parts) > MAX_VARIABLES:
        raise refuse("§4.5.1", f"{len(parts)} variables in one block, over {MAX_VARIABLES}")
    variables = tuple(parse_variable(part, strict=strict, used=used) for part in parts)
    return PushBody(variables, group, time, metadata, location, frozenset(used))


def parse_pull_body(raw: str) -> tuple[str, ...]:
    """A PULL body (§12.3): `[name;name;...]`, each a variable name."""
    if not (raw.startswith("[") and raw.endswith("]")) or len(raw) < 3:
        raise refuse("§7.1", "a PULL body is [name;...], bracket-wrapped even for one name")
    names = raw[1:-1].split(";")
    if len(names) > MAX_VARIABLES:
        raise refuse("§4.5.1", f"{len(names)} variables in one block, over {MAX_VARIABLES}")
    return tuple(identifier(name, "variable name") for name in names)


def pull_body(names: Iterable[str]) -> str:
    return "[" + ";".join(names) + "]"


def variable_list(variables: Iterable[Variable]) -> str:
    """A PULL answer's detail (§7.2): the variables found, bracket-wrapped."""
    return "[" + ";".join(v.text() for v in variables) + "]"


def parse_variable_list(raw: str) -> tuple[Variable, ...]:
    """A PULL answer's detail back into variables."""
    body = parse_push_body(raw)
    if isinstance(body, Passthrough) or body.group or body.time or body.metadata:
        raise refuse("§7.2", "a PULL answer is a bare [variables] list")
    return body.variables
