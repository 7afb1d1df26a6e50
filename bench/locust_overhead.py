"""Requests per second of one Locust process with every in-run check on, against a bare one.

Both post the same one-record payload to the same fast target (the embedded target with
--no-store, pinned to core 0); Locust runs on core 1. The bare locustfile is a FastHttpUser posting
a fixed body with no checks; the checked one is loadtests/fleet.py, with a fleet offering more
reports than one process can send, so both are generator-bound. Rounds alternate; medians and
their ratio are printed. Goal (issue 5): the checked run reaches >= 0.9 of the bare rate.

    .venv/bin/python bench/locust_overhead.py [--seconds 10] [--rounds 3] [--users 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tagocheck.target.launcher import start_target  # noqa: E402

BARE = """
import os
from locust import FastHttpUser, constant, task
TOKEN = os.environ["TAGOCHECK_BENCH_TOKEN"]
BODY = b'[{"variable":"energy","value":1234.5,"unit":"kWh"}]'
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tagocheck-bench-") as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE)
        target = start_target(Path(tmp) / "state", "--plan", "unlimited", "--no-store")
        try:
            for tid in os.listdir(f"/proc/{target.process.pid}/task"):
                os.sched_setaffinity(int(tid), {0})
            token = requests.post(
                target.url + "/device",
                json={"name": "bench"},
                headers={"Token": target.profile_token},
                timeout=10,
            ).json()["result"]["token"]
            common = [
                "-u",
                str(args.users),
                "-r",
                "1000",
                "-t",
                f"{args.seconds}s",
                "--host",
                target.url,
            ]
            results: dict[str, list[float]] = {"bare": [], "checked": []}
            for round_ in range(args.rounds):
                order = ["bare", "checked"] if round_ % 2 == 0 else ["checked", "bare"]
                for name in order:
                    if name == "bare":
                        results[name].append(
                            locust(["-f", str(bare), *common], {"TAGOCHECK_BENCH_TOKEN": token})
                        )
                    else:
                        results[name].append(
                            locust(
                                [
                                    "-f",
                                    "loadtests/fleet.py",
                                    *common,
                                    "--devices",
                                    "4000",
                                    "--interval",
                                    "0.2",
                                    "--profile-token",
                                    target.profile_token,
                                    "--run-dir",
                                    str(Path(tmp) / f"run{round_}"),
                                ]
                            )
                        )
        finally:
            target.stop()
    bare_rate = statistics.median(results["bare"])
    checked_rate = statistics.median(results["checked"])
    print(
        f"one Locust process on core {1}, target (no store) on core 0, {args.users} users, "
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
