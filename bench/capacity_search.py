"""The capacity search against an exhaustive fixed-step sweep of the same target, side by side.

Part 1: the embedded target slowed to a known capacity (`--fault capacity=C/s`, it queues the
rest), a fleet of twice that at a 1-s interval. The search (`--steps 0`) runs first; then a
fixed ramp whose steps are the search's precision (5 %) of the search's answer, stopping at the
first step that broke, so both answers have the same resolution. Printed: each answer, its time,
and the ratios (answer search/sweep, time search/sweep). Goals (issue 26): answers within 10 % of
each other, the search in at most half the sweep's time.

Part 2: three default searches, `tagocheck capacity --no-contract` as `make demo` runs it, on the
plain embedded target; printed: each answer and the spread (max/min - 1; goal within +-10 %, i.e.
each within 10 % of their median).

    .venv/bin/python bench/capacity_search.py [--capacity 1500] [--step-seconds 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tagocheck.server.launcher import start_target  # noqa: E402


def locust_capacity(url: str, fleet_file: str, run_dir: Path, *args: str) -> tuple[dict, float]:
    """steps.json of one capacity-scenario run, and how long its steps took."""
    command = [sys.executable, "-m", "locust", "-f", "loadtests/capacity.py", "--headless"]
    command += ["--only-summary", "-u", "100", "-r", "100", "-t", "900s", "--host", url]
    command += ["--fleet-file", fleet_file, "--plan", "none", "--run-dir", str(run_dir), *args]
    subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False)
    steps = json.loads((run_dir / "steps.json").read_text())
    took = steps["steps"][-1]["ended"] - steps["steps"][0]["started"]
    return steps, took


def held_rate(steps: dict) -> float:
    held = steps["answer"]["held"]
    return held["offered"] if held else 0.0


def side_by_side(capacity: float, step_seconds: float, work: Path) -> None:
    devices = int(2 * capacity)
    fleet = ("--devices", str(devices), "--interval", "1", "--step-seconds", f"{step_seconds:g}")
    with start_target(
        work / "state",
        *("--plan", "unlimited", "--fault", f"capacity={capacity:g}/s"),
        *("--seed-devices", str(devices)),
    ) as target:
        fleet_file = target.info["fleet_file"]
        search, search_took = locust_capacity(
            target.url, fleet_file, work / "search", *fleet, "--search-seconds", "600"
        )
        found = held_rate(search)
        step_devices = max(1, round(0.05 * found))  # the search's precision of its answer
        ramp_steps = min(100, math.ceil(devices / step_devices))
        sweep, sweep_took = locust_capacity(
            target.url, fleet_file, work / "sweep", *fleet, "--steps", str(ramp_steps)
        )
    swept = held_rate(sweep)
    print(
        f"target: capacity={capacity:g}/s, {devices:,} devices at 1 s, steps of {step_seconds:g} s"
    )
    print(
        f"  search: {found:,.0f}/s held in {len(search['steps'])} steps, {search_took:.0f} s "
        f"(bracket {search['answer'].get('width', float('nan')):.1%}, "
        f"stopped: {search['answer'].get('stopped')})"
    )
    print(f"  sweep:  {swept:,.0f}/s held in {len(sweep['steps'])} steps, {sweep_took:.0f} s")
    if swept:
        print(f"  answer search/sweep: {found / swept:.3f}   (goal within 0.90-1.10)")
    print(f"  time search/sweep:   {search_took / sweep_took:.3f}   (goal at most 0.50)")


def default_searches(repeats: int, work: Path) -> None:
    answers = []
    for repeat in range(repeats):
        run_dir = work / f"default-{repeat + 1}"
        started = time.time()
        command = [sys.executable, "-m", "tagocheck", "capacity", "--no-contract"]
        subprocess.run(
            [*command, "--run-dir", str(run_dir)], cwd=ROOT, capture_output=True, timeout=900
        )
        steps = json.loads((run_dir / "steps.json").read_text())
        found = steps["answer"]
        who = (found.get("limit") or {}).get("limit", "-")
        answers.append(held_rate(steps))
        print(
            f"  default search {repeat + 1}: {answers[-1]:,.0f}/s held, "
            f"{len(steps['steps'])} steps, limit where it broke: {who}, "
            f"{time.time() - started:.0f} s in all"
        )
    middle = statistics.median(answers)
    worst = max(abs(a / middle - 1) for a in answers) if middle else float("nan")
    print(
        f"  spread: {min(answers):,.0f}-{max(answers):,.0f}/s, each within {worst:.1%} of the "
        "median (goal within 10 %)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capacity", type=float, default=1500.0)
    parser.add_argument("--step-seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tagocheck-bench-") as work:
        side_by_side(args.capacity, args.step_seconds, Path(work))
        print("the default search (tagocheck capacity --no-contract), on the embedded target:")
        default_searches(args.repeats, Path(work))


if __name__ == "__main__":
    main()
