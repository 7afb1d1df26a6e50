"""Start the embedded target as a child process and wait for its ready line.

The contract suite, the load tests and `tagocheck capacity` use this when no --host/--target is
given; the self-tests use it to start the target with a fault. The child is stopped by its PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tagocheck.server import PARENT_VARIABLE
from tagocheck.tagotip import bindings


class TargetFailedToStart(RuntimeError):
    pass


class RunningTarget:
    """A target started by `start_target`; use as a context manager or call stop()."""

    def __init__(self, process: subprocess.Popen[str], info: dict[str, Any]) -> None:
        self.process = process
        self.info = info

    @property
    def url(self) -> str:
        return self.info["url"]

    @property
    def profile_token(self) -> str:
        return self.info["profile_token"]

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait; SIGKILL only if it does not stop in time. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: the crash the durability test needs."""
        self.process.kill()
        self.process.wait()

    def __enter__(self) -> RunningTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def signals_deferred(defer: bool) -> Iterator[None]:
    """SIGINT and SIGTERM held back (on the main thread) until the block is done, then
    delivered: the block cannot be interrupted half way."""
    if not defer or threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in held}
    for sig in held:
        signal.signal(sig, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            signal.raise_signal(caught[0])


def tagotip_binding(via: str) -> tuple[str, ...]:
    """What `tagocheck serve` needs for a fleet's path: the MQTT binding only when the fleet
    goes over MQTT (amqtt is loaded only then), the UDP or TCP one when over it."""
    if via == bindings.UDP:
        return ("--tagotip-udp-port", "0")
    if via == bindings.TCP:
        return ("--tagotip-tcp-port", "0")
    return ("--tagotip-mqtt-port", "0") if via == bindings.MQTT else ()


def start_target(
    state_dir: Path, *args: str, timeout: float = 30.0, new_session: bool = False
) -> RunningTarget:
    """Run `tagocheck serve --port 0 --state-dir STATE_DIR ARGS...` until it says it is ready.

    new_session: the target does not get the terminal's Ctrl-C; whoever started it stops it,
    after the parts that still need it.
    """
    command = [sys.executable, "-m", "tagocheck", "serve", "--port", "0"]
    command += ["--state-dir", str(state_dir), *args]
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_path = state_dir / "serve.log"  # a file, not a pipe: a pipe nobody reads can block it
    process = None
    try:
        # a signal in the middle of Popen would lose the child it forked: in its own session
        # it would run on, holding the tokens
        with open(log_path, "a") as log, signals_deferred(new_session):
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1", PARENT_VARIABLE: str(os.getpid())},
                start_new_session=new_session,
            )
        assert process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if selector.select(timeout=0.1):
                line = process.stdout.readline()
                if line:
                    return RunningTarget(process, json.loads(line))
            if process.poll() is not None:
                break
    except BaseException:  # Ctrl-C or SIGTERM while it starts: no target is left running
        if process is not None:
            process.kill()
            process.wait()
        raise
    if process.poll() is None:
        process.kill()
    process.wait()
    problem = log_path.read_text().strip().splitlines()
    raise TargetFailedToStart(problem[-1] if problem else f"no ready line within {timeout:.0f} s")
