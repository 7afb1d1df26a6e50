"""What TagoTiP's MQTT binding answers (TagoTipServers §3, docs/tagotip/transports/mqtt),
whichever broker carries it: the ACK for a PUBLISH to a `$tip/` or `$tips/` push or pull topic,
and the notice on a connection's ack topics before the server closes it. The embedded target's
two brokers (amqtt's in its process, tagotip_mqtt; mosquitto beside it, tagotip_mosquitto) both
answer through here, so a frame means the same whichever one a test or a bench runs."""

from __future__ import annotations

from collections.abc import Iterable

from tagocheck.server.tagotip_service import TagoTipService
from tagocheck.tagotip.frames import (
    Ack,
    ack_payload,
    check_serial,
    check_size,
    echoed_counter,
    parse_counter,
)
from tagocheck.tagotip.grammar import FrameError, split_unescaped

MAX_TOPIC = 128  # [C transports/mqtt]


def topic_parts(topic: str) -> tuple[str, str, str] | None:
    """(prefix, serial, verb) of `$tip/{serial}/{verb}` or `$tips/...`, else None."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] not in ("$tip", "$tips"):
        return None
    return parts[0], parts[1], parts[2]


def is_ack_topic(topic_filter: str) -> bool:
    """An exact `$tip/{serial}/ack` or `$tips/{serial}/ack` filter (no wildcard)."""
    named = topic_parts(topic_filter)
    return named is not None and named[2] == "ack" and "+" not in named[1] and "#" not in named[1]


def _counter_and_rest(payload: str) -> tuple[int | None, str]:
    """§3.3: an optional `!N|` before the body."""
    if not payload.startswith("!"):
        return None, payload
    head, *rest = split_unescaped(payload, "|")
    if not rest:
        raise FrameError("invalid_payload", "TagoTipServers §3.3", "a counter with no body")
    return parse_counter(head), payload[len(head) + 1 :]


async def answer(
    service: TagoTipService, auth: str, topic: str, data: bytes
) -> tuple[str, bytes] | None:
    """The ack topic and payload answering a PUBLISH of `data` to `topic` by a client that
    connected with `auth` (the hash's halves together): sealed on `$tips/`, `[!N|]STATUS[|DETAIL]`
    on `$tip/` (§3.3); None for a topic that is not a push or pull one."""
    named = topic_parts(topic)
    if named is None or named[2] not in ("push", "pull"):
        return None
    prefix, serial, verb = named
    if prefix == "$tips":
        return f"$tips/{serial}/ack", await service.handle_envelope(data)
    ack = await _plain(service, auth, topic, serial, verb, data)
    return f"$tip/{serial}/ack", ack_payload(ack).encode()


async def _plain(
    service: TagoTipService, auth: str, topic: str, serial: str, verb: str, data: bytes
) -> Ack:
    seq = echoed_counter(data, 0)
    try:
        if len(topic) > MAX_TOPIC:
            raise FrameError("invalid_payload", "transports/mqtt", "a topic over 128 chars")
        check_serial(serial)
        check_size(data)
        seq, rest = _counter_and_rest(data.decode())
    except FrameError as refused:
        return Ack("ERR", refused.code, seq)
    except UnicodeDecodeError:
        return Ack("ERR", "invalid_payload", seq)
    if verb == "pull":
        names = "[" + ";".join(rest.split(",")) + "]"
        return await service.handle("PULL", auth, serial, names, seq)
    return await service.handle("PUSH", auth, serial, rest, seq)


def close_notices(
    service: TagoTipService, ack_topics: Iterable[str], why: bytes
) -> list[tuple[str, bytes]]:
    """`why` (`ERR|ttl_expired`) for each of a closing connection's ack topics: sealed on a
    `$tips/` one, the payload's semantics being the same on both prefixes (transports/mqtt);
    none on a wildcard filter, or sealed for a device that never sealed an uplink."""
    notices = []
    for topic in ack_topics:
        named = topic_parts(topic)
        if named is None or "+" in topic or "#" in topic:
            continue
        if named[0] == "$tip":
            notices.append((topic, why))
        elif (sealed := service.sealed_notice(named[1], why)) is not None:
            notices.append((topic, sealed))
    return notices
