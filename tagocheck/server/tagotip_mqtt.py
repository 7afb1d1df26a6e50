"""TagoTiP's MQTT binding (TagoTipServers §3, docs/tagotip/transports/mqtt) on a real broker:
amqtt's, run in the target's process on its own port, with a plugin of ours that does what
TagoIO's broker does around it.

- CONNECT: username and password are the Authorization Hash's two halves (§3.1); a wrong pair
  is refused. Past the plan's connections per IP or active connections per profile the CONNECT
  is refused too: the rate-limit page answers `ACK|ERR|rate_limited` then closes, which a
  device that has not subscribed yet cannot read, so a refused CONNACK stands for it [X].
- PUBLISH to `$tip/{serial}/push` (`[!N|]BODY`) or `/pull` (`[!N|]a,b`) goes to the TagoTiP
  service, and its ACK is published to `$tip/{serial}/ack` (`[!N|]STATUS[|DETAIL]`, §3.3);
  `$tips/` carries TagoTiP/S envelopes the same way.
- TTL: the plan's connection TTL after CONNECT, `ERR|ttl_expired` goes to the connection's ack
  topics and the connection is closed [C rate-limits]. Idle: the client's keep-alive is capped
  at the plan's idle timeout, so amqtt's reader times out on a connection silent that long
  (any packet, a PINGREQ included, resets it: MQTT's own keep-alive, as the page says); amqtt
  ignores that timeout, so the plugin hooks it: `ERR|keep_alive_timeout`, then the close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass
from functools import partial
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import ListenerType
from amqtt.events import BrokerEvents
from amqtt.plugins.base import BaseAuthPlugin, BasePlugin

from tagocheck.server import LISTEN_BACKLOG
from tagocheck.server.amqtt_sessions import use_light_sessions
from tagocheck.server.plans import TagoTipConnections, tagotip_connections
from tagocheck.server.tagotip_mqtt_binding import (
    answer,
    close_notices,
    is_ack_topic,
    topic_parts,
)
from tagocheck.server.tagotip_service import TagoTipService

log = logging.getLogger("tagocheck.server.tagotip_mqtt")

BINDINGS: dict[str, TagoTipMqtt] = {}
"""The running bindings by name: amqtt builds its plugins from their dotted path and a config,
so a plugin finds its binding here by the name in its config."""


class TipBroker(Broker):
    """amqtt's broker, taking PUBLISHes to `$tip/` and `$tips/` topics as TagoIO's does.

    amqtt refuses a client's PUBLISH to any `$` topic and closes its connection (its reading of
    MQTT-4.7.2-1, which only keeps `$` topics from wildcard subscriptions); the binding is made
    of such topics. They go to the plugins and to no subscriber: the ACK is the answer. This
    overrides private methods of amqtt 0.12 (pinned in pyproject.toml; tests/server/
    test_tagotip_mqtt.py and test_serve.py fail if they no longer apply), as does the TCP
    listener's backlog below."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ack_subscribers: dict[str, list[tuple[Any, int]]] = {}
        """Each ack topic's subscribers (session, QoS), kept out of amqtt's own table."""
        self.acks_of: dict[str, set[str]] = {}
        """The ack topics each client subscribed to."""

    async def _create_server_instance(  # type: ignore[no-untyped-def]
        self, listener_name, listener_type, address, port, ssl_context
    ):
        """amqtt's TCP listener with the target's backlog (LISTEN_BACKLOG: amqtt leaves
        asyncio's 100, which a fleet's connect burst overflows into stalls of many seconds)."""
        if listener_type != ListenerType.TCP:
            return await super()._create_server_instance(
                listener_name, listener_type, address, port, ssl_context
            )
        return await asyncio.start_server(
            partial(self.stream_connected, listener_name=listener_name),
            address,
            port,
            reuse_address=True,
            ssl=ssl_context,
            backlog=LISTEN_BACKLOG,
        )

    async def _handle_message_delivery(self, client_session, handler, wait_deliver):  # type: ignore[no-untyped-def]
        message = wait_deliver.result()
        if message is not None and topic_parts(message.topic or "") is not None:
            await self.plugins_manager.fire_event(
                BrokerEvents.MESSAGE_RECEIVED, client_id=client_session.client_id, message=message
            )
            return True
        return await super()._handle_message_delivery(client_session, handler, wait_deliver)

    # Why ack topics live in a table of their own: with a connection per device, amqtt's table
    # of subscriptions holds a filter per device, and amqtt walks all of it on every CONNECT (to
    # send retained messages, formatting a log line per filter) and every disconnect: each
    # CONNECT cost the number of devices connected (about 90 a second with 3,000 open). An ack
    # topic is exact, so its subscribers are found by the topic itself.

    async def add_subscription(self, subscription: tuple[str, int], session: Any) -> int:
        granted = await super().add_subscription(subscription, session)
        topic = subscription[0]
        if granted == 0x80 or not is_ack_topic(topic):
            return granted
        subscribers = self.ack_subscribers.setdefault(topic, [])
        for entry in self._subscriptions.pop(topic, []):
            if all(held.client_id != entry[0].client_id for held, _ in subscribers):
                subscribers.append(entry)
        self.acks_of.setdefault(session.client_id, set()).add(topic)
        return granted

    def _del_subscription(self, a_filter: str, session: Any) -> int:
        if a_filter not in self.ack_subscribers:
            return super()._del_subscription(a_filter, session)
        subscribers = self.ack_subscribers[a_filter]
        kept = [entry for entry in subscribers if entry[0].client_id != session.client_id]
        if kept:
            self.ack_subscribers[a_filter] = kept
        else:
            del self.ack_subscribers[a_filter]
        self.acks_of.get(session.client_id, set()).discard(a_filter)
        return len(subscribers) - len(kept)

    async def _del_all_subscriptions(self, session: Any) -> None:
        for topic in self.acks_of.pop(session.client_id, set()):
            self._del_subscription(topic, session)
        await super()._del_all_subscriptions(session)


