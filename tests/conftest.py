"""Locust monkey-patches the standard library with gevent when it is imported, and that must happen
before anything loads ssl (requests does), or creating an SSL context recurses without end. The load
tests import Locust in-process; importing it here, first, keeps that true whichever tests are
collected first (`pytest tests/loadtests tests/server` failed to collect without it).

A shell ignores SIGINT in what it starts in the background (`make test &` in a script), and an
ignored signal is inherited through exec: every process the tests start would then ignore the
Ctrl-C the signal tests send it, and those tests would fail for the harness's sake. The tests'
children get Ctrl-C as a terminal gives it."""

import signal

import locust  # noqa: F401

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
