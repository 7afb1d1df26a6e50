"""The route table (schemas/routes.json): which routes the suite calls and what each returns.

The contract suite's recorder and the Locust request hook both ask this table which schema a
response's `result` must follow, so that a request is judged the same way wherever it was made.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from tagocheck.spec.schemas import load_contract_data

QueryParams = Mapping[str, str | Iterable[str]]


@dataclass(frozen=True)
class ResultCase:
    """A result schema that applies only to some requests (a query kind, a token kind)."""

    result: str
    query: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    token: tuple[str, ...] = ()

    def applies(self, token_kind: str | None, query: QueryParams) -> bool:
        if self.token and token_kind not in self.token:
            return False
        for param, accepted in self.query.items():
            sent = query.get(param)
            values = {sent} if isinstance(sent, str) else set(sent or ())
            if not values & set(accepted):
                return False
        return True


@dataclass(frozen=True)
class Route:
    id: str
    method: str
    path: str
    summary: str
    basis: str
    success_status: tuple[int, ...]
    result: str
    result_cases: tuple[ResultCase, ...] = ()
    request_body: str | None = None
    query_params: tuple[str, ...] = ()
    drift: tuple[str, ...] = ()
    array_params: tuple[str, ...] = ()
    acknowledgement: bool = False
    text_body: str | None = None
    parameter_schemas: Mapping[str, str] = field(default_factory=dict)

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(s[1:-1] for s in self.path.split("/") if s.startswith("{"))

    def parameter_schema(self, name: str) -> str:
        """The schema of a path or query parameter: parameters.schema.json's anchor of that
        name, unless the route names another."""
        return self.parameter_schemas.get(name, f"parameters.schema.json#{name}")

    @property
    def literal_segments(self) -> int:
        """How specific the path is: `/device/params` beats `/device/{id}`."""
        return sum(1 for s in self.path.split("/") if s and not s.startswith("{"))

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compile(self.path)

    def result_schema(self, token_kind: str | None = None, query: QueryParams | None = None) -> str:
        """The schema of `result` on success for this request; the first matching case wins."""
        for case in self.result_cases:
            if case.applies(token_kind, query or {}):
                return case.result
        return self.result


@cache
def _compile(template: str) -> re.Pattern[str]:
    parts = []
    for segment in template.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "/?$")


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    params: dict[str, str]


class RouteTable:
    """The routes of routes.json in file order, with lookup by id and by request."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.envelope: str = data["envelope"]
        self.status_bodies: dict[int, str] = {int(k): v for k, v in data["status_bodies"].items()}
        self.routes: tuple[Route, ...] = tuple(_route(r) for r in data["routes"])
        self._by_id = {r.id: r for r in self.routes}
        # Most specific templates first, so literal segments win over parameters.
        self._for_matching = sorted(self.routes, key=lambda r: -r.literal_segments)

    def __iter__(self):
        return iter(self.routes)

    def __len__(self) -> int:
        return len(self.routes)

    def __getitem__(self, route_id: str) -> Route:
        return self._by_id[route_id]

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.routes]

    def match(self, method: str, path: str) -> RouteMatch | None:
        """The route a request goes to, or None when the table has no such route."""
        method = method.upper()
        path = path.split("?", 1)[0]
        for route in self._for_matching:
            if route.method == method and (found := route.pattern.match(path)):
                return RouteMatch(route, found.groupdict())
        return None

    def methods_for(self, path: str) -> list[str]:
        """The methods the table knows for a path: empty means 404, otherwise a miss is a 405."""
        path = path.split("?", 1)[0]
        return sorted({r.method for r in self.routes if r.pattern.match(path)})


def _route(data: Mapping[str, Any]) -> Route:
    return Route(
        id=data["id"],
        method=data["method"],
        path=data["path"],
        summary=data["summary"],
        basis=data["basis"],
        success_status=tuple(data["success_status"]),
        result=data["result"],
        result_cases=tuple(
            ResultCase(
                result=case["result"],
                query={k: tuple(v) for k, v in case["when"].get("query", {}).items()},
                token=tuple(case["when"].get("token", ())),
            )
            for case in data.get("result_cases", ())
        ),
        request_body=data.get("request_body"),
        query_params=tuple(data.get("query_params", ())),
        drift=tuple(data.get("drift", ())),
        array_params=tuple(data.get("array_params", ())),
        acknowledgement=data.get("acknowledgement", False),
        text_body=data.get("text_body"),
        parameter_schemas=dict(data.get("parameter_schemas", {})),
    )


@cache
def route_table() -> RouteTable:
    """The shipped route table, checked against schemas/routes.schema.json."""
    return RouteTable(load_contract_data("routes.json", "routes"))
