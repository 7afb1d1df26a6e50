"""The target and the fleet on it: set up once per Locust process, removed at its end.

Without --host the embedded target is started, seeded with the fleet itself (a million devices
in one commit, not a million API calls); with --host the target is reached once before anything
else, and the devices a fleet file lacks are created with the profile token. Whatever this
process created is removed at the end, and the embedded target stopped with its state.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tagocheck.fleet.model import FleetConfig, NetworkAccess, TipAccess
from tagocheck.fleet.paths import (
    SERIAL_PATHS,
    TAGOTIP_MQTT,
    TAGOTIP_PATHS,
    TAGOTIP_TCP,
    TAGOTIP_UDP,
)
from tagocheck.fleet.provision import (
    ProvisionedDevice,
    create_devices,
    read_fleet_file,
    remove_devices,
    write_fleet_file,
)
from tagocheck.load.ending import RunError
from tagocheck.load.options import fleet_config
from tagocheck.load.progress import counting, on_a_terminal
from tagocheck.server.launcher import start_target, tagotip_binding
from tagocheck.spec import ratelimits
from tagocheck.tagotip.credentials import authorization_hash
from tagocheck.wire import reach
from tagocheck.wire.client import TagoClient

Say = Callable[..., None]


class Provisioning:
    def __init__(self, options: Any, scenario: str, say: Say, *, web: bool, home: Path) -> None:
        self.options = options
        self.scenario = scenario
        self.say = say
        self.web = web
        self.home = home
        self.window = options.rate_window or 60.0
        self.plan = ratelimits.NO_PLAN
        self.target = None
        self.state_dir: tempfile.TemporaryDirectory | None = None
        self.client: TagoClient | None = None
        self.profile_token: str | None = None
        self.devices: list[ProvisionedDevice] = []
        self.created: list[ProvisionedDevice] = []
        """What this process created on a --host target, removed at its end."""
        self.network: NetworkAccess | None = None
        """What the network path posts with, when the fleet's path is the network."""
        self.tip: TipAccess | None = None
        """Where the TagoTiP path pushes and its hash, when the fleet's path is TagoTiP."""

    @property
    def embedded(self) -> bool:
        return self.target is not None

    def set_up(self, host: str | None) -> str:
        """The target (started, or reached) and its client; returns the host to load."""
        options = self.options
        config = fleet_config(options)
        if not host:
            host = self._start_embedded(config)
        else:
            self.plan = options.plan or "free"
            self._check_plan()
            self.profile_token = options.profile_token or None
            if options.network_token and options.authorization:
                self.network = NetworkAccess(options.network_token, options.authorization)
            elif config.via == "network":
                raise RunError(
                    "--via network on --host needs --network-token and --authorization (the "
                    "profile's authorization key: the route takes it as authorization_token)"
                )
            if config.via in TAGOTIP_PATHS:
                self.tip = self._tip_on_host(config.via)
        self.client = TagoClient(host, verify=options.ca_cert or True, ssl_false=options.ssl_false)
        if self.target is None:
            if options.fleet_file:
                self.devices = read_fleet_file(Path(options.fleet_file))
            elif not self.profile_token:
                raise RunError("--host needs --profile-token or --fleet-file")
            self._reachable(host, config)
        return host

    def _tip_on_host(self, via: str) -> TipAccess:
        """Where a TagoTiP fleet goes on --host: the binding's address and the profile's key."""
        options = self.options
        where = {
            TAGOTIP_MQTT: "--tagotip-mqtt",
            TAGOTIP_UDP: "--tagotip-udp",
            TAGOTIP_TCP: "--tagotip-tcp",
        }.get(via, "--tagotip-url")
        given = getattr(options, where[2:].replace("-", "_"), "")
        if not (given and options.authorization):
            raise RunError(
                f"--via {via} on --host needs {where} (the TagoTiP binding's address) and "
                "--authorization (the profile's key its hash is made of)"
            )
        url, address = "", ""
        if via in (TAGOTIP_MQTT, TAGOTIP_UDP, TAGOTIP_TCP):
            host, _, port = given.rpartition(":")
            if not host or not port.isdigit():
                raise RunError(f"{where} {given!r}: give HOST:PORT")
            address = given
        else:
            try:
                url = reach.check_url(given)
            except reach.Unreachable as error:
                raise RunError(f"--tagotip-url: {error}") from None
        auth = authorization_hash(options.authorization)
        if via == TAGOTIP_UDP:
            return TipAccess(url, auth, udp=address, authorization=options.authorization)
        if via == TAGOTIP_TCP:
            return TipAccess(url, auth, tcp=address, authorization=options.authorization)
        return TipAccess(url, auth, address, authorization=options.authorization)

    def _start_embedded(self, config: FleetConfig) -> str:
        options = self.options
        self.plan = options.plan or ("free" if self.scenario == "ratelimit" else "none")
        self._check_plan()
        self.state_dir = tempfile.TemporaryDirectory(prefix="tagocheck-load-target-")
        seed = ["--seed-devices", str(config.devices)]
        if options.device_rpm:
            seed += ["--seed-device-rpm", str(options.device_rpm)]
        self.target = start_target(
            Path(self.state_dir.name),
            "--plan",
            ratelimits.served_plan(self.plan),
            "--rate-window-seconds",
            str(self.window),
            *seed,
            *tagotip_binding(config.via),
            timeout=900,
        )
        self.profile_token = self.target.profile_token
        self.devices = read_fleet_file(Path(self.target.info["fleet_file"]))
        info = self.target.info
        self.network = NetworkAccess(info["network_token"], info["authorization"])
        sealed = config.tagotip_envelope != "none"
        self.tip = TipAccess(
            info["tagotip_http_url"],
            info["tagotip_auth_hash"],
            info.get("tagotip_mqtt") or "",
            info.get("tagotip_udps" if sealed else "tagotip_udp") or "",
            info["authorization"],
            info.get("tagotip_tcp") or "",
        )
        self.say(
            "target",
            f"embedded target at {self.target.url}, plan {self.plan}, "
            f"{len(self.devices):,} devices seeded",
        )
        return self.target.url

    def is_our_plan(self, text: str) -> bool:
        """Whether a plan the web form or options name is the one this run holds to."""
        try:
            return ratelimits.parse_plan(text) == self.plan
        except ratelimits.UnknownPlan:
            return False

    def refuse_another_plan(self, plan: str | None) -> None:
        """A swarm asking the embedded target for another plan than it was started with."""
        if self.target is not None and plan and not self.is_our_plan(plan):
            raise RunError(
                f"the embedded target was started with plan {self.plan}; restart Locust "
                f"with --plan {plan}"
            )

    def _check_plan(self) -> None:
        try:
            self.plan = ratelimits.parse_plan(self.plan)
        except ratelimits.UnknownPlan as error:
            raise RunError(error.args[0]) from None

    def _reachable(self, host: str, config: FleetConfig) -> None:
        """One GET /info before anything else: a target that does not answer HTTP, or refuses
        the token, stops the run here, in one line, instead of failing every report."""
        token, kind = (
            (self.profile_token, "profile")
            if self.profile_token
            else (self.devices[0].token if self.devices else None, "device-full")
        )
        tokens = [(token, kind)]
        if config.via == "network" and self.network is not None:
            tokens.append((self.network.token, "network"))
        for token, kind in tokens:
            try:
                reach.probe(
                    host,
                    token,
                    kind,
                    verify=self.options.ca_cert or True,
                    ssl_false=self.options.ssl_false,
                    timeout=min(self.options.request_timeout, reach.PROBE_TIMEOUT),
                    say=lambda line: print(f"tagocheck {self.scenario}: {line}", flush=True),
                )
            except reach.Unreachable as error:
                raise RunError(str(error)) from None

    def provision(self, count: int) -> None:
        """Make sure there are `count` devices: create the missing ones with the profile token."""
        missing = count - len(self.devices)
        if missing <= 0:
            return
        if not self.profile_token or (self.options.fleet_file and self.target is None):
            raise RunError(f"the fleet file has {len(self.devices)} devices, --devices is {count}")
        self.say("provision", f"creating {missing:,} devices on the target")
        prefix = f"tagocheck-fleet-{time.strftime('%Y%m%d%H%M%S')}-"
        with self._counting("provision", "created", missing) as progress:
            made = create_devices(
                self.client,
                self.profile_token,
                missing,
                prefix,
                progress,
                rpm_input=self.options.device_rpm or None,
                first=len(self.devices),
                network=self._network_of_devices(),
            )
        self.devices += made
        if self.target is None:
            self.created += made
            write_fleet_file(self.home / "fleet.json", self.created)

    def create_mutable_device(self) -> ProvisionedDevice:
        """A mutable device of this run's own (PUT /data needs one; the fleet's are immutable,
        like most devices), removed at the end."""
        prefix = f"tagocheck-probe-{time.strftime('%Y%m%d%H%M%S')}-"
        device = create_devices(self.client, self.profile_token, 1, prefix, device_type="mutable")[
            0
        ]
        self.created.append(device)
        return device

    def _counting(self, kind: str, verb: str, total: int):
        """Devices created or removed so far: a bar on a terminal, lines in a log or the web
        UI's (tagocheck.load.progress)."""
        return counting(
            f"{verb} devices",
            total,
            lambda done: self.say(kind, f"{verb} {done:,} of {total:,} devices"),
            terminal=on_a_terminal() and not self.web,
        )

    def _network_of_devices(self) -> dict[str, str] | None:
        """What devices a network posts for are created with: a serial always (the embedded
        target's one network needs no more); on --host, the network the token is of (GET /info
        with the network token says, [C]) and --connector when given."""
        via = fleet_config(self.options).via
        if via in TAGOTIP_PATHS:
            return {}  # a serial is all TagoTiP names a device by
        if via != "network" or self.network is None:
            return None
        if self.target is not None:
            return {}
        info = self.client.request(
            "GET", "/info", token=self.network.token, token_kind="network", check=False
        )
        found: dict[str, str] = {}
        if info.ok and isinstance(info.result, dict) and isinstance(info.result.get("id"), str):
            found["network"] = info.result["id"]
        if self.options.connector:
            found["connector"] = self.options.connector
        return found

    def path_access(self, via: str) -> dict[str, Any]:
        """What the fleet's path sends with, as the shards' terms take it: the network's token
        and key, or TagoTiP's address and hash (None for the paths that do not use them)."""
        return {
            "network": self.network if via == "network" else None,
            "tip": self.tip if via in TAGOTIP_PATHS else None,
        }

    def senders(self, config: FleetConfig) -> list[str]:
        """What names each device on the fleet's path: its token, or (network, TagoTiP) its
        serial."""
        devices = self.devices[: config.devices]
        if config.via not in SERIAL_PATHS:
            return [d.token for d in devices]
        if config.via == "network" and self.network is None:
            raise RunError("--via network needs --network-token and --authorization")
        unnamed = sum(1 for d in devices if not d.serial)
        if unnamed:
            raise RunError(
                f"--via {config.via}: {unnamed:,} of the {len(devices):,} devices have no "
                'serial to name them by (a fleet file entry needs "serial")'
            )
        return [d.serial for d in devices]

    def clean_up(self) -> None:
        """Remove what this process created; stop the embedded target and remove its state."""
        if self.created:
            try:
                total = len(self.created)
                self.say("cleanup", f"removing the {total:,} devices it created")
                with self._counting("cleanup", "removed", total) as progress:
                    left = remove_devices(self.client, self.profile_token, self.created, progress)
                if left:
                    self.say(
                        "cleanup",
                        f"could not remove {len(left)} devices it created; their ids are in "
                        "the events log",
                        devices=[d.id for d in left],
                    )
            except OSError as error:  # requests.RequestException is one
                self.say(
                    "cleanup",
                    f"could not remove {len(self.created)} devices it created "
                    f"({type(error).__name__}); their ids are in the events log",
                    devices=[d.id for d in self.created],
                )
            self.created = []
        if self.target is not None:
            self.target.stop()
            self.state_dir.cleanup()
            self.target = None
