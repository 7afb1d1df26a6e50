"""Locust monkey-patches the standard library with gevent when it is imported, and that must happen
before anything loads ssl (requests does), or creating an SSL context recurses without end. The load
tests import Locust in-process; importing it here, first, keeps that true whichever tests are
collected first (`pytest tests/loadtests tests/server` failed to collect without it)."""

import locust  # noqa: F401
