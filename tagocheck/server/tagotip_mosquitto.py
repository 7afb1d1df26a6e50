"""TagoTiP's MQTT binding on mosquitto, started beside the target (`tagocheck serve
--tagotip-mqtt-broker mosquitto`): for fleets larger than the in-process amqtt broker carries
on one core (bench/tagotip_connections.py).

mosquitto speaks MQTT; a plugin of ours (mosquitto/tagotip_plugin.c, built with gcc on first
use and kept in the user's cache) adds what TagoIO's broker does around it: the hash's halves
as credentials, the plan's connections per IP and per profile, each push or pull routed to the
target alone, and each connection's TTL and idle timeout. The target answers every frame
through tagotip_mqtt_binding, as the amqtt broker does, over one MQTT connection of its own to
mosquitto (the bridge): uplinks in on `$tagocheck/in/{hash}/{topic}`, ACKs out on the device's
ack topic; when the plugin says a connection's time is up (`$tagocheck/expire/{client id}`),
the bridge sends the notice on its ack topics and asks for the close. One difference the
plugin cannot avoid: mosquitto shows a plugin no PINGREQ, so a device that only pings counts
as idle here [a deviation of this broker's; the amqtt broker counts any packet].
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import paho.mqtt.client as mqtt

from tagocheck.server.plans import TagoTipConnections, tagotip_connections
from tagocheck.server.tagotip_mqtt_binding import answer, close_notices
from tagocheck.server.tagotip_service import TagoTipService

PLUGIN_SOURCE = Path(__file__).parent / "mosquitto" / "tagotip_plugin.c"
INBOX = "$tagocheck/in/"
EXPIRED = "$tagocheck/expire/"
CLOSE = "$tagocheck/close/"


class BrokerError(Exception):
    """mosquitto could not be built, started or reached: one line saying why."""


def mosquitto_program() -> str:
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)),
        None,
    )
    if found is None:
        raise BrokerError("mosquitto is not installed (Debian: apt-get install mosquitto)")
    return found


def built_plugin() -> Path:
    """The plugin built from its source, once per version of the source."""
    source = PLUGIN_SOURCE.read_bytes()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tagocheck"
    built = cache / f"tagotip_plugin-{hashlib.sha256(source).hexdigest()[:16]}.so"
    if built.exists():
        return built
    cache.mkdir(parents=True, exist_ok=True)
    partial = built.with_suffix(f".{os.getpid()}.tmp")
    command = ["gcc", "-O2", "-shared", "-fPIC", "-o", str(partial), str(PLUGIN_SOURCE)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise BrokerError("building mosquitto's TagoTiP plugin needs gcc") from None
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["gcc failed"])[0]
        raise BrokerError(f"cannot build mosquitto's TagoTiP plugin (needs mosquitto-dev): {first}")
    partial.replace(built)
    return built


def _free_port(host: str) -> int:
    """A port free now: mosquitto cannot listen on port 0 and say which it got."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class TagoTipMosquitto:
    """mosquitto with the plugin, and the bridge that answers its devices' frames."""

    def __init__(
        self,
        service: TagoTipService,
        plan: str,
        host: str,
        port: int,
        *,
        ttl_seconds: float | None = None,
        idle_seconds: float | None = None,
    ) -> None:
        self.service = service
        self.limits: TagoTipConnections = tagotip_connections(
            plan, ttl_seconds, idle_seconds, service.app.faults
        )
        self.host = host
        self.port = port
        self.process: subprocess.Popen | None = None
        self.folder: Path | None = None
        self.bridge: mqtt.Client | None = None
        self.answering: set[asyncio.Task] = set()
        self.closed_by_ttl = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        program, plugin = mosquitto_program(), built_plugin()
        self.port = self.port or _free_port(self.host)
        user, password = f"tagocheck-bridge-{secrets.token_hex(4)}", secrets.token_hex(16)
        self.folder = Path(tempfile.mkdtemp(prefix="tagocheck-mosquitto-"))
        config = self.folder / "mosquitto.conf"
        config.write_text(self._config(plugin, user, password))
        config.chmod(0o600)
        self.process = subprocess.Popen(
            [program, "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        await self._wait_listening()
        self.bridge = self._bridge(loop, user, password)
        await asyncio.wait_for(self._connected, timeout=5)

    def _config(self, plugin: Path, user: str, password: str) -> str:
        ttl = self.limits.ttl_seconds if self.limits.expire else 0
        idle = self.limits.idle_seconds if self.limits.expire else 0
        options = {
            "auth_hash": self.service.auth_hash,
            "any_auth": "1" if "any-authorization" in self.service.app.faults else "0",
            "bridge_user": user,
            "bridge_password": password,
            "per_ip": self.limits.per_ip,
            "per_profile": self.limits.mqtt_per_profile,
            "ttl_ms": round(ttl * 1000),
            "idle_ms": round(idle * 1000),
        }
        lines = [
            f"listener {self.port} {self.host}",
            # started as root, mosquitto becomes the user `mosquitto`, who could not read the
            # plugin in root's cache: it stays whoever started the target
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
            "max_connections -1",
            "set_tcp_nodelay true",
            "max_inflight_messages 0",
            "max_queued_messages 100000",
            "persistence false",
            "log_dest stderr",
            "log_type error",
            f"plugin {plugin}",
            *(f"plugin_opt_{key} {value}" for key, value in options.items()),
        ]
        return "\n".join(lines) + "\n"

    async def _wait_listening(self) -> None:
        assert self.process is not None
        for _ in range(200):
            if self.process.poll() is not None:
                said = (self.process.stderr.read() if self.process.stderr else "").strip()
                last = said.splitlines()[-1] if said else f"exit {self.process.returncode}"
                raise BrokerError(f"mosquitto exited at once: {last}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                await asyncio.sleep(0.025)
        raise BrokerError(f"mosquitto did not listen on {self.host}:{self.port} within 5 s")

    def _bridge(self, loop: asyncio.AbstractEventLoop, user: str, password: str) -> mqtt.Client:
        """The target's own connection to mosquitto, driven by the target's event loop as
        paho's documentation shows for an external loop."""
        self._connected: asyncio.Future = loop.create_future()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user)
        client.username_pw_set(user, password)
        client.max_inflight_messages_set(0)  # 0: no limit, every ACK goes out at once
        client.max_queued_messages_set(0)

        def opened(_client, _userdata, sock) -> None:
            loop.add_reader(sock, client.loop_read)

        def closed(_client, _userdata, sock) -> None:
            loop.remove_reader(sock)

        def writing(_client, _userdata, sock) -> None:
            loop.add_writer(sock, client.loop_write)

        def written(_client, _userdata, sock) -> None:
            loop.remove_writer(sock)

        def connected(_client, _userdata, _flags, reason, _properties) -> None:
            if reason.is_failure:
                self._connected.set_exception(BrokerError(f"bridge refused: {reason}"))
                return
            client.subscribe([(INBOX + "#", 0), (EXPIRED + "#", 0)])
            if not self._connected.done():
                self._connected.set_result(True)

        client.on_socket_open = opened
        client.on_socket_close = closed
        client.on_socket_register_write = writing
        client.on_socket_unregister_write = written
        client.on_connect = connected
        client.on_message = self._message
        client.connect(self.host, self.port, keepalive=60)
        self._misc = loop.create_task(self._misc_forever(client))
        return client

    async def _misc_forever(self, client: mqtt.Client) -> None:
        while True:
            await asyncio.sleep(1)
            client.loop_misc()

    def _message(self, _client, _userdata, message) -> None:
        topic = message.topic
        if topic.startswith(INBOX):
            auth, _, device_topic = topic.removeprefix(INBOX).partition("/")
            self._spawn(self._answer(auth, device_topic, bytes(message.payload)))
        elif topic.startswith(EXPIRED):
            why, *ack_topics = bytes(message.payload).split(b"\n")
            self._spawn(self._close(topic.removeprefix(EXPIRED), why, ack_topics))

    def _spawn(self, work) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.answering.add(task)
        task.add_done_callback(self.answering.discard)

    async def _answer(self, auth: str, topic: str, data: bytes) -> None:
        answered = await answer(self.service, auth, topic, data)
        if answered is not None and self.bridge is not None:
            self.bridge.publish(*answered, qos=1)

    async def _close(self, client_id: str, why: bytes, ack_topics: list[bytes]) -> None:
        if why.endswith(b"ttl_expired"):
            self.closed_by_ttl += 1
        topics = [t.decode() for t in ack_topics]
        for topic, notice in close_notices(self.service, topics, why):
            self.bridge.publish(topic, notice, qos=1)
        await asyncio.sleep(0.05)  # the ERR goes out before the close
        self.bridge.publish(CLOSE + client_id, b"", qos=0)

    async def stop(self) -> None:
        if self.bridge is not None:
            self._misc.cancel()
            self.bridge.disconnect()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
