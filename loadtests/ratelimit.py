"""The `ratelimit` scenario: every documented rate limit of --plan driven at --probe-factor times
its figure, window after window, per route (the profile's limits) and per device (a device's own
rpm); the ledger then shows, per limit, the windows enforced as documented, throttled early, or
leaking. Run it over several windows (on a real target, several minutes).

    locust -f loadtests/ratelimit.py --headless -u 20 -r 20 -t 5m --host https://api.tago.io \\
        --profile-token ... --plan starter --check-rate-limit-leaks 0
"""

import starting  # first: a signal while the rest imports ends in one line

from tagocheck.load.hooks import use
from tagocheck.load.prober import Prober  # noqa: F401 - Locust runs the user classes it finds

starting.imported()
use("ratelimit")
