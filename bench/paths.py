"""The fleet's paths side by side, in one run: the same fleet posting through its devices' own
tokens (POST /data), through one network token (POST /integration/network/data, each device
named by its serial) and as TagoTiP frames to the HTTP binding (POST /v1/tip/{serial}).

Two measurements, each taken for every path asked in alternating rounds against a freshly
seeded embedded target pinned to core 0, one Locust process on core 1 with every check on
(thresholds p99 500 ms, error rate 0.01, no contract violation, no rate-limit finding, every
device's records reconciled):

- steady: 10,000 devices every 10 s (1,000 reports/s): achieved over offered rate in the steady
  part (goal >= 0.99) and integrity exact (nothing lost or duplicated);
- ramp: the capacity scenario bringing 40,000 devices (`--ramp-devices`) every 10 s in over 8
  steps (500 to 4,000 reports/s): the highest step that met the thresholds, as the achieved
  rate; printed as the ratio of each path to the device path, medians (goal >= 0.9: issue 15
  for the network path, issue 30 for TagoTiP's HTTP binding). When a path held every step its
  highest is the ramp's top, not its own: the ratio is then said to be a bound.

    .venv/bin/python bench/paths.py [--paths device,network,tagotip-http] [--rounds 2]
        [--seconds 40] [--step-seconds 8] [--measure steady,ramp] [--ramp-devices 40000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pinned import pinned_run

PATHS = ("device", "network", "tagotip-http")
NO_KNEE = "none within the ramp"
CHECKS = ["--check-p99-ms", "500", "--check-error-rate", "0.01"]
CHECKS += ["--check-schema-violations", "0", "--check-rate-limit-leaks", "0"]


def locust(scenario: str, via: str, devices: int, run_dir: Path, extra: list[str], tmp: Path):
    """One pinned Locust run on a freshly seeded target: Locust's process and the summary."""
    args = ["--interval", "10", "--jitter", "1", "--via", via, *CHECKS]
    args += ["--integrity-devices", str(devices), *extra]
    return pinned_run(scenario, devices, run_dir, args, tmp / f"state-{run_dir.name}")


def steady(via: str, seconds: int, tmp: Path, round_: int) -> dict:
    run_dir = tmp / f"steady-{via}-{round_}"
    done, summary = locust("fleet", via, 10_000, run_dir, ["-t", f"{seconds}s"], tmp)
    integrity = summary["integrity"]
    return {
        "exit": done.returncode,
        "ratio": summary["limit"]["achieved_over_offered"],
        "reports": summary["reports"],
        "lost": integrity["lost"],
        "duplicated": integrity["duplicated"],
        "checked": integrity["devices_checked"],
        "p99": summary["latency_ms"]["corrected"]["p99"],
        "broken": [b["text"] for b in summary["thresholds"]["broken"]],
    }


def ramp(via: str, step_seconds: float, tmp: Path, round_: int, devices: int = 40_000) -> dict:
    run_dir = tmp / f"ramp-{via}-{round_}"
    extra = [
        "--steps",
        "8",
        "--step-seconds",
        str(step_seconds),
        "-t",
        f"{8 * step_seconds + 60:.0f}s",
    ]
    extra += ["--integrity-devices", "500"]  # the ramp measures rate; the steady runs read all
    _, summary = locust("capacity", via, devices, run_dir, extra, tmp)
    best = summary["capacity"]["highest_good"]
    return {
        "achieved": best["achieved"] if best else 0.0,
        "offered": best["offered"] if best else 0.0,
        "knee": (summary["capacity"]["knee"] or {}).get("why", NO_KNEE),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", default=",".join(PATHS), help="device and the paths beside it")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=40, help="each steady run")
    parser.add_argument(
        "--step-seconds", type=float, default=10.0, help="each ramp step (at least the interval)"
    )
    parser.add_argument("--measure", default="steady,ramp", help="steady, ramp or both")
    parser.add_argument(
        "--ramp-devices",
        type=int,
        default=40_000,
        help="the ramp's fleet, every 10 s over 8 steps: 40,000 tops at 4,000/s; more when both "
        "paths hold the top step (no knee: their ratio then says only that both reach it)",
    )
    args = parser.parse_args()
    paths = tuple(args.paths.split(","))
    if "device" not in paths or not set(paths) <= set(PATHS) or len(paths) < 2:
        parser.error(f"--paths: device and at least one of {', '.join(PATHS[1:])}")
    measure = set(args.measure.split(","))
    steadies: dict[str, list[dict]] = {p: [] for p in paths}
    ramps: dict[str, list[dict]] = {p: [] for p in paths}
    with tempfile.TemporaryDirectory(prefix="tagocheck-bench-paths-") as tmp:
        for round_ in range(args.rounds):
            order = paths if round_ % 2 == 0 else paths[::-1]  # alternate who goes first
            for via in order if "steady" in measure else ():
                found = steady(via, args.seconds, Path(tmp), round_)
                steadies[via].append(found)
                print(
                    f"round {round_ + 1} steady {via:>12}: achieved/offered "
                    f"{found['ratio']:.4f}, {found['reports']:,} reports, lost {found['lost']}, "
                    f"duplicated {found['duplicated']} of {found['checked']:,} devices read back, "
                    f"p99 {found['p99']:.0f} ms, thresholds broken {found['broken'] or 'none'}, "
                    f"exit {found['exit']}",
                    flush=True,
                )
            for via in order if "ramp" in measure else ():
                found = ramp(via, args.step_seconds, Path(tmp), round_, args.ramp_devices)
                ramps[via].append(found)
                print(
                    f"round {round_ + 1} ramp   {via:>12}: highest good step "
                    f"{found['achieved']:,.0f}/s answered of {found['offered']:,.0f}/s offered; "
                    f"knee: {found['knee']}",
                    flush=True,
                )
    if "steady" in measure:
        exact = all(r["lost"] == r["duplicated"] == 0 for rs in steadies.values() for r in rs)
        for via in paths:
            ratio = statistics.median(r["ratio"] for r in steadies[via])
            print(f"{via} at 1,000 reports/s: achieved/offered {ratio:.4f}  goal >= 0.99")
        print(f"integrity exact on every steady run: {exact}")
    if "ramp" not in measure:
        return 0
    device_best = statistics.median(r["achieved"] for r in ramps["device"])
    for via in [p for p in paths if p != "device"]:
        best = statistics.median(r["achieved"] for r in ramps[via])
        topped = [p for p in (via, "device") if all(r["knee"] == NO_KNEE for r in ramps[p])]
        print(
            f"highest good rate {via} / device: {best:,.0f} / {device_best:,.0f} = "
            f"{best / device_best if device_best else 0:.3f}  goal >= 0.9"
            + (f" ({' and '.join(topped)} held the ramp's top: not their own highest; raise "
               "--ramp-devices)" if topped else "")
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
