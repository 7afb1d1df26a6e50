"""Fault modes: deviations a real server could have, for the suite to prove its checks fail.

Each is switched on with `--fault NAME` (some take `NAME=VALUE`). Fractions are applied by
counting, not by chance, so a test that sends 100 requests knows how many are hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# name -> (what it does, default value or None when it takes none)
FAULTS: dict[str, tuple[str, float | None]] = {
    "no-rate-limit": ("never answers 429, whatever the plan says", None),
    "early-throttle": ("throttles at half of each limit (429 below the plan's figure)", None),
    "bad-envelope": ('success bodies carry "status": "true", a string, not a boolean', None),
    "html-errors": ("failures come as HTML pages instead of JSON envelopes", None),
    "wrong-status": ("failure envelopes are sent with HTTP 200", None),
    "wrong-count": ('"N Data Added" says one more record than was stored', None),
    "ignore-permission": ("device tokens are not held to their permission (read may write)", None),
    "cross-device": ("GET /data with a device token returns every device's data", None),
    "any-authorization": ("the network routes take any authorization key, not the profile's", None),
    "unknown-serial": (
        "network uplinks naming no device's serial are acknowledged, then dropped",
        None,
    ),
    "lose-writes": ("acknowledges every record, then stores all but this fraction", 0.1),
    "duplicate-writes": ("stores this fraction of records twice (acknowledged once)", 0.1),
    "server-errors": ("answers this fraction of requests with a 5xx, storing nothing", 0.1),
    "slow": ("adds this many seconds of latency to every response", 0.2),
}


class UnknownFault(ValueError):
    pass


@dataclass
class Faults:
    active: dict[str, float | None] = field(default_factory=dict)
    _counters: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, specs: list[str]) -> Faults:
        active: dict[str, float | None] = {}
        for spec in specs:
            name, _, raw = spec.partition("=")
            if name not in FAULTS:
                raise UnknownFault(f"unknown fault {name!r}; faults are {', '.join(FAULTS)}")
            default = FAULTS[name][1]
            if raw and default is None:
                raise UnknownFault(f"fault {name!r} takes no value")
            try:
                value = float(raw) if raw else default
            except ValueError:
                raise UnknownFault(f"fault {name!r} takes a number, not {raw!r}") from None
            if name in ("lose-writes", "duplicate-writes", "server-errors") and not 0 < value <= 1:
                raise UnknownFault(f"fault {name!r} takes a fraction in (0, 1]")
            if name == "slow" and value < 0:
                raise UnknownFault("fault 'slow' takes a non-negative number of seconds")
            active[name] = value
        return cls(active)

    def __contains__(self, name: str) -> bool:
        return name in self.active

    def value(self, name: str) -> float:
        value = self.active[name]
        assert value is not None
        return value

    def hits(self, name: str) -> bool:
        """Whether this occurrence is one of the fraction a fault applies to (every k-th)."""
        if name not in self.active:
            return False
        seen = self._counters.get(name, 0) + 1
        self._counters[name] = seen
        every = max(1, round(1 / self.value(name)))
        return seen % every == 0

    def describe(self) -> list[str]:
        return [name if v is None else f"{name}={v:g}" for name, v in self.active.items()]
