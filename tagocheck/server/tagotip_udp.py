"""TagoTiP over UDP (docs/tagotip/transports/udp): one datagram in, one datagram out. Each
datagram carries one whole frame (`PUSH|[!N|]HASH|SERIAL|BODY`, a trailing newline allowed) and
is answered by its ACK (`ACK|[!N|]STATUS[|DETAIL]`) to the address it came from; nothing holds a
connection, so the only limits are the frame's size and the profile's uplinks a minute. The
TagoTiP/S endpoint (the docs' port 5684) takes a sealed envelope a datagram instead and answers
with one, or with a plaintext `ACK|ERR|...` when the envelope cannot be opened (TagoTiPs §9).
"""

from __future__ import annotations

import asyncio

from tagocheck.server.tagotip_service import TagoTipService


class TagoTipUdp(asyncio.DatagramProtocol):
    """The binding's socket: each datagram handed to the service, its ACK sent back."""

    def __init__(self, service: TagoTipService, sealed: bool = False) -> None:
        self.service = service
        self.sealed = sealed
        self.transport: asyncio.DatagramTransport | None = None
        self.answering: set[asyncio.Task] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        task = asyncio.ensure_future(self._answer(data, addr))
        self.answering.add(task)
        task.add_done_callback(self.answering.discard)

    async def _answer(self, data: bytes, addr: tuple) -> None:
        if self.sealed:
            answer = await self.service.handle_envelope(data)
        else:
            answer = (await self.service.handle_frame(data)).text().encode()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(answer, addr)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")[1]


async def serve_udp(
    service: TagoTipService, host: str, port: int, *, sealed: bool = False
) -> TagoTipUdp:
    """The binding listening on host:port (0: a free port); `sealed`: TagoTiP/S envelopes."""
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(
        lambda: TagoTipUdp(service, sealed), local_addr=(host, port)
    )
    return protocol
