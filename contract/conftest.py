"""The contract suite's target, client and throwaway fleet.

With neither --target nor TAGOIO_API, a session fixture starts the embedded target on a free port
(starter plan, 2-second rate windows) and stops it at the end. Against any other target it needs a
profile token, creates what it needs under the name prefix `tagocheck-<run id>-`, says up front how
much it will create, deletes it all at the end (also when tests fail or the run is interrupted),
and sweeps leftovers of earlier runs that are more than a day old.
"""

from __future__ import annotations

import os
import secrets
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, settings

from tagocheck import checks
from tagocheck.client import TagoClient
from tagocheck.ratelimits import rate_limits
from tagocheck.recorder import Recorder
from tagocheck.target.launcher import start_target

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("TAGOCHECK_HYPOTHESIS_PROFILE", "ci"))

PREFIX = "tagocheck-"
SWEEP_AGE_SECONDS = 86400
EMBEDDED_WINDOW = 2.0
EMBEDDED_PLAN = "starter"
DEVICES_PLANNED = 3  # two fleet devices and one scratch device at a time
TOKENS_PLANNED = 6
# Data-input transactions (one per variable sent) with the ci profile: ingest properties about
# 25 x 5, documented limits about 60 x 2, stateful queries about 8 x 12 x 4, permission and
# route probes about 30. The thorough profile takes roughly ten times as many.
DATA_INPUT_PLANNED = {"ci": 700, "thorough": 7000}


INTERRUPTS: list[int] = []


def pytest_configure(config: pytest.Config) -> None:
    # SIGTERM (a CI job cancelled, a container stopped) ends the run like Ctrl-C, and both are
    # remembered: hypothesis swallows a KeyboardInterrupt raised inside a property or state
    # machine, so the run is stopped again after the test (pytest_runtest_call below).
    def interrupt(signum: int, frame: Any) -> None:
        INTERRUPTS.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    try:
        return (yield)
    finally:
        if INTERRUPTS:
            pytest.exit("interrupted: the fleet is being deleted", returncode=2)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tagocheck", "TagoIO contract suite")
    group.addoption(
        "--target",
        default=os.environ.get("TAGOIO_API"),
        help="base URL of the target (default $TAGOIO_API; none: the embedded target)",
    )
    group.addoption(
        "--profile-token",
        default=os.environ.get("TAGOIO_PROFILE_TOKEN"),
        help="profile token (default $TAGOIO_PROFILE_TOKEN)",
    )
    group.addoption(
        "--network-token",
        default=os.environ.get("TAGOIO_NETWORK_TOKEN"),
        help="network token for the integration routes ($TAGOIO_NETWORK_TOKEN)",
    )
    group.addoption(
        "--analysis-token",
        default=os.environ.get("TAGOIO_ANALYSIS_TOKEN"),
        help="analysis token with no policy ($TAGOIO_ANALYSIS_TOKEN)",
    )
    group.addoption("--plan", default=None, help="rate-limit plan to expect (free|starter|scale)")
    group.addoption("--ca-cert", default=None, help="CA bundle to verify the target's TLS with")
    group.addoption("--insecure", action="store_true", help="do not verify TLS certificates")
    group.addoption(
        "--rate-window",
        type=float,
        default=None,
        help="rate-limit window in seconds (default: the target's, 60 for the cloud)",
    )
    group.addoption(
        "--latency-budget-ms",
        type=float,
        default=None,
        help="p95 latency a simple request must stay under (100 embedded, 1000 other)",
    )
    group.addoption(
        "--contract-report",
        default=None,
        help="where to write contract-report.json (default: beside --junitxml, "
        "else reports/contract-report.json)",
    )


