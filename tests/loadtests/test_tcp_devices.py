"""A TCP device's connection reads what the server said while it slept whatever its socket's
descriptor: a fleet holds thousands open, past select()'s 1,023."""

from __future__ import annotations

import os
import resource
import socket

from tagocheck.load.tcp_devices import TcpConnection

HIGH_DESCRIPTOR = 1500


def _connection_on_a_high_descriptor() -> tuple[TcpConnection, socket.socket]:
    ours, server = socket.socketpair()
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft > HIGH_DESCRIPTOR, f"this test needs descriptors past {HIGH_DESCRIPTOR}: {soft}"
    os.dup2(ours.fileno(), HIGH_DESCRIPTOR)
    ours.close()
    connection = TcpConnection(("127.0.0.1", 0), None)
    connection.sock = socket.socket(fileno=HIGH_DESCRIPTOR)
    return connection, server


def test_a_connection_past_descriptor_1023_reads_a_close_notice_and_the_close():
    connection, server = _connection_on_a_high_descriptor()
    try:
        assert connection.open_now  # nothing said: it stands
        server.sendall(b"ACK|ERR|ttl_expired\n")
        server.close()
        assert not connection.open_now
        assert connection.closed_because == "ttl_expired"
    finally:
        connection.close()
