"""TagoTiP over TCP (TagoTipServers §4, docs/tagotip/transports/tcp): a persistent connection
carrying whole frames, each ended by `\\n` and answered by its ACK line, in order.

The mode is told once per connection by its first byte (transports/tcp): a frame starts with a
method's letter, so a first byte from `A` (0x41) up means plain frames; below it, TagoTiP/S,
where every message in both directions is a big-endian uint16 length and the envelope (or a
plaintext fallback `ACK|ERR|...`) (TagoTiPs §5.4), since an envelope may hold any byte.

The connection is held to the plan as TagoIO's is [C rate-limits]: past the connections per IP
the server says `ERR|rate_limited` and closes; a connection lives at most the TTL, busy or not,
and is closed after the idle timeout of silence, each said first (`ERR|ttl_expired`,
`ERR|keep_alive_timeout`). The no-ttl fault lifts both.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from tagocheck.server import LISTEN_BACKLOG
from tagocheck.server.plans import TagoTipConnections, tagotip_connections
from tagocheck.server.tagotip_service import TagoTipService
from tagocheck.tagotip.envelope import SUITES, max_envelope
from tagocheck.tagotip.frames import Ack, echoed_counter
from tagocheck.tagotip.grammar import MAX_FRAME_BYTES

PLAIN_FIRST_BYTE = 0x41
"""A plain frame's first byte is a method's letter; a TagoTiP/S length's high byte is below it
(an envelope is at most 16,421 bytes, 0x4025), and 0x41 is reserved (TagoTiPs §5.4)."""
MAX_ENVELOPE = max(max_envelope(suite) for suite in SUITES.values())


class TagoTipTcp:
    """The binding's listener: each connection's frames handed to the service, in order."""

    def __init__(
        self,
        service: TagoTipService,
        plan: str,
        *,
        ttl_seconds: float | None = None,
        idle_seconds: float | None = None,
    ) -> None:
        self.service = service
        self.limits: TagoTipConnections = tagotip_connections(
            plan, ttl_seconds, idle_seconds, service.app.faults
        )
        self.connected: Counter = Counter()
        """Connections open now, by the client's IP address."""
        self.server: asyncio.Server | None = None
        self.serving: set[asyncio.Task] = set()

    async def start(self, host: str, port: int) -> None:
        # a frame past the limit overruns the reader's buffer early, not at 64 KiB
        self.server = await asyncio.start_server(
            self._connection, host, port, limit=MAX_FRAME_BYTES + 2, backlog=LISTEN_BACKLOG
        )

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for task in list(self.serving):
                task.cancel()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.serving.add(task)
        ip = (writer.get_extra_info("peername") or ("?",))[0]
        try:
            if self.connected[ip] >= self.limits.per_ip:
                writer.write(b"ACK|ERR|rate_limited\n")  # over the per-IP limit: said, closed
                return
            self.connected[ip] += 1
            try:
                await Exchanges(self, reader, writer).run()
            finally:
                self.connected[ip] -= 1
                if self.connected[ip] <= 0:
                    del self.connected[ip]
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the device went away: nothing to answer
        finally:
            with contextlib.suppress(Exception):
                await writer.drain()
                writer.close()
            if task is not None:
                self.serving.discard(task)


class Closing(Exception):
    """The server ends the connection, after saying why (`ERR|ttl_expired`...)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class Exchanges:
    """One connection's life: its mode, then each message in, its answer out, until the device
    goes, the TTL passes or it is silent for the idle timeout."""

    def __init__(
        self, binding: TagoTipTcp, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.binding = binding
        self.reader = reader
        self.writer = writer
        self.loop = asyncio.get_running_loop()
        self.ends_at = self.loop.time() + binding.limits.ttl_seconds
        self.sealed = False

    async def run(self) -> None:
        try:
            first = await self._within(self.reader.readexactly(1))
            self.sealed = first[0] < PLAIN_FIRST_BYTE
            pending = first
            while True:
                answer = await (self._sealed(pending) if self.sealed else self._plain(pending))
                self._send(answer)
                await self.writer.drain()
                pending = await self._within(self.reader.readexactly(1))
        except Closing as closing:
            self._send(f"ACK|ERR|{closing.why}".encode())

    async def _within(self, reading):  # type: ignore[no-untyped-def]
        """A read, cut short by the TTL or the idle timeout (Closing with its code)."""
        if not self.binding.limits.expire:
            return await reading
        limits = self.binding.limits
        left = self.ends_at - self.loop.time()
        wait = min(left, limits.idle_seconds)
        try:
            return await asyncio.wait_for(reading, timeout=max(wait, 0))
        except TimeoutError:
            raise Closing("ttl_expired" if wait == left else "keep_alive_timeout") from None

    async def _plain(self, first: bytes) -> bytes:
        """One `\\n`-ended frame and its ACK line. A frame over the size limit is read to its
        end and refused with payload_too_large, its counter echoed (§4.5, §9.5)."""
        line = first
        if first != b"\n":
            try:
                line += await self._within(self.reader.readuntil(b"\n"))
            except asyncio.LimitOverrunError as over:
                head = first + await self._within(self.reader.readexactly(over.consumed))
                await self._discard_line()
                return Ack("ERR", "payload_too_large", echoed_counter(head, 1)).text().encode()
        return (await self.binding.service.handle_frame(line.rstrip(b"\n"))).text().encode()

    async def _discard_line(self) -> None:
        """The rest of an overlong frame, read and dropped up to its `\\n`."""
        while True:
            try:
                await self._within(self.reader.readuntil(b"\n"))
                return
            except asyncio.LimitOverrunError as over:
                await self._within(self.reader.readexactly(over.consumed))

    async def _sealed(self, first: bytes) -> bytes:
        """One length-prefixed envelope and its answer (TagoTiPs §5.4)."""
        length = int.from_bytes(first + await self._within(self.reader.readexactly(1)), "big")
        message = await self._within(self.reader.readexactly(length))
        if length > MAX_ENVELOPE:
            return b"ACK|ERR|envelope_too_large"
        return await self.binding.service.handle_envelope(message)

    def _send(self, answer: bytes) -> None:
        if self.sealed:
            self.writer.write(len(answer).to_bytes(2, "big") + answer)
        else:
            self.writer.write(answer + b"\n")
