"""Fault modes: deviations a real server could have, for the suite to prove its checks fail.

Each is switched on with `--fault NAME` (some take `NAME=VALUE`). Fractions are applied by
counting, not by chance, so a test that sends 100 requests knows how many are hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# name -> (what it does, default value or None when it takes none)
FAULTS: dict[str, tuple[str, float | None]] = {
    "no-rate-limit": ("never answers 429 nor ERR|rate_limited, whatever the plan says", None),
    "early-throttle": ("throttles at half of each limit (429 below the plan's figure)", None),
    "bad-envelope": ('success bodies carry "status": "true", a string, not a boolean', None),
    "html-errors": ("failures come as HTML pages instead of JSON envelopes", None),
    "wrong-status": ("failure envelopes are sent with HTTP 200", None),
    "wrong-count": (
        '"N Data Added" and TagoTiP\'s ACK|OK|N say one more record than was stored',
        None,
    ),
    "ignore-seq": ("TagoTiP: a sequence counter not above the device's last is taken", None),
    "echo-nonce": (
        "TagoTiP/S: each ACK envelope is sealed with its uplink's counter as the nonce seed",
        None,
    ),
    "no-ttl": (
        "TagoTiP over MQTT and TCP: connections outlive the plan's TTL and idle timeout",
        None,
    ),
    "ignore-permission": ("device tokens are not held to their permission (read may write)", None),
    "cross-device": ("GET /data with a device token returns every device's data", None),
    "any-authorization": ("the network routes take any authorization key, not the profile's", None),
    "unknown-serial": (
        "network uplinks naming no device's serial are acknowledged, then dropped",
        None,
    ),
    "lose-writes": ("acknowledges every record, then stores all but this fraction", 0.1),
    "duplicate-writes": ("stores this fraction of records twice (acknowledged once)", 0.1),
    "server-errors": (
        "answers this fraction of requests with a 5xx (TagoTiP: ERR|server_error), storing nothing",
        0.1,
    ),
    "slow": ("adds this many seconds of latency to every response", 0.2),
    "slow-writes": (
        "stores each data write, then acknowledges it this many seconds later",
        2.0,
    ),
    "ignore-time": ("stores records with the time they arrived, not their own `time`", None),
    "lenient-limits": (
        "accepts records past the documented sizes (up to ten times each) and forbidden "
        "characters in variables, and stores them as sent: what no source says a target refuses",
        None,
    ),
    "capacity": (
        "stores at most this many records a second (capacity=800 or 800/s): past it, writes "
        "queue, and latency grows as a saturated server's does",
        None,
    ),
    "group-cap": (
        "refuses a batch with a group (or serie) longer than this many characters, under the "
        "documented 100",
        24,
    ),
    "down": ("answers every request 503 from START for DURATION s (down=START+DURATION)", None),
    "silent": (
        "answers nothing from START for DURATION s: requests are held to the span's end (a "
        "client with a shorter timeout sees no answer), then answered 503",
        None,
    ),
}
SPANS = ("down", "silent")
"""Faults that take START+DURATION: seconds after the target started."""


class UnknownFault(ValueError):
    pass


@dataclass
class Faults:
    active: dict[str, float | None] = field(default_factory=dict)
    _counters: dict[str, int] = field(default_factory=dict)
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Span faults' (start, end), seconds after the target started."""

    @classmethod
    def parse(cls, specs: list[str]) -> Faults:
        active: dict[str, float | None] = {}
        spans: dict[str, tuple[float, float]] = {}
        for spec in specs:
            name, _, raw = spec.partition("=")
            if name not in FAULTS:
                raise UnknownFault(f"unknown fault {name!r}; faults are {', '.join(FAULTS)}")
            if name in SPANS:
                spans[name] = _span(name, raw)
                active[name] = None
                continue
            default = FAULTS[name][1]
            if name == "capacity":
                active[name] = _rate(raw)
                continue
            if raw and default is None:
                raise UnknownFault(f"fault {name!r} takes no value")
            try:
                value = float(raw) if raw else default
            except ValueError:
                raise UnknownFault(f"fault {name!r} takes a number, not {raw!r}") from None
            if name in ("lose-writes", "duplicate-writes", "server-errors") and not 0 < value <= 1:
                raise UnknownFault(f"fault {name!r} takes a fraction in (0, 1]")
            if name == "group-cap" and not (float(value).is_integer() and 1 <= value < 100):
                raise UnknownFault(f"fault {name!r} takes a whole number of characters, 1 to 99")
            if name in ("slow", "slow-writes") and not 0 <= value <= 3600:
                raise UnknownFault(f"fault {name!r} takes seconds, 0 to 3,600")
            active[name] = value
        return cls(active, spans=spans)

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

    def within(self, name: str, elapsed: float) -> float | None:
        """The end of span fault `name` when `elapsed` seconds after the start fall in it."""
        span = self.spans.get(name)
        if span is not None and span[0] <= elapsed < span[1]:
            return span[1]
        return None

    def describe(self) -> list[str]:
        described = []
        for name, v in self.active.items():
            if name in self.spans:
                start, end = self.spans[name]
                described.append(f"{name}={start:g}+{end - start:g}")
            else:
                described.append(name if v is None else f"{name}={v:g}")
        return described


def _rate(raw: str) -> float:
    """capacity=800 or capacity=800/s: records a second, above 0."""
    try:
        rate = float(raw.removesuffix("/s"))
    except ValueError:
        rate = 0.0
    if not 0 < rate < 1e9:  # nan too
        raise UnknownFault("fault 'capacity' takes records a second: capacity=800/s")
    return rate


def _span(name: str, raw: str) -> tuple[float, float]:
    start, plus, duration = raw.partition("+")
    try:
        begin, length = float(start), float(duration)
        if not plus or not (0 <= begin <= 86_400 and 0 < length <= 86_400):
            raise ValueError
    except ValueError:
        raise UnknownFault(
            f"fault {name!r} takes START+DURATION, seconds after the target started "
            f"({name}=30+20: from 30 s to 50 s)"
        ) from None
    return begin, begin + length
