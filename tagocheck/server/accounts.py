"""The profile the target serves: its own tokens, its devices and their tokens, kept in memory.

Every request is authorised from memory; the database is the durable copy, written through the
group commit and loaded back at start, so a restart on the same state dir keeps every token.

Who may call what is this module's own reading of the facts file (sections 1 and 4), not the
suite's permission matrix: device tokens call the device routes within their permission (full:
send and read; write: send, edit, delete; read: read), profile tokens the account routes, network
tokens the integration routes, and every real token GET /info. An analysis token with no policy
gets "Authorization Denied" everywhere else.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import orjson

from tagocheck.server.records import iso_z, new_id, now_ms
from tagocheck.server.store import Store

PERMISSIONS = ("full", "write", "read")
SEED_SERIAL_BASE = 0x70B3D5E75E000000
"""Seeded device n has serial SEED_SERIAL_BASE + n in 16 hex digits, the shape of a LoRaWAN
DevEUI, so a network can name it."""
DEVICE_TYPES = ("immutable", "mutable", "legacy", "hybrid")
CHUNK_PERIODS = ("day", "week", "month", "quarter")
MAX_CHUNK_RETENTION = 36
DEFAULT_CHUNK_PERIOD, DEFAULT_CHUNK_RETENTION = "month", MAX_CHUNK_RETENTION
"""An immutable device made without chunk settings: no source gives a default, so this target
keeps a month a chunk for the longest retention, losing nothing."""


class Access(Enum):
    """What a route asks of the token that calls it."""

    DEVICE_SEND = "send"
    DEVICE_READ = "read"
    DEVICE_EDIT = "edit"
    ANY_TOKEN = "any"
    PROFILE = "profile"
    NETWORK = "network"


DEVICE_ACCESS = {
    "full": {Access.DEVICE_SEND, Access.DEVICE_READ, Access.DEVICE_EDIT},
    "write": {Access.DEVICE_SEND, Access.DEVICE_EDIT},
    "read": {Access.DEVICE_READ},
}


@dataclass
class Device:
    key: int
    """The integer the data table knows the device by."""
    id: str
    name: str
    type: str
    created_ms: int
    updated_ms: int
    description: str | None = None
    active: bool = True
    visible: bool = True
    tags: list[dict[str, str]] = field(default_factory=list)
    serie_number: str | None = None
    rpm_input: int | None = None
    rpm_output: int | None = None
    last_input_ms: int | None = None
    last_output_ms: int | None = None
    chunk_period: str | None = None
    """An immutable device's chunk period and retention (day|week|month|quarter, 0-36 periods)
    [C]; kept in the chunking table, not the device's row."""
    chunk_retention: int | None = None

    def row(self) -> tuple[Any, ...]:
        return (
            self.key,
            self.id,
            self.name,
            self.description,
            self.type,
            int(self.active),
            int(self.visible),
            orjson.dumps(self.tags).decode(),
            self.serie_number,
            self.rpm_input,
            self.rpm_output,
            self.created_ms,
            self.updated_ms,
            self.last_input_ms,
            self.last_output_ms,
        )

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Device:
        (key, id_, name, description, type_, active, visible, tags, serie, rpm_in) = row[:10]
        rpm_out, created, updated, last_in, last_out = row[10:]
        return cls(
            key=key,
            id=id_,
            name=name,
            description=description,
            type=type_,
            active=bool(active),
            visible=bool(visible),
            tags=orjson.loads(tags),
            serie_number=serie,
            rpm_input=rpm_in,
            rpm_output=rpm_out,
            created_ms=created,
            updated_ms=updated,
            last_input_ms=last_in,
            last_output_ms=last_out,
        )


@dataclass
class DeviceToken:
    token: str
    device: str
    name: str
    permission: str
    created_ms: int
    expire_ms: int | None = None
    serie_number: str | None = None

    def row(self) -> tuple[Any, ...]:
        return (
            self.token,
            self.device,
            self.name,
            self.permission,
            self.expire_ms,
            self.serie_number,
            self.created_ms,
        )


@dataclass(frozen=True)
class Principal:
    """Who sent a request."""

    kind: str  # device | profile | network | analysis
    device: Device | None = None
    permission: str | None = None


@dataclass(frozen=True)
class Denial:
    status: int
    message: str


MISSING_TOKEN = Denial(401, "Authorization Denied: no token was sent")
INVALID_TOKEN = Denial(401, "Invalid Token")
EXPIRED_TOKEN = Denial(401, "Invalid Token: the token has expired")
NO_POLICY = Denial(401, "Authorization Denied")


