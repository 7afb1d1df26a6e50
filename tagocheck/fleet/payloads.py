"""What devices send: payload profiles modelled on real fleets.

Every profile builds records within the documented limits (they are checked against
data-record#sent in the tests). A profile takes the device's number and its report's sequence, so
values evolve per device (a meter's energy only grows, a tracker moves) without per-device state.
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Callable
from typing import Any

Record = dict[str, Any]
Profile = Callable[[random.Random, int, int, int], list[Record]]


def smart_meter(rng: random.Random, device: int, sequence: int, count: int) -> list[Record]:
    energy = round(1000 + device % 997 + sequence * 0.25, 3)
    records = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            records.append({"variable": "energy", "value": energy, "unit": "kWh"})
        elif kind == 1:
            records.append(
                {"variable": "power", "value": round(50 + rng.random() * 3950, 1), "unit": "W"}
            )
        else:
            records.append(
                {"variable": "voltage", "value": round(224 + rng.random() * 12, 1), "unit": "V"}
            )
    return records


def gps_tracker(rng: random.Random, device: int, sequence: int, count: int) -> list[Record]:
    heading = (device * 37 + sequence) % 360
    lat = max(-89.9, min(89.9, -23.55 + (device % 100) * 0.01 + sequence * 0.0001))
    lng = ((-46.63 + (device % 113) * 0.01 + sequence * 0.0001 + 180) % 360) - 180
    records = []
    for i in range(count):
        if i % 2 == 0:
            records.append(
                {
                    "variable": "position",
                    "value": f"{heading}",
                    "location": {"lat": round(lat, 6), "lng": round(lng, 6)},
                }
            )
        else:
            records.append(
                {"variable": "speed", "value": round(rng.random() * 120, 1), "unit": "km/h"}
            )
    return records


def environment(rng: random.Random, device: int, sequence: int, count: int) -> list[Record]:
    metadata = {"sensor": f"env-{device % 1000:03d}", "firmware": "2.4.1", "battery": 3.6}
    records = []
    for i in range(count):
        if i % 2 == 0:
            temperature = round(20 + 5 * math.sin(sequence / 50) + rng.random() - 0.5, 2)
            records.append(
                {
                    "variable": "temperature",
                    "value": temperature,
                    "unit": "°C",
                    "metadata": metadata,
                }
            )
        else:
            records.append(
                {
                    "variable": "humidity",
                    "value": round(30 + rng.random() * 40, 1),
                    "unit": "%",
                    "metadata": metadata,
                }
            )
    return records


VARIABLE_CHARS = string.ascii_lowercase + string.digits + "_"


def random_records(rng: random.Random, device: int, sequence: int, count: int) -> list[Record]:
    """Arbitrary records anywhere within the documented limits."""
    records = []
    for _ in range(count):
        record: Record = {
            "variable": "".join(rng.choices(VARIABLE_CHARS, k=rng.randint(1, 100))),
        }
        kind = rng.randrange(4)
        if kind == 0:
            record["value"] = rng.uniform(-1e6, 1e6)
        elif kind == 1:
            record["value"] = rng.randint(-(2**31), 2**31)
        elif kind == 2:
            record["value"] = rng.random() < 0.5
        else:
            record["value"] = "".join(rng.choices(string.printable[:94], k=rng.randint(0, 200)))
        if rng.random() < 0.5:
            record["unit"] = "".join(rng.choices(string.ascii_letters, k=rng.randint(0, 25)))
        if rng.random() < 0.3:
            record["location"] = {"lat": rng.uniform(-90, 90), "lng": rng.uniform(-180, 180)}
        if rng.random() < 0.3:
            record["metadata"] = {"k": "".join(rng.choices(string.ascii_letters, k=50))}
        records.append(record)
    return records


PROFILES: dict[str, Profile] = {
    "smart-meter": smart_meter,
    "gps-tracker": gps_tracker,
    "environment": environment,
    "random": random_records,
}
