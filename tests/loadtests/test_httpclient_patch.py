"""Pooled connections on file descriptors past 1024 stay in use (the select() pitfall)."""

from __future__ import annotations

import os
import socket

import gevent.socket
from geventhttpclient.connectionpool import ConnectionPool

from tagocheck.fleet.httpclient import patch_connection_pool, socket_is_alive

HIGH_FD = 1500


def high_socket_pair():
    ours, peer = socket.socketpair()
    os.dup2(ours.fileno(), HIGH_FD)
    ours.close()
    return gevent.socket.socket(fileno=HIGH_FD), peer


def test_select_based_check_calls_a_healthy_high_fd_dead_and_poll_does_not():
    sock, peer = high_socket_pair()
    try:
        original = ConnectionPool.__dict__["_is_socket_alive"]
        assert original(None, sock) is False  # the pitfall: select() cannot take fd 1500
        assert socket_is_alive(sock) is True
        peer.close()  # now the idle socket is readable (EOF): it is dead
        assert socket_is_alive(sock) is False
    finally:
        sock.close()


def test_the_patch_replaces_the_pool_check():
    original = ConnectionPool._is_socket_alive
    try:
        patch_connection_pool()
        sock, peer = high_socket_pair()
        try:
            assert ConnectionPool._is_socket_alive(None, sock) is True
        finally:
            sock.close()
            peer.close()
    finally:
        ConnectionPool._is_socket_alive = original
