"""What devices send: payload profiles modelled on real fleets.

Every profile builds records within the documented limits (they are checked against
data-record#sent in the tests). A profile takes the device's number and its report's sequence, so
values evolve per device (a meter's energy only grows, a tracker moves) without per-device state.
"""

from __future__ import annotations

import math
import random
import string
import time
from collections.abc import Callable
from typing import Any

Record = dict[str, Any]


def iso_time(moment: float) -> str:
    """A record's `time`: ISO 8601 in UTC to the millisecond (common#iso-time-in)."""
    millis = round(moment * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + (
        f".{millis % 1000:03d}Z"
    )


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


def lorawan_hex(rng: random.Random, device: int, sequence: int, count: int) -> list[Record]:
    """An undecoded LoRaWAN uplink as a network server forwards it: the frame as a hex string in
    variable `payload` (the form of the network route's own example [X]), then the radio's
    figures (port, RSSI, SNR) when more records are asked for. The frame carries the frame
    counter, battery and a temperature, as a sensor's would."""
    temperature = int((20 + 5 * math.sin(sequence / 50) + rng.random() - 0.5) * 100)
    frame = (
        (sequence & 0xFFFF).to_bytes(2, "big")
        + bytes([200 - device % 50])
        + temperature.to_bytes(2, "big", signed=True)
        + bytes([rng.randrange(256) for _ in range(6)])
    )
    radio = (
        ("fport", 1 + device % 223, None),
        ("rssi", -round(40 + rng.random() * 80), "dBm"),
        ("snr", round(rng.uniform(-20, 10), 1), "dB"),
    )
    records: list[Record] = [{"variable": "payload", "value": frame.hex().upper()}]
    for i in range(1, count):
        variable, value, unit = radio[(i - 1) % len(radio)]
        record: Record = {"variable": variable, "value": value}
        if unit:
            record["unit"] = unit
        records.append(record)
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
    "lorawan-hex": lorawan_hex,
}
