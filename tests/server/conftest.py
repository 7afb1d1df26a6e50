"""Fixtures that run the embedded target as a real process on a free loopback port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tagocheck.server.launcher import RunningTarget, start_target


class Client:
    """A requests session bound to a target, with helpers to provision devices and tokens."""

    def __init__(self, target: RunningTarget) -> None:
        self.target = target
        self.url = target.url
        self.http = requests.Session()

    def call(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers.setdefault("Token", token)
        kwargs.setdefault("timeout", 10)
        return self.http.request(method, self.url + path, headers=headers, **kwargs)

    def profile(self, method: str, path: str, **kwargs):
        return self.call(method, path, self.target.profile_token, **kwargs)

    def device(self, name: str = "dev", **fields) -> dict:
        """A new device; returns {device_id, bucket_id, token}."""
        response = self.profile("POST", "/device", json={"name": name, **fields})
        assert response.status_code == 201, response.text
        return response.json()["result"]

    def token(self, device_id: str, permission: str = "full", **fields) -> str:
        body = {"device": device_id, "permission": permission, **fields}
        response = self.profile("POST", "/device/token", json=body)
        assert response.status_code == 201, response.text
        return response.json()["result"]["token"]


StartTarget = Callable[..., RunningTarget]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[StartTarget]:
    """Start targets with extra `tagocheck serve` arguments; each is stopped at the end."""
    started: list[RunningTarget] = []

    def _start(*args: str, state_dir: Path | None = None) -> RunningTarget:
        target = start_target(state_dir or tmp_path / f"state{len(started)}", *args)
        started.append(target)
        return target

    yield _start
    for target in started:
        target.stop()


@pytest.fixture(scope="module")
def shared_target(tmp_path_factory) -> Iterator[RunningTarget]:
    """One healthy target for a module's read-mostly tests (the unlimited plan: no 429s)."""
    target = start_target(tmp_path_factory.mktemp("target"), "--plan", "unlimited")
    yield target
    target.stop()


@pytest.fixture
def client(shared_target: RunningTarget) -> Client:
    return Client(shared_target)