class _FiredEvents(dict):
    """amqtt's plugin calls in flight, as an insertion-ordered set: amqtt keeps them in a list
    and takes each finished one out with list.remove, a walk over all in flight (6% of the
    broker with 2,500 devices, each uplink's call waiting on the store)."""

    def extend(self, futures: Any) -> None:
        self.update(dict.fromkeys(futures))

    def remove(self, future: Any) -> None:
        del self[future]  # amqtt suppresses the KeyError of one already gone


class TagoTipMqtt:
    """The broker and what the plugin needs: the service, the plan's limits, the faults."""

    def __init__(
        self,
        service: TagoTipService,
        plan: str,
        host: str,
        port: int,
        *,
        ttl_seconds: float | None = None,
        idle_seconds: float | None = None,
        name: str = "tagotip",
    ) -> None:
        self.service = service
        self.limits: TagoTipConnections = tagotip_connections(
            plan, ttl_seconds, idle_seconds, service.app.faults
        )
        self.name = name
        self.address = (host, port)
        self.broker: TipBroker | None = None
        self.closed_by_ttl = 0
        self.refused_connects = 0
        self.connected: Counter = Counter()
        """Connections open now, by the client's IP address: a CONNECT is held to the plan's
        limits by these counts, not by a walk over every session (that walk made each
        CONNECT cost the number of connections)."""
        BINDINGS[name] = self

    async def start(self) -> None:
        host, port = self.address
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {
                f"{__name__}.TipAuthPlugin": {"binding": self.name},
                f"{__name__}.TipPlugin": {"binding": self.name},
            },
        }
        use_light_sessions()
        self.broker = TipBroker(config)
        self.broker.plugins_manager._fired_events = _FiredEvents()  # amqtt 0.12's attribute
        await self.broker.start()

    @property
    def port(self) -> int:
        assert self.broker is not None
        server = next(iter(self.broker._servers.values()))  # amqtt keeps its asyncio servers there
        return server.instance.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await self.broker.shutdown()
        BINDINGS.pop(self.name, None)


class TipAuthPlugin(BaseAuthPlugin):
    """CONNECT: the hash's halves, the connection limits, and the idle timeout as keep-alive."""

    @dataclass
    class Config:
        binding: str = "tagotip"

    async def authenticate(self, *, session: Any) -> bool | None:
        binding = BINDINGS[self.config.binding]
        auth = f"{session.username or ''}{session.password or ''}"
        if not binding.service.knows(auth):
            return False
        same_ip = binding.connected[session.remote_address]
        total = sum(binding.connected.values())
        if same_ip >= binding.limits.per_ip or total >= binding.limits.mqtt_per_profile:
            binding.refused_connects += 1
            return False
        if binding.limits.expire:
            idle = max(1, round(binding.limits.idle_seconds))  # MQTT keep-alive is whole seconds
            session.keep_alive = min(session.keep_alive or idle, idle)
        return True


