"""`tagocheck serve`: run the embedded target until SIGTERM or SIGINT.

When it is ready it prints one JSON line on stdout (url, profile_token, plan, ca_cert, and the
other tokens a test needs) and writes the same to STATE_DIR/server.json, mode 0600. On SIGTERM or
SIGINT it stops taking connections, finishes the requests in flight, commits everything handed to
the writer, and exits 0: nothing acknowledged is lost, and a restart on the same state dir keeps
every device, token and record.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import gc
import ipaddress
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn

from tagocheck.server import LISTEN_BACKLOG, records
from tagocheck.server.accounts import Account
from tagocheck.server.api import target_app
from tagocheck.server.faults import FAULTS, Faults, UnknownFault
from tagocheck.server.orphaned import stop_when_orphaned
from tagocheck.server.plans import NETWORK_INGEST, PLANS, RateLimiter
from tagocheck.server.store import Store
from tagocheck.server.tagotip_http import TagoTipHttp
from tagocheck.server.tagotip_service import TagoTipService
from tagocheck.usage import OneLineParser, argument, number

DESCRIPTION = """\
Run a TagoIO-compatible API server on this machine, backed by SQLite in STATE_DIR, for the suite's
contract and load tests and for `make demo`. It implements the device data routes, GET /info, device
parameters, devices and device tokens, the network routes, token scoping, field validation and the
plans' rate limits in calendar-minute windows, all written from the facts file.

Where official sources disagree it answers with the variant most sources document: failures as
{"status": false, "message": ...}; creates with HTTP 201; a new device as {device_id, bucket_id,
token}; a new token as {token, permission, expire_time}. Sizes read "kB" as 1,000 bytes. A Unix
time above 1e11 is taken as milliseconds; a date is ISO 8601 with a four-digit year or a relative
time such as "1 day" (day 31 of a shorter month runs into the next, as JavaScript's Date does).
Every body and query field's type is checked before use: a wrong one is a 400 naming the field. An
edit of an immutable device's data is a 409 (a conflict with its storage type; the docs give no
code).

POST /data with Content-Type text/plain: TagoIO hands the text to the device's payload parser. This
target runs no parsers, so it keeps the text in the form TagoIO's examples give a raw payload:
one record of variable "payload" whose value is the text (at most 6 kB, UTF-8), which a parser
would read. Running parser code is out of its scope; a JSON body is the way to send records.

