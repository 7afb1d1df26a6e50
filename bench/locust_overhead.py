"""Requests per second of one Locust process with every in-run check on, against a bare one.

Both post smart-meter records to the same fast target, pinned to core 0: nginx from Debian's
packages answering every request with a fixed "1 Data Added" envelope (default; ~225,000 req/s
here, so only the generator can be the limit), or the embedded target with --no-store (whose
validation makes it the limit near 7,000 req/s). Locust runs on core 1. The bare locustfile is a
FastHttpUser posting a fixed smart-meter body with no checks; the checked one is
loadtests/fleet.py, with a fleet offering more reports than one process can send, so both are
generator-bound. Rounds alternate; medians and their ratio are printed. Goal (issue 5): the
checked run reaches >= 0.9 of the bare rate.

    apt-get install nginx                # once; from Debian's packages
    .venv/bin/python bench/locust_overhead.py [--target nginx|embedded] [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tagocheck.fleet.payloads import PROFILES  # noqa: E402
from tagocheck.server.launcher import start_target  # noqa: E402

BARE = """
import os
from locust import FastHttpUser, constant, task
TOKEN = os.environ["TAGOCHECK_BENCH_TOKEN"]
BODY = os.environ["TAGOCHECK_BENCH_BODY"].encode()
class Bare(FastHttpUser):
    wait_time = constant(0)
    @task
    def post(self):
        self.client.post("/data", data=BODY, name="POST /data",
                         headers={"Device-Token": TOKEN, "Content-Type": "application/json"})
"""


def rate(output: str) -> float:
    line = next(line for line in output.splitlines() if "Aggregated" in line)
    return float(line.split("|")[-1].split()[0])


def locust(args: list[str], env: dict[str, str] | None = None) -> float:
    command = [
        "taskset",
        "-c",
        "1",
        sys.executable,
        "-m",
        "locust",
        "--headless",
        "--only-summary",
        *args,
    ]
    # Not check=True: the fleet run exits 1 because a --no-store target "loses" every record, and
    # an exception would print the command line, profile token included.
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    return rate(done.stdout + done.stderr)


NGINX_CONF = """
worker_processes 1;
worker_cpu_affinity 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    client_body_buffer_size 64k;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type application/json;
            return 200 '{{"status":true,"result":"1 Data Added"}}';
        }}
    }}
}}
"""


class Nginx:
    """nginx from Debian's packages with a fixed envelope, on core 0; stopped by its PID."""

    def __init__(self, prefix: Path) -> None:
        if not shutil.which("nginx"):
            raise SystemExit("bench: nginx is not installed (apt-get install nginx)")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        conf = prefix / "nginx.conf"
        conf.write_text(NGINX_CONF.format(prefix=prefix, port=port))
        self.process = subprocess.Popen(
            ["taskset", "-c", "0", "nginx", "-c", str(conf), "-p", str(prefix)],
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.post(self.url + "/data", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGQUIT)
        self.process.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=["nginx", "embedded"], default="nginx")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=100)
    args = parser.parse_args()
    body = orjson.dumps(PROFILES["smart-meter"](random.Random(0), 0, 0, 1)).decode()
    with tempfile.TemporaryDirectory(prefix="tagocheck-bench-") as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE)
        # The fleet's devices come from an embedded target's fleet file in both cases.
        seeded = start_target(
            Path(tmp) / "state", "--plan", "unlimited", "--no-store", "--seed-devices", "4000"
        )
        fleet_file = seeded.info["fleet_file"]
        token = json.loads(Path(fleet_file).read_text())["devices"][0]["token"]
        if args.target == "nginx":
            seeded.stop()
            target = Nginx(Path(tmp))
        else:
            target = seeded
            for tid in os.listdir(f"/proc/{target.process.pid}/task"):
                os.sched_setaffinity(int(tid), {0})
        try:
            common = ["-u", str(args.users), "-r", "1000", "-t", f"{args.seconds}s"]
            common += ["--host", target.url]
            results: dict[str, list[float]] = {"bare": [], "checked": []}
            for round_ in range(args.rounds):
                order = ["bare", "checked"] if round_ % 2 == 0 else ["checked", "bare"]
                for name in order:
                    if name == "bare":
                        env = {"TAGOCHECK_BENCH_TOKEN": token, "TAGOCHECK_BENCH_BODY": body}
                        results[name].append(locust(["-f", str(bare), *common], env))
                        continue
                    fleet = ["-f", "loadtests/fleet.py", *common, "--fleet-file", fleet_file]
                    fleet += ["--devices", "4000", "--interval", "0.2", "--integrity-devices", "0"]
                    fleet += ["--run-dir", str(Path(tmp) / f"run{round_}")]
                    results[name].append(locust(fleet))
        finally:
            target.stop()
    bare_rate = statistics.median(results["bare"])
    checked_rate = statistics.median(results["checked"])
    print(
        f"one Locust process on core 1, {args.target} on core 0, {args.users} users, "
        f"{args.rounds} alternating rounds of {args.seconds} s"
    )
    print(
        f"bare FastHttpUser      {bare_rate:>8,.0f} req/s  (rounds: "
        f"{', '.join(f'{r:,.0f}' for r in results['bare'])})"
    )
    print(
        f"fleet, checks on       {checked_rate:>8,.0f} req/s  (rounds: "
        f"{', '.join(f'{r:,.0f}' for r in results['checked'])})"
    )
    print(f"ratio checked / bare   {checked_rate / bare_rate:>8.2f}   (goal >= 0.90)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
