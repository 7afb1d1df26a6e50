"""The embedded target's TagoTiP: one uplink in, one ACK out, whatever carried it.

The bindings (tagotip_http.py, tagotip_mqtt.py) take the method, hash, serial, counter and body
from their transport and hand them here; this checks them in the specification's order (the
profile by hash §4.3, the device by serial, the sequence counter §10.2, the plan's per-minute
limit, then the body), stores a PUSH through the same group commit as POST /data, so GET /data
reads TagoTiP's records back, and answers PULL from the stored records.

How a TagoTiP variable becomes a TagoIO record is this target's choice (TagoIO does not publish
its own): number, string and boolean values as JSON values; a location as its `lat,lng[,alt]`
text in `value` with `location` {lat, lng}; the timestamp (ms) as `time`; a passthrough as one
record of variable `payload` whose value is the hex or base64 text, as POST /data keeps a text
body no parser read. TagoTiP/S keys are derived from the profile's authorization token and the
serial (TagoTiPs §2.4, the documented option).
"""

from __future__ import annotations

import itertools
from typing import Any

from tagocheck.server import queries, records
from tagocheck.server.accounts import Device
from tagocheck.server.app import TargetApp
from tagocheck.server.data_api import PAYLOAD_VARIABLE, find_device, store_records
from tagocheck.server.http import Failure
from tagocheck.server.plans import TAGOTIP_DOWNLINK, TAGOTIP_UPLINK
from tagocheck.tagotip import envelope as tips
from tagocheck.tagotip.bodies import (
    Location,
    Passthrough,
    Variable,
    parse_pull_body,
    parse_push_body,
    variable_list,
)
from tagocheck.tagotip.credentials import authorization_hash, derive_key, device_hash
from tagocheck.tagotip.frames import Ack, echoed_counter, parse_uplink
from tagocheck.tagotip.grammar import FrameError


def _error(code: str, seq: int | None = None) -> Ack:
    return Ack("ERR", code, seq)