class Account:
    """The one profile this target serves, with its devices and tokens."""

    def __init__(self, store: Store, profile_token: str | None = None) -> None:
        self.store = store
        meta = store.meta()
        fresh = {
            "profile_id": new_id(),
            "profile_token": f"p-{secrets.token_hex(16)}",
            "network_id": new_id(),
            "network_token": f"n-{secrets.token_hex(16)}",
            "connector_id": new_id(),
            "analysis_id": new_id(),
            "analysis_token": f"a-{secrets.token_hex(16)}",
            # the profile's authorization key (Integrations > Authorization), `at` tokens [C]
            "authorization": f"at{secrets.token_hex(16)}",
        }
        if profile_token:
            fresh["profile_token"] = meta["profile_token"] = profile_token
        missing = {k: v for k, v in fresh.items() if k not in meta}
        meta.update(missing)
        self.meta = meta
        self._meta_to_save = {
            **missing,
            **({"profile_token": profile_token} if profile_token else {}),
        }
        self.devices = {
            row[1]: Device.from_row(row)
            for row in store.rows(
                "SELECT key, id, name, description, type, active, visible, tags, serie_number, "
                "rpm_input, rpm_output, created_ms, updated_ms, last_input_ms, last_output_ms "
                "FROM devices"
            )
        }
        for device_id, period, retention in store.rows(
            "SELECT device, period, retention FROM chunking"
        ):
            if device_id in self.devices:
                self.devices[device_id].chunk_period = period
                self.devices[device_id].chunk_retention = retention
        self.device_ids = {d.key: d.id for d in self.devices.values()}
        self._last_key = max(self.device_ids, default=0)
        self.tokens = {
            row[0]: DeviceToken(
                token=row[0],
                device=row[1],
                name=row[2],
                permission=row[3],
                expire_ms=row[4],
                serie_number=row[5],
                created_ms=row[6],
            )
            for row in store.rows(
                "SELECT token, device, name, permission, expire_ms, serie_number, created_ms "
                "FROM tokens"
            )
        }
        self._serials: dict[str, DeviceToken] | None = None

    async def seed_devices(
        self, count: int, prefix: str = "seeded-", rpm_input: int | None = None
    ) -> list[tuple[str, str, str]]:
        """Make sure `count` devices named PREFIXnnnnnnn exist, each with a full token, a serial
        (and the data_input rpm given), in one commit; returns (device id, token, serial) for
        each. Load tests of
        big fleets start from these instead of creating every device through the API."""
        existing = {d.name: d for d in self.devices.values() if d.name.startswith(prefix)}
        tokens = {t.device: t.token for t in self.tokens.values() if t.permission == "full"}
        now = now_ms()
        new_devices, new_tokens, seeded, changed = [], [], [], []
        for i in range(count):
            name = f"{prefix}{i:07d}"
            serial = f"{SEED_SERIAL_BASE + i:016X}"
            device = existing.get(name)
            if device is not None and (device.rpm_input, device.serie_number) != (
                rpm_input,
                serial,
            ):
                device.rpm_input, device.serie_number = rpm_input, serial
                changed.append(device)
            if device is None:
                key = self.next_device_key()
                device = Device(
                    key=key,
                    id=new_id(),
                    name=name,
                    type="immutable",
                    created_ms=now,
                    updated_ms=now,
                    rpm_input=rpm_input,
                    serie_number=serial,
                )
                new_devices.append(device)
            token = tokens.get(device.id)
            if token is None:
                made = self.new_device_token(device.id, "full", "Default", None, None)
                new_tokens.append(made)
                token = made.token
            seeded.append((device.id, token, serial))

        def insert(conn) -> None:
            conn.executemany(
                f"INSERT INTO devices VALUES ({','.join('?' * 15)})", [d.row() for d in new_devices]
            )
            conn.executemany(
                f"INSERT INTO tokens VALUES ({','.join('?' * 7)})", [t.row() for t in new_tokens]
            )
            conn.executemany(
                "UPDATE devices SET rpm_input = ?, serie_number = ? WHERE id = ?",
                [(d.rpm_input, d.serie_number, d.id) for d in changed],
            )

        await self.store.write(insert)
        for device in new_devices:
            self.devices[device.id] = device
            self.device_ids[device.key] = device.id
        for token in new_tokens:
            self.tokens[token.token] = token
        self.serials_changed()
        return seeded

    async def save_meta(self) -> None:
        """Persist the profile's own ids and tokens, so a restart keeps them."""
        pending = self._meta_to_save
        if pending:
            await self.store.write(
                lambda conn: conn.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", pending.items()
                )
            )
        self._meta_to_save = {}

    @property
    def profile_token(self) -> str:
        return self.meta["profile_token"]

    # -- who is calling

    def identify(self, token: str | None) -> Principal | Denial:
        if not token:
            return MISSING_TOKEN
        if token == self.meta["profile_token"]:
            return Principal("profile")
        if token == self.meta["network_token"]:
            return Principal("network")
        if token == self.meta["analysis_token"]:
            return Principal("analysis")
        found = self.tokens.get(token)
        if found is None:
            return INVALID_TOKEN
        if found.expire_ms is not None and found.expire_ms <= now_ms():
            return EXPIRED_TOKEN
        device = self.devices.get(found.device)
        if device is None:
            return INVALID_TOKEN
        return Principal("device", device=device, permission=found.permission)

    def authorize(
        self, principal: Principal, access: Access, *, ignore_permission: bool = False
    ) -> Denial | None:
        """None when the principal may call a route that asks for this access."""
        if access is Access.ANY_TOKEN:
            return None
        if principal.kind == "analysis":
            return NO_POLICY
        if access is Access.PROFILE:
            return None if principal.kind == "profile" else Denial(403, "Profile token required")
        if access is Access.NETWORK:
            return None if principal.kind == "network" else Denial(403, "Network token required")
        if principal.kind != "device":
            return Denial(403, "Device token required")
        assert principal.permission is not None
        if ignore_permission or access in DEVICE_ACCESS.get(principal.permission, ()):
            return None
        return Denial(403, f"Permission denied: this token's permission is {principal.permission}")

    # -- which device a network names

    def by_serial(self, serial: str) -> DeviceToken | None:
        """The device token a serial names: the first token whose own serial or whose device's
        serial it is. Looked up in an index (a network posts for every device by serial), built
        again after serials_changed()."""
        if self._serials is None:
            index: dict[str, DeviceToken] = {}
            for token in self.tokens.values():
                device = self.devices.get(token.device)
                for named in (token.serie_number, device.serie_number if device else None):
                    if named is not None:
                        index.setdefault(named, token)
            self._serials = index
        return self._serials.get(serial)

    def serials(self) -> Mapping[str, DeviceToken]:
        """Every serial a device or token has, with the token it names (the index itself:
        a new one after serials_changed())."""
        self.by_serial("")
        assert self._serials is not None
        return self._serials

    def serials_changed(self) -> None:
        """A device or token was added, removed or given another serial."""
        self._serials = None

    # -- views

    def device_view(self, device: Device) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": device.id,
            "name": device.name,
            "description": device.description,
            "profile": self.meta["profile_id"],
            "active": device.active,
            "visible": device.visible,
            "type": device.type,
            "network": self.meta["network_id"],
            "connector": self.meta["connector_id"],
            "bucket": device.id,
            "tags": device.tags,
            "serie_number": device.serie_number,
            "created_at": iso_z(device.created_ms),
            "updated_at": iso_z(device.updated_ms),
            "last_input": iso_z(device.last_input_ms),
            "last_output": iso_z(device.last_output_ms),
        }
        if device.type == "immutable":
            view["chunk_period"] = device.chunk_period or DEFAULT_CHUNK_PERIOD
            view["chunk_retention"] = (
                DEFAULT_CHUNK_RETENTION
                if device.chunk_retention is None
                else device.chunk_retention
            )
        if device.rpm_input is not None or device.rpm_output is not None:
            view["rpm"] = {
                k: v
                for k, v in (("data_input", device.rpm_input), ("data_output", device.rpm_output))
                if v is not None
            }
        return view

    def token_view(self, token: DeviceToken) -> dict[str, Any]:
        return {
            "token": token.token,
            "device_id": token.device,
            "network_id": self.meta["network_id"],
            "name": token.name,
            "permission": token.permission,
            "serie_number": token.serie_number,
            "last_authorization": None,
            "expire_time": "never" if token.expire_ms is None else iso_z(token.expire_ms),
            "created_at": iso_z(token.created_ms),
        }

    def owner_view(self, kind: str) -> dict[str, Any]:
        names = {
            "profile": "tagocheck embedded profile",
            "network": "tagocheck embedded network",
            "analysis": "tagocheck analysis",
        }
        return {"id": self.meta[f"{kind}_id"], "name": names[kind]}

    # -- changes (each persisted through the group commit, then applied in memory)

    def next_device_key(self) -> int:
        self._last_key += 1
        return self._last_key

    def new_device_token(
        self, device: str, permission: str, name: str, expire_ms: int | None, serie: str | None
    ) -> DeviceToken:
        return DeviceToken(
            token=str(uuid.uuid4()),
            device=device,
            name=name,
            permission=permission,
            created_ms=now_ms(),
            expire_ms=expire_ms,
            serie_number=serie,
        )
