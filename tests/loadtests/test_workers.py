"""A distributed run's master waits longer than Locust's 3 s for a busy worker, and a test its
master stopped for want of workers is said to be the generator's failure."""

from __future__ import annotations

import locust.runners
from locust import HttpUser
from locust.env import Environment
from locust.runners import STATE_MISSING, STATE_RUNNING, WorkerNode

from tagocheck.load.ports import free_port
from tagocheck.load.workers import LIVENESS, wait_longer_for_workers, workers_lost


class Nobody(HttpUser):
    host = "http://127.0.0.1:9"


def test_a_silent_worker_is_waited_for_longer_than_locusts_three_seconds(monkeypatch):
    monkeypatch.setattr(locust.runners, "HEARTBEAT_LIVENESS", 3)
    wait_longer_for_workers()
    assert locust.runners.HEARTBEAT_LIVENESS == LIVENESS >= 10


def test_a_master_without_workers_names_the_generator():
    master = Environment(user_classes=[Nobody]).create_master_runner("127.0.0.1", free_port())
    try:
        assert workers_lost(master) is None  # no worker ever: nothing was lost
        master.clients["w1"] = WorkerNode("w1")
        master.clients["w1"].state = STATE_RUNNING
        assert workers_lost(master) is None
        master.clients["w1"].state = STATE_MISSING
        said = workers_lost(master)
        assert said and "every Locust worker went missing" in said and "not the target" in said
    finally:
        master.quit()