class TipPlugin(BasePlugin):
    """Uplinks to the service, ACKs back on the ack topic, and each connection's TTL."""

    @dataclass
    class Config:
        binding: str = "tagotip"

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.ack_topics: dict[str, set[str]] = {}
        self.timers: dict[str, asyncio.Task] = {}
        self.sending: set[asyncio.Future] = set()
        self.wildcards = False
        """Someone subscribed to a `$tip` filter with a wildcard: ACKs go through amqtt's own
        matching then (see _deliver)."""

    @property
    def binding(self) -> TagoTipMqtt:
        return BINDINGS[self.config.binding]

    async def on_broker_client_connected(self, *, client_id: str, client_session: Any) -> None:
        self.binding.connected[client_session.remote_address] += 1
        if self.binding.limits.expire:
            self.timers[client_id] = asyncio.ensure_future(self._expire(client_id))
            found = self.context._broker_instance._sessions.get(client_id)
            if found is not None:  # amqtt's reader calls this on keep-alive silence, then goes on
                found[1].handle_read_timeout = lambda: asyncio.ensure_future(
                    self._close(client_id, b"ERR|keep_alive_timeout")
                )

    async def on_broker_client_disconnected(self, *, client_id: str, client_session: Any) -> None:
        address = client_session.remote_address
        self.binding.connected[address] -= 1
        if self.binding.connected[address] <= 0:
            del self.binding.connected[address]
        timer = self.timers.pop(client_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        self.ack_topics.pop(client_id, None)

    async def on_broker_client_subscribed(self, *, client_id: str, topic: str, qos: int) -> None:
        if topic.endswith("/ack"):
            self.ack_topics.setdefault(client_id, set()).add(topic)
        if topic.startswith("$tip") and ("+" in topic or "#" in topic):
            self.wildcards = True

    async def _deliver(self, topic: str, data: bytes) -> None:
        """An ACK to whoever subscribed to its topic. amqtt's broadcast matches every
        subscription filter against every message, so with a connection per device each ACK
        cost the number of devices; an ack topic's subscribers are found by the topic itself
        (TipBroker.ack_subscribers), and a wildcard subscription under `$tip`, rare, gets them
        through amqtt's matching."""
        broker = self.context._broker_instance
        if self.wildcards:
            await self.context.broadcast_message(topic, data)
        for session, qos in list(broker.ack_subscribers.get(topic, ())):
            if session.transitions.state != "connected":
                continue
            handler = broker._get_handler(session)
            if handler is not None:  # not awaited: a QoS 1 delivery waits for its PUBACK
                sending = asyncio.ensure_future(
                    handler.mqtt_publish(topic, data, qos, retain=False)
                )
                self.sending.add(sending)
                sending.add_done_callback(self.sending.discard)

    async def _expire(self, client_id: str) -> None:
        await asyncio.sleep(self.binding.limits.ttl_seconds)
        self.binding.closed_by_ttl += 1
        await self._close(client_id, b"ERR|ttl_expired")

    async def _close(self, client_id: str, why: bytes) -> None:
        """`why` on the connection's ack topics (close_notices), then the connection closed."""
        for topic, notice in close_notices(
            self.binding.service, self.ack_topics.pop(client_id, ()), why
        ):
            await self._deliver(topic, notice)
        await asyncio.sleep(0.05)  # the ERR goes out before the close
        # amqtt has no public call to drop one client: its take-over path does this
        found = self.context._broker_instance._sessions.get(client_id)
        if found is not None:
            with contextlib.suppress(Exception):
                await found[1].handle_connection_closed()
                await found[1].stop()

    async def on_broker_message_received(self, *, client_id: str, message: Any) -> None:
        session = self.context.get_session(client_id)
        auth = f"{session.username or ''}{session.password or ''}" if session else ""
        answered = await answer(self.binding.service, auth, message.topic, bytes(message.data))
        if answered is not None:
            await self._deliver(*answered)