POST /integration/network/data takes the official form (?authorization_token= with the profile's
authorization key, the device named by metadata.serial in the records) and the older ?serial=.
An unknown serial is a 404 failure; the records are stored on the device with the same group
commit as POST /data, and the route has its own per-minute limit (60/100/500). Every device is of
the target's one network; seeded devices have serials (16 hex digits, like a LoRaWAN DevEUI).
GET /integration/network/resolve/{serial}/{authorization} checks the key (401 if not the
profile's). The profile, network and analysis tokens and the authorization key are made at first
start, kept in STATE_DIR and printed in the ready line.
"""


def fault_help() -> str:
    lines = ["fault modes (--fault NAME or NAME=VALUE, repeatable):"]
    for name, (what, default) in FAULTS.items():
        suffix = f" (default {default:g})" if default is not None else ""
        lines.append(f"  {name:<18} {what}{suffix}")
    return "\n".join(lines)


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "tagocheck" / "target"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument(
        "--port", type=_port, default=8000, help="port, 0 to 65535; 0 takes a free one (8000)"
    )
    parser.add_argument(
        "--state-dir", type=Path, default=None, help=f"database and tokens ({default_state_dir()})"
    )
    parser.add_argument("--plan", choices=[*PLANS], default="free", help="rate-limit plan (free)")
    parser.add_argument(
        "--rate-window-seconds",
        type=_seconds,
        default=60.0,
        help="length of a rate-limit window, aligned to the clock (60: a calendar minute)",
    )
    parser.add_argument(
        "--network-limit",
        choices=NETWORK_LIMITS,
        default="own",
        help="own: network uplinks count in POST /integration/network/data's window only; "
        "shared: in POST /data's as well (whether they do on TagoIO is an open question; the "
        "ratelimit scenario with --via network tells the two apart) (own)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS on --port with a generated certificate (its CA in the ready line), and "
        "plain HTTP on a second port that refuses requests without _ssl=false",
    )
    parser.add_argument(
        "--tagotip-port",
        type=_port,
        default=0,
        help="port of TagoTiP's HTTP binding (/v1/tip/{serial}, /v1/tips); 0 takes a free one (0)",
    )
    parser.add_argument(
        "--tagotip-mqtt-port",
        type=_port,
        default=None,
        help="serve TagoTiP's MQTT binding on this port, 0 for a free one (none: no broker, "
        "and neither broker is even loaded)",
    )
    parser.add_argument(
        "--tagotip-mqtt-broker",
        choices=("amqtt", "mosquitto"),
        default="amqtt",
        help="which broker carries the MQTT binding: amqtt, in this process; mosquitto, started "
        "beside it with a TagoTiP plugin (built with gcc on first use; needs Debian's mosquitto "
        "and mosquitto-dev), for fleets larger than amqtt carries on one core (amqtt)",
    )
    parser.add_argument(
        "--tagotip-udp-port",
        type=_port,
        default=None,
        help="serve TagoTiP over UDP (a whole frame a datagram) on this port, 0 for a free one, "
        "and TagoTiP/S over UDP (an envelope a datagram) on a free port beside it (none)",
    )
    parser.add_argument(
        "--tagotip-tcp-port",
        type=_port,
        default=None,
        help="serve TagoTiP over TCP (frames ended by a newline, or TagoTiP/S length-prefixed, "
        "told by a connection's first byte) on this port, 0 for a free one (none)",
    )
    parser.add_argument(
        "--tagotip-ttl-seconds",
        type=_seconds,
        default=None,
        help="TagoTiP's MQTT and TCP connection TTL (default: the plan's, 10 or 15 s; shorter "
        "for tests)",
    )
    parser.add_argument(
        "--tagotip-idle-seconds",
        type=_seconds,
        default=None,
        help="TagoTiP's MQTT and TCP keep-alive idle timeout (default: the plan's, 5 s)",
    )
    parser.add_argument("--profile-token", help="use this profile token instead of a generated one")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME", help="see below")
    parser.add_argument(
        "--seed-devices",
        type=_count,
        default=0,
        metavar="N",
        help="make sure N devices (seeded-0000000...) exist, each with a full token and a "
        "serial, and write them to STATE_DIR/fleet.json (mode 0600) for load tests of big fleets",
    )
    parser.add_argument(
        "--seed-device-rpm",
        type=_count,
        default=None,
        metavar="RPM",
        help="give the seeded devices this data_input rpm (their own rate limit)",
    )
    # For bench/ only: the same server answering POST /data without storing, as a baseline.
    parser.add_argument("--no-store", action="store_true", help=argparse.SUPPRESS)


NETWORK_LIMITS = ("own", "shared")
_port = argument(number(0, 65535, integer=True))
_count = argument(number(0, 1_000_000, integer=True))  # the most seeded and measured
_seconds = argument(number(0, 86_400, above=True))


def parser() -> argparse.ArgumentParser:
    built = OneLineParser(
        prog="tagocheck serve",
        description=DESCRIPTION,
        epilog=fault_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(built)
    return built


class ServeError(Exception):
    """A problem the user can fix (bad flag value, port taken, unwritable state dir)."""


def main(argv: Sequence[str] | None = None) -> int:
    return run(parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    try:
        faults = Faults.parse(args.fault)
        if "lenient-limits" in faults:
            records.relax_limits()
        return _run_loop(_serve(args, faults))
    except (ServeError, UnknownFault) as error:
        print(f"tagocheck serve: {error}", file=sys.stderr)
        return 2


def _run_loop(main: Any) -> int:
    try:
        import uvloop

        return uvloop.run(main)
    except ImportError:  # pragma: no cover - uvloop is a dependency, but optional in spirit
        return asyncio.run(main)


class _Server(uvicorn.Server):
    """uvicorn's server minus its signal handling: _serve() stops every listener on a signal."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield


def _listen(host: str, port: int) -> socket.socket:
    family = (
        socket.AF_INET6 if ipaddress.ip_address(_resolve(host)).version == 6 else socket.AF_INET
    )
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(LISTEN_BACKLOG)
    sock.setblocking(False)
    return sock


def _resolve(host: str) -> str:
    try:
        return socket.getaddrinfo(host, None)[0][4][0]
    except socket.gaierror:
        raise ServeError(f"cannot resolve host {host!r}") from None


def _url(scheme: str, sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def _write_private(path: Path, text: str) -> None:
    """Create or replace a file readable by its owner only (it holds tokens or keys)."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def _state_dir(path: Path | None) -> Path:
    state = path or default_state_dir()
    try:
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = state / ".writable"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ServeError(f"state dir {state} is not writable: {error.strerror}") from None
    _lock(state)
    return state


_LOCKS: list[int] = []
"""The state directories' lock files, held open (and so locked) until the process exits."""


def _lock(state: Path) -> None:
    """One server per state directory: a second would replace server.json with its own port
    and share the database with the first."""
    fd = os.open(state / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        raise ServeError(
            f"state dir {state} is in use by another tagocheck serve"
            f"{f' (pid {holder})' if holder else ''}; "
            "give another --state-dir or stop that one"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    _LOCKS.append(fd)


def _certificates(state: Path, host: str) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for host, made once and kept in the state dir."""
    ca_path, cert_path, key_path = state / "ca.pem", state / "server.pem", state / "server.key"
    if not (ca_path.exists() and cert_path.exists() and key_path.exists()):
        import trustme

        ca = trustme.CA(organization_name="tagocheck embedded target")
        names = sorted({host, "127.0.0.1", "localhost", "::1"})
        issued = ca.issue_cert(*names)
        _write_private(key_path, issued.private_key_pem.bytes().decode())
        _write_private(cert_path, b"".join(b.bytes() for b in issued.cert_chain_pems).decode())
        _write_private(ca_path, ca.cert_pem.bytes().decode())
    return ca_path, cert_path, key_path


async def _mqtt_binding(args: argparse.Namespace, tagotip: TagoTipService) -> Any:
    """TagoTiP's MQTT binding on the broker asked for, started (loaded only when asked)."""
    limits = {"ttl_seconds": args.tagotip_ttl_seconds, "idle_seconds": args.tagotip_idle_seconds}
    if args.tagotip_mqtt_broker == "mosquitto":
        from tagocheck.server.tagotip_mosquitto import BrokerError, TagoTipMosquitto

        mosquitto = TagoTipMosquitto(
            tagotip, args.plan, args.host, args.tagotip_mqtt_port, **limits
        )
        try:
            await mosquitto.start()
        except (TimeoutError, BrokerError, OSError) as error:
            await mosquitto.stop()
            raise ServeError(f"cannot start mosquitto for the MQTT binding: {error}") from None
        return mosquitto
    from tagocheck.server.tagotip_mqtt import TagoTipMqtt

    mqtt = TagoTipMqtt(tagotip, args.plan, args.host, args.tagotip_mqtt_port, **limits)
    try:
        await mqtt.start()
    except Exception as error:  # amqtt wraps a taken port in errors of its own
        raise ServeError(f"cannot start TagoTiP's MQTT broker: {error}") from None
    return mqtt


async def _serve(args: argparse.Namespace, faults: Faults) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    state = _state_dir(args.state_dir)
    store = Store(state / "target.sqlite3")
    loop = asyncio.get_running_loop()
    store.start(loop)
    mqtt = None
    try:
        account = Account(store, args.profile_token)
        await account.save_meta()
        fleet_file = None
        if args.seed_devices > 0:
            seeded = await account.seed_devices(args.seed_devices, rpm_input=args.seed_device_rpm)
            fleet_file = state / "fleet.json"
            devices = [
                {"id": device, "token": token, "serial": serial} for device, token, serial in seeded
            ]
            _write_private(fleet_file, json.dumps({"devices": devices}))
        limiter = RateLimiter(
            args.plan,
            args.rate_window_seconds,
            enabled="no-rate-limit" not in faults,
            early="early-throttle" in faults,
            also_counts={NETWORK_INGEST: "POST /data"} if args.network_limit == "shared" else None,
        )
        app = target_app(
            store,
            account,
            limiter,
            faults,
            plan=args.plan,
            tls=args.tls,
            store_data=not args.no_store,
        )
        main_sock = _listen(args.host, args.port)
        listeners: list[tuple[_Server, socket.socket]] = []
        # A TLS client that keeps an idle connection never answers the server's close_notify;
        # without a bound, shutdown would wait for it (30 s). Requests in flight finish well
        # within the bound, since each waits only for its group commit.
        common = dict(
            lifespan="off",
            access_log=False,
            log_level="warning",
            http="httptools",
            timeout_graceful_shutdown=3,
            proxy_headers=False,  # no proxy in front of a test target, and it costs per request
            server_header=False,
        )
        ca_cert = None
        if args.tls:
            ca_path, cert_path, key_path = _certificates(state, args.host)
            ca_cert = str(ca_path)
            tls_config = uvicorn.Config(
                app, ssl_certfile=str(cert_path), ssl_keyfile=str(key_path), **common
            )
            listeners.append((_Server(tls_config), main_sock))
            listeners.append((_Server(uvicorn.Config(app, **common)), _listen(args.host, 0)))
        else:
            listeners.append((_Server(uvicorn.Config(app, **common)), main_sock))
        tagotip = TagoTipService(app)
        tagotip_sock = _listen(args.host, args.tagotip_port)
        listeners.append((_Server(uvicorn.Config(TagoTipHttp(tagotip), **common)), tagotip_sock))

        def stop() -> None:
            for server, _ in listeners:
                server.should_exit = True

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        orphaned = asyncio.create_task(stop_when_orphaned(stop))
        if args.tagotip_mqtt_port is not None:
            mqtt = await _mqtt_binding(args, tagotip)
        udp = udps = None
        if args.tagotip_udp_port is not None:
            from tagocheck.server.tagotip_udp import serve_udp

            try:
                udp = await serve_udp(tagotip, args.host, args.tagotip_udp_port)
                udps = await serve_udp(tagotip, args.host, 0, sealed=True)
            except OSError as error:
                raise ServeError(f"cannot serve TagoTiP over UDP: {error}") from None
        tcp = None
        if args.tagotip_tcp_port is not None:
            from tagocheck.server.tagotip_tcp import TagoTipTcp

            tcp = TagoTipTcp(
                tagotip,
                args.plan,
                ttl_seconds=args.tagotip_ttl_seconds,
                idle_seconds=args.tagotip_idle_seconds,
            )
            try:
                await tcp.start(args.host, args.tagotip_tcp_port)
            except OSError as error:
                raise ServeError(f"cannot serve TagoTiP over TCP: {error}") from None
        tasks = [asyncio.create_task(s.serve(sockets=[sock])) for s, sock in listeners]
        activity = asyncio.create_task(app.persist_activity_forever())
        while not all(s.started for s, _ in listeners):
            if any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.01)
        else:
            ready = {
                "url": _url("https" if args.tls else "http", main_sock),
                "profile_token": account.profile_token,
                "plan": args.plan,
                "ca_cert": ca_cert,
                "http_url": _url("http", listeners[1 if args.tls else 0][1]),
                "tagotip_http_url": _url("http", tagotip_sock),
                "tagotip_auth_hash": tagotip.auth_hash,
                "tagotip_mqtt": None if mqtt is None else f"{args.host}:{mqtt.port}",
                "tagotip_udp": None if udp is None else f"{args.host}:{udp.port}",
                "tagotip_udps": None if udps is None else f"{args.host}:{udps.port}",
                "tagotip_tcp": None if tcp is None else f"{args.host}:{tcp.port}",
                "network_token": account.meta["network_token"],
                "analysis_token": account.meta["analysis_token"],
                "authorization": account.meta["authorization"],
                "rate_window_seconds": args.rate_window_seconds,
                "faults": faults.describe(),
                "state_dir": str(state),
                "fleet_file": str(fleet_file) if fleet_file else None,
                "pid": os.getpid(),
            }
            line = json.dumps(ready)
            _write_private(state / "server.json", line + "\n")
            # Devices and tokens live in memory as objects: with a million of them every full
            # garbage collection paused the server for about a second (seen as a one-second
            # stall in the million-device benchmark). Those loaded so far are kept for good.
            gc.collect()
            gc.freeze()
            print(line, flush=True)
        await asyncio.gather(*tasks)
        if tcp is not None:
            await tcp.stop()
        for endpoint in (udp, udps):
            if endpoint is not None and endpoint.transport is not None:
                endpoint.transport.close()
        activity.cancel()
        orphaned.cancel()
        await app.persist_activity()
        return 0 if all(s.started for s, _ in listeners) else 1
    finally:
        if mqtt is not None:  # mosquitto is a process of its own: stopped however this ends
            await mqtt.stop()
        store.close()
