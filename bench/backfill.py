"""A fleet of 100,000 devices through a 60-s outage and its jittered backfill: does the generator
keep its schedule while it holds every device's buffer and sends it back?

The same fleet (every 100 s: 1,000 reports/s, jitter 1 s) runs twice in each round, in
alternating order: without an outage, and offline from 30 s to 90 s with each device back
within 60 s of the end (--reconnect jittered:60, --backfill burst: ~90,000 buffered readings,
the outage's 60,000 and what fell due while each device waited its own delay; an extra ~1,500
requests/s while they come back). One pinned Locust process, every check on, the
target on the other core. Printed side by side: achieved over offered in the seconds outside the
outage and its backfill (before it, and after every buffered reading was in; goal >= 0.99),
schedule lateness p99 over the whole run from the HDR histogram (goal < 100 ms), the backfill's
drain time, and integrity.

    .venv/bin/python bench/backfill.py [--rounds 1] [--seconds 200] [--devices 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pinned import pinned_run

OUTAGE_START, OUTAGE_SECONDS, JITTER = 30, 60, 60
INTERVAL = 100


def one(devices: int, seconds: int, outage: bool, tmp: Path, round_: int) -> dict:
    name = f"{'outage' if outage else 'steady'}-{round_}"
    args = ["-t", f"{seconds}s", "--interval", str(INTERVAL), "--jitter", "1"]
    args += ["--check-p99-ms", "500", "--integrity-devices", "2000"]
    if outage:
        args += ["--outage", f"{OUTAGE_START}+{OUTAGE_SECONDS}", "--backfill", "burst"]
        args += ["--reconnect", f"jittered:{JITTER}"]
    run_dir = tmp / name
    done, summary = pinned_run("fleet", devices, run_dir, args, tmp / f"state-{name}", users=500)
    integrity = summary["integrity"]
    found = {
        "exit": done.returncode,
        # the run's own judgement leaves the outage and its backfill apart (timeline.limit)
        "outside": summary["limit"]["achieved_over_offered"],
        "lateness_p99": summary["latency_ms"]["lateness"]["p99"],
        "reports": summary["reports"],
        "exact": integrity["lost"] == integrity["duplicated"] == 0
        and not integrity.get("time_changed")
        and not integrity.get("out_of_order"),
        "checked": integrity["devices_checked"],
    }
    if outage:
        (o,) = summary["outages"]["outages"]
        found.update(buffered=o["buffered"], dropped=o["dropped"], drain=o["drain_seconds"])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=200)
    parser.add_argument("--devices", type=int, default=100_000)
    args = parser.parse_args()
    results: dict[bool, list[dict]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="tagocheck-bench-backfill-") as tmp:
        for round_ in range(args.rounds):
            for outage in (False, True) if round_ % 2 == 0 else (True, False):
                r = one(args.devices, args.seconds, outage, Path(tmp), round_)
                results[outage].append(r)
                drained = (
                    f", {r['buffered']:,} buffered, {r['dropped']:,} dropped, every one in "
                    f"{r['drain']:.1f} s after the end"
                    if outage and r["drain"] is not None
                    else (", not drained by the end" if outage else "")
                )
                print(
                    f"round {round_ + 1} {'outage' if outage else 'steady':>6}: achieved/offered "
                    f"outside the outage {r['outside']:.4f}, lateness p99 "
                    f"{r['lateness_p99']:.1f} ms, {r['reports']:,} reports{drained}; integrity "
                    f"exact on {r['checked']:,} devices: {r['exact']}; exit {r['exit']}",
                    flush=True,
                )
    worst = min(r["outside"] for r in results[True])
    late = max(r["lateness_p99"] for r in results[True])
    steady_late = max(r["lateness_p99"] for r in results[False])
    print(f"with the outage: achieved/offered outside it {worst:.4f}   goal >= 0.99")
    print(f"with the outage: lateness p99 {late:.1f} ms   goal < 100 ms")
    print(f"lateness p99 outage / steady: {late:.1f} / {steady_late:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
