"""The table of every option of every entry point, in the order the help and the form show."""

from __future__ import annotations

from tagocheck.fleet import integrity
from tagocheck.fleet.bounds import MAX_BUFFER, MAX_INTERVAL_SECONDS, MAX_SPREAD_SECONDS
from tagocheck.fleet.model import CONNECTION_MODES, PATHS
from tagocheck.fleet.outage import Backfill, Reconnect, parse_outages
from tagocheck.fleet.payloads import PROFILES
from tagocheck.fleet.retry import RetryPolicy
from tagocheck.options.option import (
    MAX_DEVICES,
    MAX_SECONDS,
    MAX_STEPS,
    MAX_USERS_PER_PROCESS,
    Option,
    ca_file,
    checked_by,
    interval,
    process_count,
    text,
)
from tagocheck.tagotip.envelope import SUITE_OPTIONS
from tagocheck.usage import number


def every_option() -> list[Option]:
    devices_cap = f" ({MAX_DEVICES:,}: the largest fleet measured on one machine)"
    return [
        Option(
            "--devices",
            "Devices in the fleet",
            "devices in the fleet",
            number(1, MAX_DEVICES, integer=True, why_maximum=devices_cap),
            100,
            unit="devices",
        ),
        Option(
            "--interval",
            "Seconds between a device's reports",
            "seconds between a device's reports, or uniform:LOW:HIGH, exponential:MEAN, "
            f"normal:MEAN:SD (at most {MAX_INTERVAL_SECONDS:,})",
            interval,
            "10",
            unit="s",
        ),
        Option(
            "--jitter",
            "Jitter on every report",
            "± seconds on every report",
            number(0, MAX_INTERVAL_SECONDS),
            0.5,
            unit="s",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--payload",
            "Payload profile",
            "what each report carries",
            text,
            "smart-meter",
            choices=tuple(PROFILES),
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--records-per-request",
            "Records per report",
            "records in each report",
            number(1, 1000, integer=True),
            1,
            unit="records",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--connection",
            "Connections",
            "keep-alive: a gateway keeps its connection; per-report: a new one for every report",
            text,
            "keep-alive",
            choices=tuple(CONNECTION_MODES),
        ),
        Option(
            "--via",
            "Path",
            "device: each device posts POST /data with its own token; network: one network "
            "token posts every device's uplinks to POST /integration/network/data, naming each "
            "device by its serial; tagotip-http: each device pushes TagoTiP frames to the HTTP "
            "binding (POST /v1/tip/{serial}), authorised by the profile's hash; tagotip-mqtt: "
            "each device publishes them over its own MQTT connection; tagotip-udp: each device "
            "sends each whole frame as a datagram from its own socket; tagotip-tcp: as a line "
            "on its own TCP connection",
            text,
            "device",
            choices=PATHS,
        ),
        Option(
            "--retry",
            "Retries",
            "how each report is tried again: none, sdk-js (5 attempts, 1.5 s doubling to 30 s, "
            "after a 5xx, a timeout or a network error), sdk-py (5 attempts 1.5 s apart, after "
            "a connection that could not be made), fixed:SECONDS[:TRIES], exp:BASE:CAP:TRIES",
            checked_by(RetryPolicy.parse),
            "none",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--outage",
            "Outages",
            "START+DURATION seconds after the schedule starts, several separated by commas: "
            "the devices send nothing then, buffer their readings and backfill after",
            checked_by(parse_outages),
            "",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--buffer",
            "Buffer",
            "readings a device keeps while offline (past it the oldest is dropped, counted)",
            number(1, MAX_BUFFER, integer=True),
            1000,
            unit="readings",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--backfill",
            "Backfill",
            "how a device back online sends its buffer: burst (all at once), paced:RATE "
            "(readings a second), batched:N (N readings a request), each with its time",
            checked_by(Backfill.parse),
            "burst",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--reconnect",
            "Reconnect",
            "together (every device back at the outage's end) or jittered:SECONDS (each after "
            "its own random delay)",
            checked_by(Reconnect.parse),
            "together",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--plan",
            "Rate-limit plan: free, starter, scale, or none (empty: none on the embedded target)",
            "the plan to hold the target to: free, starter, scale, or none (no plan: nothing "
            "judged against plan limits; `unlimited` is the same); default: none on the "
            "embedded target, free elsewhere; the ratelimit scenario's embedded target: free",
            text,
            "",
        ),
        Option(
            "--profile-token",
            "Profile token",
            "creates the fleet on --host, and removes it afterwards",
            text,
            "",
            secret=True,
        ),
        Option(
            "--network-token",
            "Network token",
            "--via network on --host: the network token the uplinks are posted with (the "
            "embedded target makes its own)",
            text,
            "",
            secret=True,
        ),
        Option(
            "--authorization",
            "Authorization key",
            "--via network or tagotip-http on --host: the profile's authorization key (at...), "
            "sent as authorization_token (network) or hashed into TagoTiP's Authorization Hash",
            text,
            "",
            secret=True,
        ),
        Option(
            "--tagotip-url",
            "TagoTiP URL",
            "--via tagotip-http on --host: the TagoTiP HTTP endpoint (e.g. "
            "https://http.tip.us-e1.tago.io; the embedded target serves its own)",
            text,
            "",
        ),
        Option(
            "--tagotip-mqtt",
            "TagoTiP MQTT broker",
            "--via tagotip-mqtt on --host: the TagoTiP MQTT binding as HOST:PORT (e.g. "
            "mqtt.tip.us-e1.tago.io:1883; the embedded target serves its own)",
            text,
            "",
        ),
        Option(
            "--tagotip-envelope",
            "TagoTiP/S envelope",
            "TagoTiP fleets: seal each frame in a TagoTiP/S envelope of this cipher suite, "
            "each device's key derived from --authorization (TagoTiPs §2.4): POST /v1/tips, "
            "$tips/ topics, or the UDP endpoint's TagoTiP/S port (give it: 5684 on TagoIO); "
            "none: plain frames",
            text,
            "none",
            choices=("none", *SUITE_OPTIONS),
        ),
        Option(
            "--devices-per-connection",
            "Devices per MQTT connection",
            "--via tagotip-mqtt: devices behind one gateway, sharing its MQTT connection (any "
            "connection of the profile may publish to any device's topics, TagoTipServers "
            "§3.1); 1: each device its own connection",
            number(1, 1000, integer=True),
            1,
            unit="devices",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--connection-spread",
            "Connection spread",
            "--via tagotip-mqtt|tagotip-tcp: each device (gateway) ends its first connection "
            "itself after a random part of this many seconds, as in a fleet already running, "
            "so the TTL's reconnects come evenly instead of all together every TTL (give the "
            "TTL: 15 on scale); 0: every connection starts with the run",
            number(0, MAX_SPREAD_SECONDS),
            0.0,  # a float: the web UI casts the form's text to the default's type
            unit="s",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--tagotip-udp",
            "TagoTiP UDP endpoint",
            "--via tagotip-udp on --host: the TagoTiP UDP endpoint as HOST:PORT (e.g. "
            "udp.tip.us-e1.tago.io:5683; the embedded target serves its own)",
            text,
            "",
        ),
        Option(
            "--tagotip-tcp",
            "TagoTiP TCP endpoint",
            "--via tagotip-tcp on --host: the TagoTiP TCP endpoint as HOST:PORT (e.g. "
            "tcp.tip.us-e1.tago.io:5693; the embedded target serves its own)",
            text,
            "",
        ),
        Option(
            "--connector",
            "Connector id",
            "--via network on --host: the connector the created devices use (TagoIO asks for "
            "one with the network)",
            text,
            "",
        ),
        Option(
            "--fleet-file",
            "Fleet file",
            "JSON file of existing devices (mode 600)",
            text,
            "",
        ),
        Option(
            "--run-dir",
            "Run directory",
            "where the run's data goes (reports/<timestamp>; from the web UI, one folder per "
            "swarm in it)",
            text,
            "",
        ),
        Option(
            "--overwrite",
            "Overwrite the run directory",
            "empty a --run-dir that holds an earlier run (refused without it)",
            text,
            False,
            flag_only=True,
        ),
        Option(
            "--ssl-false",
            "Send _ssl=false",
            "send _ssl=false with every request: what TagoIO asks of plain-HTTP clients",
            text,
            False,
            flag_only=True,
        ),
        Option(
            "--ca-cert",
            "CA certificate",
            "PEM file of the CA to verify the target's TLS certificate with (default: the "
            "system's; REQUESTS_CA_BUNDLE works too)",
            ca_file,
            "",
        ),
        Option(
            "--request-timeout",
            "Request timeout",
            "seconds to wait for an answer before it counts as a transport error (60, as the "
            "official JS SDK)",
            number(0, 3600, above=True),
            60.0,
            unit="s",
        ),
        Option(
            "--device-rpm",
            "Device rpm",
            "the devices' own data_input limit: set on the devices created or seeded, and "
            "held to per device in the ledger",
            number(0, 1_000_000, integer=True),
            0,
            unit="requests/min",
            off=0,
        ),
        Option(
            "--steps",
            "Capacity steps",
            "capacity: 0 searches for the highest load that holds (doubling, then bisecting); "
            "N brings the fleet in over N equal steps, stopping after the first that broke "
            "(1: the whole fleet at once)",
            number(0, MAX_STEPS, integer=True),
            1,
            unit="steps",
            scenarios=("capacity",),
        ),
        Option(
            "--search-seconds",
            "Search budget",
            "capacity search: no step starts that would end after this many seconds of steps",
            number(0, MAX_SECONDS, above=True),
            120.0,
            unit="s",
            scenarios=("capacity",),
        ),
        Option(
            "--precision",
            "Search precision",
            "capacity search: stop once the bracket (highest step held, lowest broken) is "
            "narrower than this share of the load held",
            number(0, 1, above=True),
            0.05,
            unit="share, 0 to 1",
            scenarios=("capacity",),
        ),
        Option(
            "--step-seconds",
            "Seconds per step",
            "capacity: how long each step is held",
            number(0, MAX_SECONDS, above=True),
            30.0,
            unit="s",
            scenarios=("capacity",),
        ),
        Option(
            "--probe-factor",
            "Probe factor",
            "ratelimit: requests per window as a multiple of each limit",
            number(1, 100, above=True),
            1.5,
            unit="x limit",
            scenarios=("ratelimit",),
        ),
        Option(
            "--probe-rate",
            "Probe rate",
            "ratelimit: the most requests a second one window's probes ask of the generator; "
            "limits beyond it are driven in windows of their own (a run then takes more windows)",
            number(0, 1_000_000, above=True),
            150.0,
            unit="requests/s",
            scenarios=("ratelimit",),
        ),
        Option(
            "--integrity-devices",
            "Devices reconciled",
            "devices whose stored records are reconciled at the end (all of them when the "
            "fleet is smaller)",
            number(0, MAX_DEVICES, integer=True),
            integrity.SAMPLE,
            unit="devices",
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--rate-window",
            "Rate-limit window",
            "the rate-limit window (60)",
            number(0, MAX_SECONDS, above=True),
            60.0,
            unit="s",
        ),
        Option(
            "--check-p99-ms",
            "Most p99 latency",
            "fail the run if the p99 latency (corrected for lateness) is above this",
            number(0, 3_600_000, above=True),
            0.0,
            unit="ms",
            off=0.0,
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--check-error-rate",
            "Most reports not answered",
            "fail the run if more than this share of reports were not answered: failed, "
            "refused or broke the contract (a capacity run holds it per step)",
            number(0, 1),
            0.01,
            unit="share, 0 to 1",
            off=-1.0,
            scenarios=("fleet", "capacity", "soak"),
        ),
        Option(
            "--check-schema-violations",
            "Most contract violations",
            "fail the run if more responses than this broke the contract",
            number(0, 1e12, integer=True),
            -1,
            unit="responses",
            off=-1,
        ),
        Option(
            "--check-rate-limit-leaks",
            "Most rate-limit findings",
            "fail the run if more rate-limit windows than this leaked or throttled early",
            number(0, 1e12, integer=True),
            -1,
            unit="windows",
            off=-1,
        ),
        Option(
            "--check-drift",
            "Most drift findings",
            "soak: fail the run if its end drifted from its start in more ways than this "
            "(latency, error rate, throughput, memory)",
            number(0, 100, integer=True),
            -1,
            unit="findings",
            off=-1,
            scenarios=("soak",),
        ),
        Option(
            "--users",
            "Users",
            "Locust users: concurrent connections",
            number(1, MAX_USERS_PER_PROCESS * 64, integer=True),
            100,
            unit="users",
        ),
        Option(
            "--processes",
            "Processes",
            "Locust worker processes (0: one process)",
            process_count(),
            0,
            unit="processes",
        ),
    ]
