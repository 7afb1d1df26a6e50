"""The `capacity` scenario: the fleet comes in over --steps equal steps (5 by default), each held
--step-seconds, until the knee: throughput stops following the offered rate, p99 bends, or errors
start. Each step is recorded in steps.json; the highest step before the knee is the capacity the
run vouches for.

    locust -f loadtests/capacity.py --headless -u 100 -r 100 -t 10m --devices 50000 --interval 10
"""

from tagocheck.load.gateway import Gateway  # noqa: F401 - Locust runs the user classes it finds
from tagocheck.load.hooks import use

use("capacity")
