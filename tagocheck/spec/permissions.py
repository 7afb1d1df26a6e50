"""The token-permission matrix (schemas/permissions.json): who may call which route.

The contract suite generates one test per cell from it. The embedded target does not read it: it
implements its own authorization, so that the two readings of the contract check each other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from tagocheck.spec.schemas import load_contract_data


@dataclass(frozen=True)
class Cell:
    route: str
    token_kind: str
    allowed: bool
    basis: str
    status: tuple[int, ...] = ()
    """The status codes accepted for a denial; empty when allowed."""
    message: str | None = None
    note: str | None = None

    @property
    def id(self) -> str:
        """A test id such as `device-read-POST /data`."""
        return f"{self.token_kind}-{self.route}"


class PermissionMatrix:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.token_kinds: dict[str, str] = dict(data["token_kinds"])
        self._cells = {
            (route, kind): Cell(
                route=route,
                token_kind=kind,
                allowed=cell["allowed"],
                basis=cell["basis"],
                status=tuple(cell.get("status", ())),
                message=cell.get("message"),
                note=cell.get("note"),
            )
            for route, row in data["matrix"].items()
            for kind, cell in row.items()
        }
        self.routes: list[str] = list(data["matrix"])

    def __iter__(self) -> Iterator[Cell]:
        return iter(self._cells.values())

    def __len__(self) -> int:
        return len(self._cells)

    def cell(self, route: str, token_kind: str) -> Cell:
        return self._cells[(route, token_kind)]

    def allowed_kinds(self, route: str) -> list[str]:
        return [k for k in self.token_kinds if (c := self._cells.get((route, k))) and c.allowed]


@cache
def permission_matrix() -> PermissionMatrix:
    """The shipped matrix, checked against schemas/permissions.schema.json."""
    return PermissionMatrix(load_contract_data("permissions.json", "permissions"))
