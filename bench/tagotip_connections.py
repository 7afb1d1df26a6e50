"""A TagoTiP fleet over MQTT or TCP on one machine: every device its own connection, recycled
at the server's TTL, and whether the generator keeps the fleet's schedule while it does.

The embedded target (core 0) serves the binding with scale's TTL (15 s) and idle timeout
(5 s); one Locust process (core 1) runs `--devices` devices every `--interval` s +- `--jitter`,
so with gaps under the idle timeout every device holds a connection until the TTL ends it and
connects again: devices / 15 reconnects a second beside the uplinks. Printed: achieved over
offered in the steady part (goal >= 0.99), schedule lateness p99 (goal < 100 ms), connections
made, closes by reason, and integrity on the devices read back (issue 30). Over MQTT the
target's broker is mosquitto by default (`--broker amqtt`: the in-process one), and devices may
sit behind gateways sharing a connection (`--devices-per-connection`).

    .venv/bin/python bench/tagotip_connections.py [--via tagotip-mqtt|tagotip-tcp]
        [--devices 10000] [--interval 4] [--jitter 0.5] [--seconds 60]
        [--devices-per-connection 1] [--connection-spread 0] [--broker mosquitto|amqtt]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pinned import pinned_run

LIMITS = ("--tagotip-ttl-seconds", "15", "--tagotip-idle-seconds", "5")
PORT_OPTION = {"tagotip-mqtt": "--tagotip-mqtt-port", "tagotip-tcp": "--tagotip-tcp-port"}
NAME = {"tagotip-mqtt": "MQTT", "tagotip-tcp": "TCP"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--via", choices=sorted(PORT_OPTION), default="tagotip-mqtt")
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=4.0)
    parser.add_argument(
        "--jitter",
        type=float,
        default=0.5,
        help="each report's time +- this: 0.5 keeps the gaps between 3 and 5 s, under the idle "
        "timeout, so connections end at the TTL (with 1, one gap in 8 passes 5 s and idles out)",
    )
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument(
        "--broker",
        choices=("amqtt", "mosquitto"),
        default="mosquitto",
        help="MQTT: the embedded target's broker (tagocheck serve --tagotip-mqtt-broker)",
    )
    parser.add_argument(
        "--devices-per-connection",
        type=int,
        default=1,
        help="MQTT: devices behind one gateway's connection (1: each device its own)",
    )
    parser.add_argument(
        "--connection-spread",
        type=float,
        default=0.0,
        help="each device (gateway) ends its first connection after a random part of this many "
        "seconds, so the TTL's reconnects come evenly (15: the TTL); 0: all start together",
    )
    parser.add_argument(
        "--users",
        type=int,
        help="gateways (Locust users); default a third of the devices, so a reconnect's wait "
        "holds up few devices: with 300, 3,000 MQTT devices gave 0.91, with 1,000 0.99",
    )
    args = parser.parse_args()
    users = args.users or max(300, args.devices // 3)
    with tempfile.TemporaryDirectory(prefix="tagocheck-bench-connections-") as tmp:
        run_dir = Path(tmp) / "run"
        extra = [
            "--via",
            args.via,
            "--interval",
            str(args.interval),
            "--jitter",
            str(args.jitter),
        ]
        extra += ["-t", f"{args.seconds}s", "--integrity-devices", "2000"]
        extra += ["--devices-per-connection", str(args.devices_per_connection)]
        extra += ["--connection-spread", str(args.connection_spread)]
        serve = (PORT_OPTION[args.via], "0", "--tagotip-mqtt-broker", args.broker, *LIMITS)
        done, summary = pinned_run(
            "fleet", args.devices, run_dir, extra, Path(tmp) / "state", users=users, serve=serve
        )
        with (run_dir / "locust_stats.csv").open() as rows:
            stats = {row["Name"]: row for row in csv.DictReader(rows)}
    limit = summary["limit"]
    integrity = summary["integrity"]
    closes = {n: s["Request Count"] for n, s in stats.items() if n.startswith("closed:")}
    connect = stats.get("CONNECT", {})
    print(f"{args.devices:,} devices every {args.interval:g} s over {NAME[args.via]}, "
          f"{args.devices_per_connection} a connection, spread {args.connection_spread:g} s, "
          f"{args.seconds} s, "
          f"exit {done.returncode}")  # fmt: skip
    print(f"achieved/offered {limit.get('achieved_over_offered')}  goal >= 0.99")
    print(f"lateness p99 {summary['latency_ms']['lateness']['p99']:.1f} ms  goal < 100 ms")
    print(f"limit: {limit.get('limit')}: {limit.get('why')}")
    print(f"connections made {connect.get('Request Count')}, refused {connect.get('Failure Count')}"
          f", closes {closes}")  # fmt: skip
    print(f"uplinks {summary['reports']:,}, outcomes {summary['outcomes']}")
    print(f"integrity: lost {integrity['lost']}, duplicated {integrity['duplicated']} of "
          f"{integrity['devices_checked']:,} devices read back")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
