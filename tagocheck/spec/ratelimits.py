"""The rate-limit plans (schemas/rate-limits.json): hard limits per route and calendar minute.

Limits are counted per profile and per route in fixed windows aligned to the clock, so a request's
window is `floor(t / seconds)`; a throttled route is free again at the next boundary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from tagocheck.spec.routes import QueryParams
from tagocheck.spec.schemas import load_contract_data


class UnknownPlan(KeyError):
    """A plan name that rate-limits.json does not have."""


NO_PLAN = "none"
"""No plan: a self-hosted server or an unknown account. Nothing is judged against plan limits;
the limits a run meets are observations. The embedded target calls it `unlimited`, accepted as
the same word everywhere."""
NO_PLAN_NAMES = (NO_PLAN, "unlimited")


def plan_choices() -> list[str]:
    """Every --plan a user may give: the documented plans, then none."""
    return [*rate_limits().plans, NO_PLAN]


def parse_plan(text: str) -> str:
    """A --plan as given: a documented plan, or NO_PLAN for `none` (or `unlimited`)."""
    if text in NO_PLAN_NAMES:
        return NO_PLAN
    if text not in rate_limits().plans:
        raise UnknownPlan(f"--plan {text!r}: one of {', '.join(plan_choices())}")
    return text


def served_plan(plan: str) -> str:
    """The embedded target's name for a plan (`tagocheck serve --plan`)."""
    return "unlimited" if plan == NO_PLAN else plan


@dataclass(frozen=True)
class Limit:
    routes: tuple[str, ...]
    per_minute: Mapping[str, int]
    query: Mapping[str, str]

    def covers(self, route_id: str, query: QueryParams) -> bool:
        if route_id not in self.routes:
            return False
        for param, wanted in self.query.items():
            sent = query.get(param)
            if wanted not in ({sent} if isinstance(sent, str) else set(sent or ())):
                return False
        return True


class RateLimits:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.window_seconds: int = data["window"]["seconds"]
        self.device_caps: dict[str, int] = {p: v["device_cap"] for p, v in data["plans"].items()}
        self.limits: tuple[Limit, ...] = tuple(
            Limit(tuple(row["routes"]), dict(row["per_minute"]), dict(row.get("query", {})))
            for row in data["limits"]
        )
        self.no_documented_limit: dict[str, str] = dict(data["no_documented_limit"])
        self.device_soft_limit_keys: dict[str, list[str]] = dict(data["device_soft_limits"]["keys"])
        too_many = data["too_many_requests"]
        self.too_many_requests_body: str = too_many["body"]
        self.retry_after_header: str = too_many["retry_after_header"]["name"]
        self._retry_after_message = re.compile(too_many["message_pattern"])

    @property
    def plans(self) -> list[str]:
        return list(self.device_caps)

    def per_minute(self, plan: str, route_id: str, query: QueryParams | None = None) -> int | None:
        """The plan's hard limit for this request, or None where none is documented.

        A row with a query condition (GET /data?query=aggregate) is more specific than the row
        without one, so it wins.
        """
        if plan in NO_PLAN_NAMES:
            return None
        if plan not in self.device_caps:
            raise UnknownPlan(f"unknown plan {plan!r}; plans are {', '.join(self.plans)}")
        rows = [row for row in self.limits if row.covers(route_id, query or {})]
        if not rows:
            return None
        return max(rows, key=lambda row: len(row.query)).per_minute[plan]

    def limited_routes(self) -> set[str]:
        return {route for row in self.limits for route in row.routes}

    def retry_after_from_message(self, message: str) -> int | None:
        """The seconds a 429 message says to wait, or None if it is not the documented text."""
        found = self._retry_after_message.match(message)
        return int(found.group(1)) if found else None


@cache
def rate_limits() -> RateLimits:
    """The shipped plans, checked against schemas/rate-limits.schema.json."""
    return RateLimits(load_contract_data("rate-limits.json", "rate-limits"))
