"""The embedded TagoIO-compatible target behind `tagocheck serve`.

It is a real server with real storage, written from the facts file. It is its own room: it imports
none of the suite's checks (schemas, route table, permission matrix, plans) and implements the
contract in code, so that when the contract suite runs against it, two independent readings of the
contract check each other. Its fault modes let the suite prove that each of its checks can fail.
"""

LISTEN_BACKLOG = 2048
"""Connections each of the target's listening sockets queues before it accepts them. asyncio's
default, 100, overflows when a fleet connects in a burst: Linux then drops the handshake's last
ACK, the client believes it is connected, and both sides wait out TCP's retransmission backoff.
With 3,500 MQTT devices both processes sat idle for 25 s of a 60-s run that way
(bench/tagotip_connections.py)."""
PARENT_VARIABLE = "TAGOCHECK_SERVE_PARENT"
"""The environment variable naming the process that started a target and will stop it
(tagocheck.server.launcher sets it): the target stops itself once that process is gone."""
