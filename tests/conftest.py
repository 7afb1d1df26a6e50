"""The test process imports Locust (the load modules under test do) but never runs it: every Locust
run is a child process. Importing Locust monkey-patches the standard library with gevent, which
turns the threading primitives pytest-xdist's workers wait on into greenlet ones that another OS
thread cannot wake (LoopExit in every worker), and, when it happens after ssl was loaded, makes
creating an SSL context recurse without end. So the test process imports Locust unpatched, first,
and the variable that asks for that is removed again so that the Locust processes the tests start
patch themselves as usual.

A shell ignores SIGINT in what it starts in the background (`make test &` in a script), and an
ignored signal is inherited through exec: every process the tests start would then ignore the
Ctrl-C the signal tests send it, and those tests would fail for the harness's sake. The tests'
children get Ctrl-C as a terminal gives it."""

import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
try:
    import locust  # noqa: F401
finally:
    del os.environ["LOCUST_SKIP_MONKEY_PATCH"]

import pytest
from hypothesis import settings

# The property tests check what a function returns, not how fast: a per-example deadline
# (Hypothesis' 200 ms) turns a busy machine into a failure (a pairing example took 395 ms with
# one core kept busy, 75 ms when run again)
settings.register_profile("tagocheck-tests", deadline=None)
settings.load_profile("tagocheck-tests")

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def own_temporary_directory(tmp_path_factory, monkeypatch) -> Iterator[Path]:
    """Each test, and every process it starts, gets a temporary directory of its own (TMPDIR):
    tests run side by side (pytest-xdist), and a test that checks a run left no temporary state
    or process behind must see only its own run's."""
    own = tmp_path_factory.mktemp("tmpdir")
    monkeypatch.setenv("TMPDIR", str(own))
    monkeypatch.setattr(tempfile, "tempdir", str(own))
    yield own


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long tests first: pytest-xdist hands tests out in this order, so the run does not end
    with one worker alone on a minute-long test while the others idle."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
