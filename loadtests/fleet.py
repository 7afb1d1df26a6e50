"""The `fleet` scenario: a fleet of devices reporting on their own schedules, steadily.

    locust -f loadtests/fleet.py                      # web UI; the fleet options are in the form
    locust -f loadtests/fleet.py --headless -u 50 -r 50 -t 60s --devices 2000 --interval 10
    locust -f loadtests/fleet.py --headless --processes 2 -u 50 -r 50 -t 60s --devices 100000

Locust users are gateways (concurrent connections), not devices: the fleet is `--devices` devices,
each with its own token, interval, random phase and jitter, and every report is sent at its
scheduled time whatever happened to earlier ones (the open model). Every response is judged by the
registry of checks and classified; Locust's stats show each class as a failure with its reason.

With no --host, the embedded target is started for the run (by the master) and the fleet seeded on
it; with --host and --profile-token the fleet is created there and removed afterwards; with
--fleet-file the devices in the file are used as they are. Distributed (--processes, or --master
and --worker), every worker simulates its own disjoint shard of the fleet and the master merges
what they saw. At the end the run directory (--run-dir, default reports/<timestamp>/) gets
Locust's CSVs with full history, the HDR histograms, the rate-limit ledger, the integrity check,
the per-second timeline and a summary with the configuration (tokens redacted).
"""

import starting  # first: a signal while the rest imports ends in one line

from tagocheck.load.gateway import Gateway  # noqa: F401 - Locust runs the user classes it finds
from tagocheck.load.hooks import use

starting.imported()
use("fleet")
