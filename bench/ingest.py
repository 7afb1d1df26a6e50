"""POST /data throughput of the embedded target, durable versus not storing at all.

Starts two targets side by side: one that commits every acknowledged record (group commit, a full
fsync per commit), and the same server with `--no-store`, which validates and answers POST /data
but writes nothing. Both are pinned to core 0; wrk, from Debian's packages, is pinned to core 1 and
posts 1 and then 10 records per request. Rounds alternate between the two servers so that drift on
this shared machine hits both alike; medians are printed with the ratio durable / no-store.

    .venv/bin/python bench/ingest.py [--seconds 5] [--rounds 3] [--connections 64]

Goals from issue 3: >= 10,000 acknowledged requests/s at 1 record per request, >= 50,000 records/s
at 10 per request, and >= 0.5 of the no-store figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tagocheck.server.launcher import RunningTarget, start_target

SERVER_CORE, LOAD_CORE = 0, 1
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Device-Token"] = os.getenv("TAGOCHECK_BENCH_TOKEN")
wrk.body = os.getenv("TAGOCHECK_BENCH_BODY")
"""


def pin(target: RunningTarget, core: int) -> None:
    """Pin every thread of the target (event loop and writer) to one core."""
    for tid in os.listdir(f"/proc/{target.process.pid}/task"):
        os.sched_setaffinity(int(tid), {core})


def device_token(target: RunningTarget) -> str:
    response = requests.post(
        target.url + "/device",
        json={"name": "bench"},
        headers={"Profile-Token": target.profile_token},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["result"]["token"]


def stored_records(target: RunningTarget, token: str) -> int:
    response = requests.get(
        target.url + "/data", params={"query": "count"}, headers={"Device-Token": token}, timeout=60
    )
    return response.json()["result"]


def wrk(url: str, token: str, records: int, seconds: int, connections: int, script: Path) -> dict:
    body = json.dumps([{"variable": "temperature", "value": 21.5, "unit": "C"}] * records)
    env = {**os.environ, "TAGOCHECK_BENCH_TOKEN": token, "TAGOCHECK_BENCH_BODY": body}
    command = ["taskset", "-c", str(LOAD_CORE), "wrk", "-t1", f"-c{connections}"]
    command += [f"-d{seconds}s", "--latency", "-s", str(script), url + "/data"]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests_done = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}
    return {
        "rate": rate,
        "requests": requests_done,
        "errors": int(errors.group(1)) if errors else 0,
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("bench/ingest.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    if len(os.sched_getaffinity(0)) < 2:
        print("bench/ingest.py needs two cores (server on one, wrk on the other)", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="tagocheck-bench-") as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(LUA)
        servers = {
            "durable": start_target(Path(tmp) / "durable", "--plan", "unlimited"),
            "no-store": start_target(Path(tmp) / "nostore", "--plan", "unlimited", "--no-store"),
        }
        try:
            tokens = {}
            for name, target in servers.items():
                pin(target, SERVER_CORE)
                tokens[name] = device_token(target)
            results: dict[tuple[str, int], list[dict]] = {}
            for records in (1, 10):
                for round_ in range(args.rounds):
                    order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
                    for name in order:
                        run = wrk(
                            servers[name].url,
                            tokens[name],
                            records,
                            args.seconds,
                            args.connections,
                            script,
                        )
                        results.setdefault((name, records), []).append(run)
            acknowledged = sum(
                r["requests"] - r["errors"]
                for records in (1, 10)
                for r in results[("durable", records)]
                for _ in range(records)
            )
            stored = stored_records(servers["durable"], tokens["durable"])
        finally:
            for target in servers.values():
                target.stop()

    print(f"POST /data, wrk -c{args.connections} on core {LOAD_CORE}, server on core {SERVER_CORE}")
    print(f"{args.rounds} alternating rounds of {args.seconds} s; medians\n")
    columns = ("records/req", 11), ("server", 9), ("req/s", 9), ("records/s", 10), ("p99 ms", 7)
    print(" ".join(f"{name:>{width}}" for name, width in columns), f"{'non-2xx':>7}")
    ratios = {}
    for records in (1, 10):
        medians = {}
        for name in servers:
            runs = results[(name, records)]
            rate = statistics.median(r["rate"] for r in runs)
            p99 = statistics.median(r["p99_ms"] for r in runs)
            errors = sum(r["errors"] for r in runs)
            medians[name] = rate
            print(
                f"{records:>11} {name:>9} {rate:>9,.0f} {rate * records:>10,.0f} {p99:>7.1f} "
                f"{errors:>7}"
            )
        ratios[records] = medians["durable"] / medians["no-store"]
        print(f"{'':>11} {'ratio':>9} {ratios[records]:>9.2f}  (durable / no-store)\n")
    print(f"durable target: {acknowledged:,} records acknowledged, {stored:,} stored")
    return 0 if stored >= acknowledged else 1


if __name__ == "__main__":
    raise SystemExit(main())
