"""The `capacity` scenario: it searches for the highest load that holds. The first step brings
1/16 of the fleet in; each step after doubles the devices reporting until one breaks (throughput
under 95 % of the offered rate, errors over --check-error-rate, p99 over --check-p99-ms), then it
bisects to --precision or --search-seconds. --steps N brings the fleet in over N equal steps
instead, stopping after the first that broke. Each step is held --step-seconds and recorded in
steps.json with the answer: the highest step that held, and the lowest that broke.

    locust -f loadtests/capacity.py --headless -u 100 -r 100 -t 10m --devices 50000 --interval 10
"""

import starting  # first: a signal while the rest imports ends in one line

from tagocheck.load.gateway import Gateway  # noqa: F401 - Locust runs the user classes it finds
from tagocheck.load.hooks import use

starting.imported()
use("capacity")
