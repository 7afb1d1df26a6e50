"""The `soak` scenario: the fleet, steadily, for a long time; at the end the last fifth of the run
is compared with the first (p99, share of the offered rate answered, errors, the generator's
memory) and the run says whether it drifted. --check-drift 0 makes drift fail the run.

    locust -f loadtests/soak.py --headless -u 50 -r 50 -t 2h --devices 10000 --interval 30
"""

import starting  # first: a signal while the rest imports ends in one line

from tagocheck.load.gateway import Gateway  # noqa: F401 - Locust runs the user classes it finds
from tagocheck.load.hooks import use

starting.imported()
use("soak")
