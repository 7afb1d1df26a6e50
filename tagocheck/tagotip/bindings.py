"""The names of TagoTiP's bindings as the suite says them everywhere: a fleet's `--via`, the
protocol an exchange's answer is read as, the embedded target's listeners. One place, so a
binding added is added once."""

from __future__ import annotations

HTTP = "tagotip-http"
"""The HTTP binding: a PUSH body to POST /v1/tip/{serial} (TagoTipServers §2)."""
MQTT = "tagotip-mqtt"
"""The MQTT binding: `!N|BODY` on `$tip/{serial}/push`, the ACK on its ack topic (§3)."""
UDP = "tagotip-udp"
"""Raw frames, one a datagram (docs/tagotip/transports/udp)."""
TCP = "tagotip-tcp"
"""Raw frames on a connection, each ended by a newline (TagoTipServers §4, transports/tcp)."""
ALL = (HTTP, MQTT, UDP, TCP)
SEALED = "tagotip-s"
"""Not a binding: an answer read as TagoTiP/S's, opened with the device's key (TagoTiPs), on any
binding a fleet sealed its frames on (`--tagotip-envelope`)."""
