"""Known defects of TagoIO's OpenAPI file (facts section 6), worked around so Schemathesis can run
it, each said as a line of its own, never silently:

- a security requirement naming no defined scheme (the file's global `ProfileToken`, where the
  scheme is `Profile-Token`): pointed at the scheme whose name differs only in case and dashes,
  else dropped (a tool run verbatim sends account calls with no token);
- `//` comments in example bodies (not JSON): the comments are cut, and an example of a JSON
  body that then parses becomes that JSON;
- a path parameter marked optional (a path parameter is always required in OpenAPI): marked
  required.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import orjson

METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


@dataclass(frozen=True)
class Defect:
    kind: str
    where: str
    fix: str

    def __str__(self) -> str:
        return f"spec defect: {self.kind} at {self.where}: {self.fix}"


def repair(document: dict[str, Any]) -> tuple[dict[str, Any], list[Defect]]:
    """A copy of the document with every known defect worked around, and the defects found,
    each once."""
    fixed = copy.deepcopy(document)
    defects: list[Defect] = []
    _security(fixed, defects)
    for path, item in (fixed.get("paths") or {}).items():
        _path_parameters(fixed, item, path, defects)  # parameters of every operation on the path
        for method, operation in item.items():
            if method not in METHODS or not isinstance(operation, dict):
                continue
            where = f"{method.upper()} {path}"
            _examples(operation, where, defects)
            _path_parameters(fixed, operation, where, defects)
    return fixed, list(dict.fromkeys(defects))


def _squashed(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _security(document: dict[str, Any], defects: list[Defect]) -> None:
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    by_squashed = {_squashed(name): name for name in schemes}
    places = [("the document's security", document)] + [
        (f"{method.upper()} {path}", operation)
        for path, item in (document.get("paths") or {}).items()
        for method, operation in item.items()
        if method in METHODS and isinstance(operation, dict)
    ]
    for where, holder in places:
        requirements = holder.get("security")
        if not isinstance(requirements, list):
            continue
        kept = []
        for requirement in requirements:
            renamed = {}
            for name, scopes in (requirement or {}).items():
                if name in schemes:
                    renamed[name] = scopes
                    continue
                target = by_squashed.get(_squashed(name))
                fix = f"used scheme {target!r}" if target else "dropped (no scheme is like it)"
                defects.append(Defect(f"security scheme {name!r} is not defined", where, fix))
                if target:
                    renamed[target] = scopes
            if renamed or not requirement:
                kept.append(renamed)
        holder["security"] = kept


def strip_comments(text: str) -> str:
    """The text without `//` comments outside JSON strings (a URL's // inside a string stays)."""
    out, in_string, escaped, i = [], False, False, 0
    while i < len(text):
        char = text[i]
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif text.startswith("//", i):
            while i < len(text) and text[i] not in "\r\n":
                i += 1
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _examples(operation: dict[str, Any], where: str, defects: list[Defect]) -> None:
    content = (operation.get("requestBody") or {}).get("content") or {}
    for media, body in content.items():
        holders = [body, *(body.get("examples") or {}).values()]
        for holder in holders:
            key = "value" if holder is not body else "example"
            value = holder.get(key) if isinstance(holder, dict) else None
            if not isinstance(value, str) or strip_comments(value) == value:
                continue
            cleaned = strip_comments(value)
            fix = "comments cut"
            if "json" in media:
                try:
                    cleaned = orjson.loads(cleaned)
                    fix = "comments cut, the example read as JSON"
                except orjson.JSONDecodeError:
                    fix = "comments cut (still not JSON)"
            holder[key] = cleaned
            defects.append(Defect(f"// comments in a {media} example body", where, fix))


def _path_parameters(
    document: dict[str, Any], operation: dict[str, Any], where: str, defects: list[Defect]
) -> None:
    parameters = (document.get("components") or {}).get("parameters") or {}
    for parameter in operation.get("parameters") or []:
        if "$ref" in parameter:
            parameter = parameters.get(parameter["$ref"].rsplit("/", 1)[-1], {})
        if parameter.get("in") == "path" and parameter.get("required") is not True:
            parameter["required"] = True
            name = parameter.get("name")
            defects.append(Defect(f"path parameter {name!r} is marked optional", where, "required"))