@dataclass
class Target:
    url: str
    profile_token: str = field(repr=False)
    plan: str
    window: float
    verify: bool | str
    embedded: bool
    latency_budget_ms: float
    network_token: str | None = field(default=None, repr=False)
    analysis_token: str | None = field(default=None, repr=False)
    info: dict[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"Target(url={self.url!r}, plan={self.plan!r}, window={self.window:g})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis prints fixtures of a failing example with this; tokens stay out of it."""
        printer.text(repr(self))


RECORDER = Recorder()


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    option = request.config.getoption
    verify: bool | str = option("--ca-cert") or not option("--insecure")
    if option("--target"):
        if not option("--profile-token"):
            pytest.exit("--target needs --profile-token (or TAGOIO_PROFILE_TOKEN)", returncode=4)
        found = Target(
            url=option("--target").rstrip("/"),
            profile_token=option("--profile-token"),
            plan=option("--plan") or "free",
            window=option("--rate-window") or 60.0,
            verify=verify,
            embedded=False,
            latency_budget_ms=option("--latency-budget-ms") or 1000.0,
            network_token=option("--network-token"),
            analysis_token=option("--analysis-token"),
        )
        RECORDER.target = {"url": found.url, "plan": found.plan, "embedded": False}
        _preflight(found)
        yield found
        return
    with tempfile.TemporaryDirectory(prefix="tagocheck-contract-") as state:
        plan = option("--plan") or EMBEDDED_PLAN
        window = option("--rate-window") or EMBEDDED_WINDOW
        running = start_target(Path(state), "--plan", plan, "--rate-window-seconds", str(window))
        try:
            info = running.info
            RECORDER.target = {"url": info["url"], "plan": plan, "embedded": True}
            yield Target(
                url=info["url"],
                profile_token=info["profile_token"],
                plan=plan,
                window=window,
                verify=verify,
                embedded=True,
                latency_budget_ms=option("--latency-budget-ms") or 100.0,
                network_token=info.get("network_token"),
                analysis_token=info.get("analysis_token"),
                info=info,
            )
        finally:
            running.stop()


def _preflight(target: Target) -> None:
    """Stop at once, in one line, when the target cannot be used: unreachable, not TagoIO, or the
    profile token refused."""
    try:
        response = requests.get(
            target.url + "/info",
            headers={"Token": target.profile_token},
            verify=target.verify,
            timeout=15,
        )
    except requests.exceptions.SSLError as error:
        pytest.exit(
            f"TLS verification of {target.url} failed ({_reason(error)}); pass --ca-cert "
            "with its CA, or --insecure",
            returncode=4,
        )
    except requests.RequestException as error:
        pytest.exit(f"cannot reach {target.url}: {_reason(error)}", returncode=4)
    parsed, body = checks.parse_body(response.content)
    if not parsed or not isinstance(body, dict) or "status" not in body:
        kind = response.headers.get("content-type", "no content type")
        pytest.exit(
            f"{target.url} does not answer like a TagoIO API (HTTP {response.status_code}, {kind})",
            returncode=4,
        )
    if response.status_code in (401, 403):
        pytest.exit(
            f"{target.url} refused the profile token (HTTP {response.status_code})", returncode=4
        )


def _reason(error: Exception) -> str:
    text = str(error.args[0] if error.args else error)
    for marker in (
        "CERTIFICATE_VERIFY_FAILED",
        "Connection refused",
        "Name or service not known",
        "timed out",
    ):
        if marker in text:
            return marker.lower()
    return type(error).__name__


@pytest.fixture(scope="session")
def client(target: Target) -> TagoClient:
    return TagoClient(target.url, verify=target.verify, recorder=RECORDER)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not RECORDER.routes:
        return
    config = session.config
    path = config.getoption("--contract-report", None)
    junit = getattr(config.option, "xmlpath", None)
    if path is None:
        path = (
            Path(junit).parent / "contract-report.json"
            if junit
            else Path("reports/contract-report.json")
        )
    RECORDER.write(Path(path))
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(
            f"tagocheck: {RECORDER.records_added:,} records acknowledged (data-input "
            f"transactions); drift and violations written to {path}"
        )


# -- the throwaway fleet


@dataclass
class Device:
    id: str
    token: str = field(repr=False)
    serial: str = ""
    tokens: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass
class Fleet:
    """Devices and tokens made for this run; all in `created` is deleted at the end."""

    client: TagoClient = field(repr=False)
    target: Target
    prefix: str
    a: Device
    b: Device
    created: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Fleet(prefix={self.prefix!r}, target={self.target!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def profile(self, method: str, path: str, **kwargs: Any):
        return self.client.request(
            method, path, token=self.target.profile_token, token_kind="profile", **kwargs
        )

    def as_a(self, method: str, path: str = "/data", **kwargs: Any):
        """A request with device A's full token."""
        return self.client.request(
            method, path, token=self.a.token, token_kind="device-full", **kwargs
        )

    def device(self, name: str, **fields: Any) -> Device:
        serial = f"{self.prefix}{name}-sn"
        reply = self.profile(
            "POST",
            "/device",
            json={
                "name": f"{self.prefix}{name}",
                "type": "mutable",
                "serie_number": serial,
                **fields,
            },
        )
        assert reply.ok, reply.message
        result = reply.result
        device_id = result.get("device_id") or result.get("deviceID")
        self.created.append(device_id)
        return Device(device_id, result["token"], serial, {"device-full": result["token"]})

    def token(self, device: Device, permission: str, expire_time: str = "never") -> str:
        reply = self.profile(
            "POST",
            "/device/token",
            json={
                "device": device.id,
                "name": f"{self.prefix}{permission}",
                "permission": permission,
                "expire_time": expire_time,
            },
        )
        assert reply.ok, reply.message
        return reply.result["token"]

    def remove(self, device_id: str) -> None:
        self.profile("DELETE", f"/device/{device_id}")
        if device_id in self.created:
            self.created.remove(device_id)

    def tokens_for(self, kind: str) -> str | None:
        """The token of a kind, for device A; None where the run has no such token."""
        if kind == "profile":
            return self.target.profile_token
        if kind == "network":
            return self.target.network_token
        if kind == "analysis-no-policy":
            return self.target.analysis_token
        if kind == "none":
            return None
        if kind == "malformed":
            return "not-a-token"
        return self.a.tokens.get(kind)


def _expired_token(fleet: Fleet) -> str | None:
    """A full token whose expiry has passed: made with a past date, or, where the target refuses
    that, with the shortest relative expiry and a wait. None if neither works (cells skipped)."""
    body = {"device": fleet.a.id, "name": f"{fleet.prefix}expired", "permission": "full"}
    reply = fleet.profile(
        "POST", "/device/token", json={**body, "expire_time": "2020-01-01T00:00:00.000Z"}
    )
    if reply.ok:
        return reply.result["token"]
    reply = fleet.profile("POST", "/device/token", json={**body, "expire_time": "1 minute"})
    if not reply.ok:
        return None
    time.sleep(61)
    return reply.result["token"]


def _delete_run_devices(fleet: Fleet) -> None:
    """Delete every device of this run, also those the client never heard about.

    An interrupt can land after a create was sent but before its answer was read, and the target
    may still be making that device when cleanup starts: the run's devices are looked up by name
    until a lookup, a moment after the last deletion, finds none.
    """
    for device_id in list(fleet.created):
        fleet.remove(device_id)
    for _ in range(5):
        time.sleep(0.3)
        named = fleet.profile(
            "GET",
            "/device",
            params={"filter[name]": f"{fleet.prefix}*", "amount": 1000, "fields": "id"},
        ).result
        if not named:
            return
        for device in named:
            fleet.remove(device["id"])


def _sweep(fleet: Fleet) -> int:
    """Delete devices of earlier runs (our prefix) created more than a day ago."""
    reply = fleet.profile(
        "GET",
        "/device",
        params={"filter[name]": f"{PREFIX}*", "amount": 100, "fields": "id,name,created_at"},
    )
    swept = 0
    for device in reply.result or []:
        created = device.get("created_at")
        if not created or device["name"].startswith(fleet.prefix):
            continue
        age = time.time() - time.mktime(time.strptime(created[:19], "%Y-%m-%dT%H:%M:%S"))
        if age > SWEEP_AGE_SECONDS + abs(time.timezone):
            fleet.remove(device["id"])
            swept += 1
    return swept


class _Announcer:
    """Writes a line to the terminal now, past pytest's output capturing."""

    def __init__(self, config: pytest.Config) -> None:
        self.reporter = config.pluginmanager.get_plugin("terminalreporter")
        self.capture = config.pluginmanager.get_plugin("capturemanager")

    def __bool__(self) -> bool:
        return self.reporter is not None

    def write_line(self, line: str) -> None:
        if self.reporter is None:
            return
        if self.capture is not None:
            with self.capture.global_and_fixture_disabled():
                self.reporter.write_line(line)
        else:
            self.reporter.write_line(line)


@pytest.fixture(scope="session")
def fleet(client: TagoClient, target: Target, request: pytest.FixtureRequest) -> Iterator[Fleet]:
    reporter = _Announcer(request.config)
    prefix = f"{PREFIX}{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(2)}-"
    cap = rate_limits().device_caps.get(target.plan)
    existing = (
        client.request(
            "GET",
            "/device",
            token=target.profile_token,
            token_kind="profile",
            params={"amount": 10000, "fields": "id"},
        ).result
        or []
    )
    if cap is not None and len(existing) + DEVICES_PLANNED > cap:
        pytest.exit(
            f"the {target.plan} plan allows {cap} devices; the profile has {len(existing)} and the "
            f"suite needs {DEVICES_PLANNED} more",
            returncode=4,
        )
    profile = os.environ.get("TAGOCHECK_HYPOTHESIS_PROFILE", "ci")
    if reporter:
        reporter.write_line(
            f"tagocheck: will create up to {DEVICES_PLANNED} devices at a time and about "
            f"{TOKENS_PLANNED} tokens named {prefix}*, deleted at the end, and send about "
            f"{DATA_INPUT_PLANNED.get(profile, 7000):,} data-input transactions; plan "
            f"{target.plan}, rate window {target.window:g} s"
        )
    placeholder = Device("", "", "")
    made = Fleet(client, target, prefix, placeholder, placeholder)
    try:
        swept = _sweep(made)
        if swept and reporter:
            reporter.write_line(f"tagocheck: swept {swept} leftover devices of earlier runs")
        made.a = made.device("a")
        made.b = made.device("b")
        for permission in ("write", "read"):
            made.a.tokens[f"device-{permission}"] = made.token(made.a, permission)
        made.a.tokens["device-expired"] = _expired_token(made)
        doomed = made.token(made.a, "full")
        made.profile("DELETE", f"/device/token/{doomed}")
        made.a.tokens["token-deleted"] = doomed
        yield made
    finally:
        _delete_run_devices(made)
