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
from dataclasses import dataclass
from pathlib import Path

from tagocheck.client import TagoClient


class ProvisionError(RuntimeError):
    pass


@dataclass
class ProvisionedDevice:
    id: str
    token: str

    def __repr__(self) -> str:
        return f"ProvisionedDevice(id={self.id!r})"


SERVER_ERROR_RETRIES = 5


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
) -> list[ProvisionedDevice]:
    """Create `count` devices (numbered from `first`, with the data_input rpm given); like the
    official SDKs, retry a 5xx a few times with backoff."""
    made = []
    body_extra = {"rpm": {"data_input": rpm_input}} if rpm_input else {}
    for i in range(first, first + count):
        for attempt in range(SERVER_ERROR_RETRIES):
            reply = client.request(
                "POST",
                "/device",
                token=profile_token,
                token_kind="profile",
                json={"name": f"{prefix}{i:07d}", "type": device_type, **body_extra},
            )
            if reply.verdict.outcome != "server-error":
                break
            time.sleep(0.1 * 2**attempt)
        if not reply.ok:
            remove_devices(client, profile_token, made)
            raise ProvisionError(
                f"creating device {i + 1} of {first + count} failed: HTTP {reply.status} "
                f"{reply.message}"
            )
        result = reply.result
        made.append(
            ProvisionedDevice(result.get("device_id") or result["deviceID"], result["token"])
        )
        if progress:
            progress(len(made))
    return made


def remove_devices(
    client: TagoClient, profile_token: str, devices: list[ProvisionedDevice]
) -> None:
    for device in devices:
        client.request(
            "DELETE", f"/device/{device.id}", token=profile_token, token_kind="profile", check=False
        )


def write_fleet_file(path: Path, devices: list[ProvisionedDevice]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"devices": [{"id": d.id, "token": d.token} for d in devices]}, handle)
    os.chmod(path, 0o600)


def read_fleet_file(path: Path) -> list[ProvisionedDevice]:
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as error:
        raise ProvisionError(f"cannot read fleet file {path}: {error.strerror}") from None
    if mode & 0o077:
        raise ProvisionError(f"fleet file {path} holds tokens but is mode {mode:o}; chmod 600 it")
    try:
        data = json.loads(path.read_text())
        return [ProvisionedDevice(d["id"], d["token"]) for d in data["devices"]]
    except (ValueError, KeyError, TypeError):
        raise ProvisionError(
            f'fleet file {path} is not {{"devices": [{{"id": ..., "token": ...}}]}}'
        ) from None
