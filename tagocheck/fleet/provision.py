"""Put a fleet on a target: create its devices through the profile token, or read them from a
fleet file, and remove what was created afterwards.

A fleet file holds device tokens, so it must be readable by its owner only (mode 0600); the suite
writes its own fleet files that way and refuses to read one that is more open.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tagocheck.wire.client import TagoClient


class ProvisionError(RuntimeError):
    pass


@dataclass
class ProvisionedDevice:
    id: str
    token: str
    serial: str | None = None
    """What a network names the device by (its serie_number), when it has one."""

    def __repr__(self) -> str:
        return f"ProvisionedDevice(id={self.id!r})"


SERVER_ERROR_RETRIES = 5
PROGRESS_SECONDS = 5.0


def every(seconds: float, say: Callable[[int], None]) -> Callable[[int], None]:
    """A progress callback that speaks at most once every `seconds`: a long set-up or clean-up
    against a slow target says how far it got instead of going silent for minutes."""
    last = [time.monotonic()]

    def progress(done: int) -> None:
        now = time.monotonic()
        if now - last[0] >= seconds:
            last[0] = now
            say(done)

    return progress


def create_devices(
    client: TagoClient,
    profile_token: str,
    count: int,
    prefix: str,
    progress=None,
    *,
    rpm_input: int | None = None,
    first: int = 0,
    device_type: str = "immutable",
    network: dict[str, str] | None = None,
) -> list[ProvisionedDevice]:
    """Create `count` devices (numbered from `first`, with the data_input rpm given); like the
    official SDKs, retry a 5xx a few times with backoff.

    `network` ({"network": id, "connector": id}, either may be absent) makes devices a network
    can post for: each gets its name as its serial (`serie_number`, "only if required by
    network" [X], so always given), in that network and connector when named."""
    made = []
    body_extra: dict = {"rpm": {"data_input": rpm_input}} if rpm_input else {}
    if network is not None:
        body_extra.update(network)
    for i in range(first, first + count):
        name = f"{prefix}{i:07d}"
        body = {"name": name, "type": device_type, **body_extra}
        if network is not None:
            body["serie_number"] = name
        for attempt in range(SERVER_ERROR_RETRIES):
            reply = client.request(
                "POST", "/device", token=profile_token, token_kind="profile", json=body
            )
            if reply.verdict.outcome != "server-error":
                break
            time.sleep(0.1 * 2**attempt)
        if not reply.ok:
            left = remove_devices(client, profile_token, made)
            undone = (
                f"; the {len(made) - len(left)} devices created before it were removed"
                if made
                else ""
            )
            if left:
                undone += f"; {len(left)} could not be removed, delete them by hand: " + ", ".join(
                    d.id for d in left
                )
            raise ProvisionError(
                f"creating device {i + 1} of {first + count} failed: HTTP {reply.status} "
                f"{reply.message}{undone}"
            )
        result = reply.result
        made.append(
            ProvisionedDevice(
                result.get("device_id") or result["deviceID"],
                result["token"],
                name if network is not None else None,
            )
        )
        if progress:
            progress(len(made))
    return made


def remove_devices(
    client: TagoClient,
    profile_token: str,
    devices: list[ProvisionedDevice],
    progress: Callable[[int], None] | None = None,
) -> list[ProvisionedDevice]:
    """Delete the devices (a 429 is waited out by the client); returns those still there."""
    left = []
    for done, device in enumerate(devices, 1):
        reply = client.request(
            "DELETE", f"/device/{device.id}", token=profile_token, token_kind="profile", check=False
        )
        if not reply.verdict.succeeded and reply.status != 404:
            left.append(device)
        if progress:
            progress(done)
    return left


def write_fleet_file(path: Path, devices: list[ProvisionedDevice]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"devices": [_fleet_entry(d) for d in devices]}, handle)
    os.chmod(path, 0o600)


def _fleet_entry(device: ProvisionedDevice) -> dict[str, str]:
    entry = {"id": device.id, "token": device.token}
    if device.serial is not None:
        entry["serial"] = device.serial
    return entry


def read_fleet_file(path: Path) -> list[ProvisionedDevice]:
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as error:
        raise ProvisionError(f"cannot read fleet file {path}: {error.strerror}") from None
    if mode & 0o077:
        raise ProvisionError(f"fleet file {path} holds tokens but is mode {mode:o}; chmod 600 it")
    try:
        data = json.loads(path.read_text())
        found = [ProvisionedDevice(d["id"], d["token"], d.get("serial")) for d in data["devices"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        found = None
    if found is None or not all(
        isinstance(v, str) for d in found for v in (d.id, d.token, d.serial or "")
    ):
        raise ProvisionError(
            f'fleet file {path} is not {{"devices": [{{"id": ..., "token": ..., '
            '"serial": ... (optional)}]}'
        )
    return found
