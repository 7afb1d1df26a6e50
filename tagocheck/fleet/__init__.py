"""The fleet model: devices, their schedules and payloads, as plain Python.

Locust drives it (loadtests/), but nothing here imports Locust, so the model is tested on its own.
Devices are cheap: a fleet is a few arrays indexed by device number, not an object per device, so
one machine can hold a million of them.
"""
