"""schemas/ rendered as one OpenAPI 3.1 document, for tools that speak OpenAPI (Schemathesis,
Spectral, client generators) rather than our route table.

The document is generated, never written beside the schemas: every route, parameter, body,
response and token scheme comes from routes.json, parameters.schema.json and
permissions.json, so it cannot drift from what the contract suite checks. The schema files go
into `components/schemas` whole, their references rewritten to JSON pointers (OpenAPI tools
resolve pointers, few resolve `$anchor`s), and our own keywords (`asShown`, `maxUtf8Bytes`...)
become `x-tagocheck-` extensions: another validator skips them as annotations, so a deviation
our grading calls a documented form is never a failure there, and a byte size is stated, not
checked.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

from tagocheck import __version__
from tagocheck.spec.permissions import PermissionMatrix, permission_matrix
from tagocheck.spec.routes import Route, RouteTable, route_table
from tagocheck.spec.schemas import OWN_KEYWORDS, SCHEMA_SUFFIX, read_json, schema_files

OPENAPI_VERSION = "3.1.0"
EXTENSION_PREFIX = "x-tagocheck-"

# Token kinds of permissions.json -> the security schemes that carry them, in the order a
# tool should pick them: the header named for the kind first [facts 1].
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "DeviceToken": {
        "name": "Device-Token",
        "description": "A device's token: the device data routes [C].",
    },
    "ProfileToken": {
        "name": "Profile-Token",
        "description": "A profile token: the account routes [C].",
    },
    "AccountToken": {
        "name": "Account-Token",
        "description": "A profile token under its other name [C].",
    },
    "NetworkToken": {
        "name": "Token",
        "description": "A network token: the integration routes [C]. The SDKs send every kind "
        "of token in this header (as lowercase token) [SDK].",
    },
    "MiddlewareToken": {
        "name": "Middleware-Token",
        "description": "The older name of the network token's header [H].",
    },
    "AnalysisToken": {
        "name": "Analysis-Token",
        "description": "An analysis token: no route of its own until an Access Management policy "
        "grants one [C].",
    },
    "RawAuthorization": {
        "name": "Authorization",
        "description": "Any token, raw, without Bearer (the data pages) [C].",
    },
}
SCHEMES_OF_KIND = {
    "device-full": ("DeviceToken", "NetworkToken", "RawAuthorization"),
    "device-write": ("DeviceToken", "NetworkToken", "RawAuthorization"),
    "device-read": ("DeviceToken", "NetworkToken", "RawAuthorization"),
    "profile": ("ProfileToken", "AccountToken", "NetworkToken", "RawAuthorization"),
    "network": ("NetworkToken", "MiddlewareToken", "RawAuthorization"),
    "analysis-no-policy": ("AnalysisToken", "NetworkToken", "RawAuthorization"),
}

FAILURES = {
    "400": "The request is invalid; the message names the field [C].",
    "401": "No token, or one that is not valid (any more) [C].",
    "403": "The token may not do this, or plain HTTP without _ssl=false [C].",
    "404": "No such resource or route [C].",
    "4XX": "Another failure of the request [C].",
    "5XX": "A server error [C].",
}


def component_name(schema_file: str) -> str:
    """`results/data.schema.json` -> `results-data`: a components key OpenAPI allows."""
    return schema_file.removesuffix(SCHEMA_SUFFIX).replace("/", "-")


class Bundle:
    """Every schema file as a component, with each `$anchor` known by its JSON pointer."""

    def __init__(self) -> None:
        self.files = {name: read_json(name) for name in schema_files()}
        self.anchors: dict[tuple[str, str], str] = {}
        for name, contents in self.files.items():
            for anchor, pointer in _anchors(contents, ""):
                self.anchors[(name, anchor)] = pointer

    def pointer(self, reference: str, base: str = "") -> str:
        """A `file#anchor` reference (relative to the file `base`) as a document pointer."""
        path, _, fragment = reference.partition("#")
        name = posixpath.normpath(posixpath.join(posixpath.dirname(base), path)) if path else base
        if name not in self.files:
            raise KeyError(f"{reference!r} (from {base or 'routes.json'}) names no schema file")
        if fragment.startswith("/") or not fragment:
            inner = fragment
        elif (name, fragment) in self.anchors:
            inner = self.anchors[(name, fragment)]
        else:
            raise KeyError(f"{reference!r} (from {base or 'routes.json'}) names no anchor")
        return f"#/components/schemas/{component_name(name)}{inner}"

    def node(self, reference: str) -> Any:
        """The schema a `file#anchor` reference names, as written in its file."""
        path, _, anchor = reference.partition("#")
        found = self.files[path]
        for part in self.anchors[(path, anchor)].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            found = found[int(part)] if isinstance(found, list) else found[part]
        return found

    def ref(self, reference: str) -> dict[str, str]:
        return {"$ref": self.pointer(reference)}

    def components(self) -> dict[str, Any]:
        return {
            component_name(name): self._rewrite(contents, name)
            for name, contents in self.files.items()
        }

    def _rewrite(self, node: Any, base: str) -> Any:
        if isinstance(node, list):
            return [self._rewrite(item, base) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("$schema", "$id", "$anchor"):
                continue
            if key == "$ref":
                out[key] = self.pointer(value, base)
            elif key in OWN_KEYWORDS:
                out[EXTENSION_PREFIX + key] = self._rewrite(value, base)
            elif key in ("properties", "$defs", "patternProperties", "dependentSchemas"):
                out[key] = {k: self._rewrite(v, base) for k, v in value.items()}
            else:
                out[key] = self._rewrite(value, base)
        return out


def _anchors(node: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        if isinstance(node.get("$anchor"), str):
            yield node["$anchor"], pointer
        for key, value in node.items():
            escaped = str(key).replace("~", "~0").replace("/", "~1")
            yield from _anchors(value, f"{pointer}/{escaped}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _anchors(value, f"{pointer}/{index}")


def operation_id(route: Route) -> str:
    """`POST /device/{id}/params` -> `post-device-id-params`."""
    words = [route.method.lower()]
    words += [s.strip("{}") for s in route.path.split("/") if s]
    return "-".join(words).replace("_", "-")


def _security(route: Route, matrix: PermissionMatrix) -> list[dict[str, list[str]]]:
    schemes: list[str] = []
    for kind in matrix.allowed_kinds(route.id):
        schemes += [s for s in SCHEMES_OF_KIND.get(kind, ()) if s not in schemes]
    return [{scheme: []} for scheme in schemes]


def document_paths(table: RouteTable) -> dict[str, str]:
    """Route id -> its path in the document. OpenAPI forbids two templates that differ only in
    their parameters' names (GET /device/token/{device_id}, DELETE /device/token/{token}): such
    routes share one path whose parameter is named by all their names (device_id_or_token)."""
    shapes: dict[str, list[Route]] = {}
    for route in table:
        shape = "/".join("{}" if s.startswith("{") else s for s in route.path.split("/"))
        shapes.setdefault(shape, []).append(route)
    paths = {}
    for routes in shapes.values():
        segments = [r.path.split("/") for r in routes]
        merged = []
        for position, part in enumerate(segments[0]):
            names = list(dict.fromkeys(s[position].strip("{}") for s in segments))
            merged.append("{" + "_or_".join(names) + "}" if part.startswith("{") else part)
        for route in routes:
            paths[route.id] = "/".join(merged)
    return paths


def _parameters(route: Route, path: str, bundle: Bundle) -> list[dict[str, Any]]:
    names = [s[1:-1] for s in path.split("/") if s.startswith("{")]
    params: list[dict[str, Any]] = [
        {"name": shown, "in": "path", "required": True, **_schema(route, name, bundle)}
        for shown, name in zip(names, route.path_params, strict=True)
    ]
    for name in route.query_params:
        param: dict[str, Any] = {"name": name, "in": "query", **_schema(route, name, bundle)}
        if name == "filter":
            param |= {"style": "deepObject", "explode": True}
        elif name in route.array_params:
            param |= {
                "style": "form",
                "explode": True,
                "x-tagocheck-array-forms": ["name=a&name=b", "name[]=a", "name[0]=a"],
            }
        params.append(param)
    return params


def _schema(route: Route, name: str, bundle: Bundle) -> dict[str, Any]:
    reference = route.parameter_schema(name)
    described = bundle.node(reference).get("description")
    return {"schema": bundle.ref(reference), **({"description": described} if described else {})}


def _success_schema(route: Route, table: RouteTable, bundle: Bundle) -> dict[str, Any]:
    results = [route.result, *(case.result for case in route.result_cases)]
    unique = list(dict.fromkeys(results))
    result = (
        bundle.ref(unique[0]) if len(unique) == 1 else {"anyOf": [bundle.ref(r) for r in unique]}
    )
    return {
        "allOf": [
            bundle.ref(f"{table.envelope}#success"),
            {"properties": {"result": result}},
        ]
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _responses(
    route: Route, table: RouteTable, bundle: Bundle, links: dict[str, Any]
) -> dict[str, Any]:
    failure = bundle.ref(f"{table.envelope}#failure")
    responses: dict[str, Any] = {}
    for status in route.success_status:
        responses[str(status)] = {
            "description": route.summary,
            "content": _json(_success_schema(route, table, bundle)),
            **({"links": links} if links else {}),
        }
    for status, body in table.status_bodies.items():
        responses[str(status)] = {
            "description": "Over a rate limit [C].",
            "headers": {
                "Retry-After": {
                    "description": "Seconds until the window resets; read by TagoIO's own "
                    "tooling, not documented [SDK], so not required.",
                    "schema": {"type": "integer", "minimum": 0},
                }
            },
            "content": _json(bundle.ref(body)),
        }
    for status, description in FAILURES.items():
        responses.setdefault(status, {"description": description, "content": _json(failure)})
    if route.request_body:
        responses["413"] = {
            "description": "The body is over 200 kB [C].",
            "content": _json(failure),
        }
    return dict(sorted(responses.items()))


def _request_body(route: Route, bundle: Bundle) -> dict[str, Any] | None:
    if not route.request_body:
        return None
    content = _json(bundle.ref(route.request_body))
    if route.text_body:
        content["text/plain"] = {"schema": bundle.ref(route.text_body)}
    return {"required": True, "content": content}


# The stateful flows, as links between operations: what one answer hands to the next request
# (create a device -> its token -> post, read, edit and delete data -> delete the device).
_NEW_DEVICE = "$response.body#/result/device_id"
_NEW_TOKEN = "$response.body#/result/token"
_DEVICE_TOKEN = "header.Device-Token"
_SAME_DEVICE = "$request.path.id"
_FIRST_ID = "$response.body#/result/0/id"
LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "POST /device": {
        "GetDevice": {"route": "GET /device/{id}", "parameters": {"path.id": _NEW_DEVICE}},
        "EditDevice": {"route": "PUT /device/{id}", "parameters": {"path.id": _NEW_DEVICE}},
        "ListParams": {"route": "GET /device/{id}/params", "parameters": {"path.id": _NEW_DEVICE}},
        "SetParams": {"route": "POST /device/{id}/params", "parameters": {"path.id": _NEW_DEVICE}},
        "ListTokens": {
            "route": "GET /device/token/{device_id}",
            "parameters": {"path.device_id": _NEW_DEVICE},
        },
        "CreateToken": {
            "route": "POST /device/token",
            "requestBody": {"device": _NEW_DEVICE, "name": "link", "permission": "full"},
        },
        "SendData": {"route": "POST /data", "parameters": {_DEVICE_TOKEN: _NEW_TOKEN}},
        "ReadData": {"route": "GET /data", "parameters": {_DEVICE_TOKEN: _NEW_TOKEN}},
        "EditData": {"route": "PUT /data", "parameters": {_DEVICE_TOKEN: _NEW_TOKEN}},
        "DeleteData": {"route": "DELETE /data", "parameters": {_DEVICE_TOKEN: _NEW_TOKEN}},
        "DeviceInfo": {"route": "GET /info", "parameters": {_DEVICE_TOKEN: _NEW_TOKEN}},
        **{
            name: {"route": route, "parameters": {"path.id": _NEW_DEVICE}}
            for name, route in (
                ("ReadDeviceData", "GET /device/{id}/data"),
                ("SendDeviceData", "POST /device/{id}/data"),
                ("EditDeviceData", "PUT /device/{id}/data"),
                ("DeleteDeviceData", "DELETE /device/{id}/data"),
                ("DataAmount", "GET /device/{id}/data_amount"),
                ("EmptyDevice", "POST /device/{id}/empty"),
                ("ConvertDevice", "POST /device/{id}/convert"),
                ("BackupData", "POST /device/{id}/data/backup"),
                ("ListChunks", "GET /device/{id}/chunk"),
                ("NetworkSetParams", "POST /integration/network/{id}/params"),
            )
        },
        "DeleteDevice": {"route": "DELETE /device/{id}", "parameters": {"path.id": _NEW_DEVICE}},
    },
    "POST /device/{id}/params": {
        "ListParams": {"route": "GET /device/{id}/params", "parameters": {"path.id": _SAME_DEVICE}},
    },
    "POST /device/{id}/data": {
        name: {"route": route, "parameters": {"path.id": _SAME_DEVICE}}
        for name, route in (
            ("ListChunks", "GET /device/{id}/chunk"),
            ("DataAmount", "GET /device/{id}/data_amount"),
            ("BackupData", "POST /device/{id}/data/backup"),
            ("ReadDeviceData", "GET /device/{id}/data"),
        )
    },
    "GET /device/{id}/params": {
        "DeleteParam": {
            "route": "DELETE /device/{id}/params/{param_id}",
            "parameters": {"path.id": _SAME_DEVICE, "path.param_id": _FIRST_ID},
        },
    },
    "POST /device/{id}/data/backup": {
        "RestoreData": {
            "route": "POST /device/{id}/data/restore",
            "parameters": {"path.id": _SAME_DEVICE},
            "requestBody": {"file_address": "$response.body#/result/file_address"},
        },
    },
    "GET /device/{id}/chunk": {
        "BackupChunk": {
            "route": "POST /device/{id}/chunk/backup",
            "parameters": {"path.id": _SAME_DEVICE},
            "requestBody": {"chunk_id": _FIRST_ID, "headers": True},
        },
        "DeleteChunk": {
            "route": "DELETE /device/{id}/chunk/{chunk_id}",
            "parameters": {"path.id": _SAME_DEVICE, "path.chunk_id": _FIRST_ID},
        },
    },
    "POST /device/token": {
        "SendData": {"route": "POST /data", "parameters": {_DEVICE_TOKEN: _NEW_TOKEN}},
        "ReadData": {"route": "GET /data", "parameters": {_DEVICE_TOKEN: _NEW_TOKEN}},
        "DeleteToken": {
            "route": "DELETE /device/token/{token}",
            "parameters": {"path.token": _NEW_TOKEN},
        },
    },
}


def _links(route: Route, shown_paths: dict[str, str]) -> dict[str, Any]:
    found = {}
    for name, link in LINKS.get(route.id, {}).items():
        target = route_table()[link["route"]]
        renamed = dict(zip(target.path.split("/"), shown_paths[target.id].split("/"), strict=True))
        parameters = {}
        for key, expression in link.get("parameters", {}).items():
            where, _, param = key.partition(".")
            if where == "path":
                param = renamed["{" + param + "}"].strip("{}")
            parameters[f"{where}.{param}"] = expression
        found[name] = {
            "operationId": operation_id(target),
            **({"parameters": parameters} if parameters else {}),
            **({"requestBody": link["requestBody"]} if "requestBody" in link else {}),
        }
    return found


def document(server: str | None = None) -> dict[str, Any]:
    """The contract as an OpenAPI 3.1 document; `server` becomes its one server URL."""
    table, matrix, bundle = route_table(), permission_matrix(), Bundle()
    shown_paths = document_paths(table)
    paths: dict[str, dict[str, Any]] = {}
    for route in table:
        path = shown_paths[route.id]
        operation: dict[str, Any] = {
            "operationId": operation_id(route),
            "summary": route.summary,
            "x-tagocheck-basis": route.basis,
            "security": _security(route, matrix),
            "parameters": _parameters(route, path, bundle),
            "responses": _responses(route, table, bundle, _links(route, shown_paths)),
        }
        if route.drift:
            operation["x-tagocheck-documented-variants"] = list(route.drift)
        body = _request_body(route, bundle)
        if body:
            operation["requestBody"] = body
        if not operation["parameters"]:
            del operation["parameters"]
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "TagoIO REST API, as tagocheck reads it",
            "version": __version__,
            "description": "Generated by `tagocheck openapi` from tagocheck's schemas/ (the "
            "route table, the schemas and the token-permission matrix). Where official sources "
            "disagree every documented variant is accepted. x-tagocheck- keywords carry what "
            "OpenAPI cannot say: a form shown only by example (x-tagocheck-asShown, a deviation "
            "when broken), sizes in bytes, the array forms of a list parameter.",
        },
        **({"servers": [{"url": server}]} if server else {}),
        "paths": paths,
        "components": {
            "schemas": bundle.components(),
            "securitySchemes": {
                name: {"type": "apiKey", "in": "header", **scheme}
                for name, scheme in SECURITY_SCHEMES.items()
            },
        },
    }
