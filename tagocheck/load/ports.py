"""Loopback ports for the parts of a run that listen: Locust's master when `--processes` forks
workers. Locust's default master port (5557) is one per machine, so two runs side by side (two
jobs, a CI box running tests in parallel) would collide; each run takes a free port of its own,
and its master listens on loopback only."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the OS's choice); whoever binds it next gets it."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def master_on_loopback() -> list[str]:
    """Locust options for a `--processes` run: its master on a free loopback port, and the
    forked workers told where it is."""
    port = str(free_port())
    return ["--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--master-port", port]