class TagoTipService:
    """TagoTiP for one target: its profile's hash, the devices' last counters."""

    def __init__(self, app: TargetApp) -> None:
        self.app = app
        self.token = app.account.meta["authorization"]
        self.auth_hash = authorization_hash(self.token)
        self.last_seq: dict[str, int] = {}
        self.downlink_seeds: dict[str, itertools.count] = {}
        self.suites: dict[str, tips.CipherSuite] = {}
        """The suite each device last sealed an uplink in: what a notice to it is sealed in."""
        """Each device's own nonce seeds for the ACK envelopes it is sent (TagoTiPs §9: the
        server's, independent of the uplink's counter, so a replayed uplink's refusal never
        reuses a nonce). Kept while the target runs, as its keys are."""
        self._hashed: tuple[object, dict[bytes, list[str]]] | None = None

    def knows(self, auth: str) -> bool:
        return auth.lower() == self.auth_hash or "any-authorization" in self.app.faults

    async def handle(
        self,
        method: str,
        auth: str,
        serial: str,
        body: str | None,
        seq: int | None = None,
        *,
        ping_counts: bool = False,
    ) -> Ack:
        """The ACK for one uplink; `ping_counts` when the binding counts PING as an uplink
        (HEAD over HTTP [C])."""
        try:
            return await self._handle(method, auth, serial, body, seq, ping_counts)
        except FrameError as refused:
            return _error(refused.code, seq)
        except (records.InvalidData, Failure):
            return _error("invalid_payload", seq)

    async def _handle(
        self,
        method: str,
        auth: str,
        serial: str,
        body: str | None,
        seq: int | None,
        ping_counts: bool,
    ) -> Ack:
        if not self.knows(auth):
            return _error("invalid_token", seq)
        device = self.device(serial)
        if device is None:
            return _error("device_not_found", seq)
        if seq is not None and "ignore-seq" not in self.app.faults:
            last = self.last_seq.get(serial)
            if last is not None and seq <= last:
                return _error("invalid_seq", seq)
        if seq is not None:
            self.last_seq[serial] = seq  # §10.2: whatever the method
        window = {"PUSH": TAGOTIP_UPLINK, "PULL": TAGOTIP_DOWNLINK}.get(method)
        if window is None and ping_counts:
            window = TAGOTIP_UPLINK
        if window is not None and self.app.limiter.check(window) is not None:
            return _error("rate_limited", seq)
        if method == "PING":
            return Ack("PONG", None, seq)
        if self.app.faults.hits("server-errors"):  # every binding, as every REST route
            return _error("server_error", seq)
        if method == "PULL":
            return self.pull(device, parse_pull_body(body or ""), seq)
        parsed = parse_push_body(body or "")
        added = await store_records(self.app, device, to_records(parsed))
        return Ack("OK", str(added), seq)

    def device(self, serial: str) -> Device | None:
        token = self.app.account.by_serial(serial)
        if token is None:
            return None
        try:
            return find_device(self.app, token.device)
        except Failure:
            return None

    def pull(self, device: Device, names: tuple[str, ...], seq: int | None) -> Ack:
        """§7.2: the last value of each name found, only those; none found is an error."""
        now = records.now_ms()
        found = []
        for name in dict.fromkeys(names):
            query = {"variables": [name], "query": ["last_item"]}
            selection = queries.select(query, device.key, now)
            rows = queries.run(selection, self.app.store.rows, self.app.account.device_ids)
            if rows:
                found.append(to_variable(rows[0]))
        if not found:
            return _error("variable_not_found", seq)
        return Ack("OK", variable_list(found), seq)

    async def handle_frame(self, frame: bytes) -> Ack:
        """A raw binding's whole frame (`PUSH|AUTH|SERIAL|BODY`)."""
        try:
            uplink = parse_uplink(frame)
        except FrameError as refused:
            return _error(refused.code, echoed_counter(frame, 1))
        return await self.handle(uplink.method, uplink.auth, uplink.serial, uplink.body, uplink.seq)

    async def handle_envelope(self, sealed: bytes, *, ping_counts: bool = False) -> bytes:
        """A TagoTiP/S envelope in; an envelope (or a plaintext fallback ACK) out (TagoTiPs §9)."""
        try:
            header = tips.read_header(sealed)
            if not self.knows(header.auth_hash):
                raise tips.EnvelopeError("auth_failed", "§12", "no profile has this hash")
            candidates = self._keys(header.device, header.suite.key_bytes)
            _, inner, key = tips.open_envelope(sealed, candidates)
            serial, body = tips.parse_inner_uplink(header.method, inner)
            if candidates[key] != serial:  # §12 step 10: the key's device, not another
                raise tips.EnvelopeError("auth_failed", "§12", "the serial is not the key's")
        except (tips.EnvelopeError, FrameError) as refused:
            return Ack("ERR", refused.code).text().encode()
        ack = await self.handle(
            header.method, header.auth_hash, serial, body, header.counter, ping_counts=ping_counts
        )
        self.suites[serial] = header.suite
        echoed = header.counter if "echo-nonce" in self.app.faults else None
        return self._sealed(serial, ack, header.suite, echoed)

    def sealed_notice(self, serial: str, notice: bytes) -> bytes | None:
        """A notice with no uplink (`ERR|ttl_expired` before a close) sealed for the device, in
        the suite it last used; None for a device that never sealed an uplink."""
        suite = self.suites.get(serial)
        if suite is None:
            return None
        status, _, detail = notice.decode().partition("|")
        return self._sealed(serial, Ack(status, detail or None), suite)

    def _sealed(
        self, serial: str, ack: Ack, suite: tips.CipherSuite, seed: int | None = None
    ) -> bytes:
        """The ACK sealed for the device under the next of its own nonce seeds (`seed`: the
        echo-nonce fault's, the uplink's counter)."""
        if seed is None:
            seed = next(self.downlink_seeds.setdefault(serial, itertools.count(1))) % 2**32
        return tips.seal(
            tips.inner_ack(ack.status, ack.detail),
            key=derive_key(self.token, serial, suite.key_bytes),
            method="ACK",
            counter=seed,
            auth_hash=self.auth_hash,
            serial=serial,
            suite=suite.id,
        )

    def _keys(self, device: bytes, length: int) -> dict[bytes, str]:
        """The keys of the devices whose serial hashes to `device` (TagoTiPs §12 step 7), each
        with its serial."""
        serials = self.app.account.serials()
        if self._hashed is None or self._hashed[0] is not serials:
            index: dict[bytes, list[str]] = {}
            for serial in serials:
                index.setdefault(device_hash(serial), []).append(serial)
            self._hashed = (serials, index)
        named = self._hashed[1].get(device, [])
        return {derive_key(self.token, serial, length): serial for serial in named}


def to_records(body: Any) -> list[dict[str, Any]]:
    """A parsed PUSH body as TagoIO records, the body's defaults applied (§6.4)."""
    if isinstance(body, Passthrough):
        return [{"variable": PAYLOAD_VARIABLE, "value": body.data}]
    out = []
    for point in body.points():
        record: dict[str, Any] = {"variable": point.name}
        if point.kind == "location":
            record["value"] = point.value.text()
            record["location"] = {"lat": point.value.lat, "lng": point.value.lng}
        else:
            record["value"] = point.value
        if point.location is not None and point.kind != "location":
            record["location"] = {"lat": point.location.lat, "lng": point.location.lng}
        if point.unit is not None:
            record["unit"] = point.unit
        if point.time is not None:
            record["time"] = records.iso_z(point.time)
        if point.group is not None:
            record["group"] = point.group
        if point.metadata:
            record["metadata"] = dict(point.metadata)
        out.append(record)
    return out


def to_variable(record: dict[str, Any]) -> Variable:
    """A stored record as a PULL answer writes it: value, unit and time (ms)."""
    value = record.get("value")
    time = records.parse_time_ms(record["time"])
    unit = record.get("unit")
    if isinstance(value, bool):
        return Variable(record["variable"], "boolean", value, unit, time)
    if isinstance(value, int | float):
        return Variable(record["variable"], "number", value, unit, time)
    if record.get("location") is not None and isinstance(value, str):
        try:
            parts = [float(part) for part in value.split(",")]
            return Variable(record["variable"], "location", Location(*parts), None, time)
        except (TypeError, ValueError):
            pass
    return Variable(record["variable"], "string", "" if value is None else str(value), unit, time)
