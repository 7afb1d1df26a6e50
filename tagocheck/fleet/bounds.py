"""What every part of the fleet model may refuse, and the largest values it takes: below the
modules that use them (model, outage, retry), so none of those imports another for its error."""

from __future__ import annotations

MAX_INTERVAL_SECONDS = 86_400
"""A day between reports: a longer interval offers too few reports in any run to judge."""
MAX_BUFFER = 100_000
"""The most readings a device buffers while offline."""
MAX_SPREAD_SECONDS = 3_600
"""--connection-spread: an hour, past any documented TTL (15 s at most, schemas/tagotip.md)."""


class FleetConfigError(ValueError):
    """A fleet parameter that cannot work; the message says which and why."""
