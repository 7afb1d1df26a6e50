"""A load run's life as named states, every transition listed here and nowhere else.

    preparing     options checked, run directory made, target started (embedded) or reached
    provisioning  the fleet's devices created or read from a fleet file
    ready         set up; waiting for its swarm (at once headless, at the form's button from the
                  web UI, whose every swarm is a run of its own that begins here)
    starting      each load-generating process given its shard
    running       the schedules go (a capacity run steps through its device counts)
    collecting    the schedules stopped; every shard's last observations gathered
    judging       integrity read back, findings and thresholds judged
    written       the run directory, its report and verdict are on disk
    cleaned       what the run created on the target is removed, the embedded target stopped

and, from any state before `written`:

    interrupted   SIGINT or SIGTERM: the run goes on to collect, judge and write what it had
    crashed       an error: the same, or, when it never started, straight to `cleaned` with
                  nothing left behind

How a run ended (its `Ending`) is recorded apart: the state says where the run is, the ending
what its verdict starts from. Listeners (the events log, the console) hear every transition;
none of them decides one.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class State(enum.StrEnum):
    PREPARING = "preparing"
    PROVISIONING = "provisioning"
    READY = "ready"
    STARTING = "starting"
    RUNNING = "running"
    COLLECTING = "collecting"
    JUDGING = "judging"
    WRITTEN = "written"
    CLEANED = "cleaned"
    INTERRUPTED = "interrupted"
    CRASHED = "crashed"


FORWARD: dict[State, frozenset[State]] = {
    State.PREPARING: frozenset({State.PROVISIONING}),
    State.PROVISIONING: frozenset({State.READY}),
    # judging from ready: the web UI closed before any swarm; the run says it never ran
    State.READY: frozenset({State.STARTING, State.JUDGING}),
    # collecting from starting: stopped before every user had spawned
    State.STARTING: frozenset({State.RUNNING, State.COLLECTING}),
    State.RUNNING: frozenset({State.COLLECTING}),
    State.COLLECTING: frozenset({State.JUDGING}),
    State.JUDGING: frozenset({State.WRITTEN}),
    State.WRITTEN: frozenset({State.CLEANED}),
    State.CLEANED: frozenset(),
}
"""The run's own way forward, when nothing breaks it off."""

STOPPABLE = frozenset(
    {
        State.PREPARING,
        State.PROVISIONING,
        State.READY,
        State.STARTING,
        State.RUNNING,
        State.COLLECTING,
        State.JUDGING,
    }
)
"""The states an interruption or a crash can break off: every one before the run is written."""

AFTER_BREAK = frozenset({State.COLLECTING, State.JUDGING, State.WRITTEN, State.CLEANED})
"""Where a broken-off run goes on to: what it had is collected, judged and written (or, never
started, it is cleaned away)."""

TRANSITIONS: dict[State, frozenset[State]] = {
    **{
        state: ahead | ({State.INTERRUPTED, State.CRASHED} if state in STOPPABLE else set())
        for state, ahead in FORWARD.items()
    },
    # a crash while writing what an interrupted run had is still said
    State.INTERRUPTED: AFTER_BREAK | {State.CRASHED},
    State.CRASHED: AFTER_BREAK,
}
"""Every legal transition: the one place a run's life is decided."""

BEGINNINGS = frozenset({State.PREPARING, State.READY})
"""Where a run object begins: preparing, or ready for a web-UI swarm (the target and fleet are
the session's, set up once)."""


class IllegalTransition(RuntimeError):
    """A move the table does not list: a bug in the coordinator, never the target's doing."""


@dataclass(frozen=True)
class Transition:
    before: State | None
    after: State
    at: float


Listener = Callable[[Transition], None]

WATCHERS: list[Listener] = []
"""Listeners of every run's transitions in this process (see watch)."""


def watch(listener: Listener) -> None:
    """Hear every transition of every run in this process, after the run's own listeners: a
    locustfile may follow a run's states (the tests interrupt a run in each one this way)."""
    WATCHERS.append(listener)


@dataclass
class Lifecycle:
    """Where one run is, how it got there, and who hears of each move."""

    state: State = State.PREPARING
    listeners: list[Listener] = field(default_factory=list)
    history: list[Transition] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.state not in BEGINNINGS:
            raise IllegalTransition(f"a run cannot begin {self.state}")
        self.history.append(Transition(None, self.state, time.time()))

    def move(self, after: State) -> Transition:
        """Go to `after`, or raise: a transition the table does not list never happens."""
        if after not in TRANSITIONS[self.state]:
            raise IllegalTransition(f"{self.state} -> {after}")
        moved = Transition(self.state, after, time.time())
        self.state = after
        self.history.append(moved)
        for listener in [*self.listeners, *WATCHERS]:
            listener(moved)
        return moved

    def can(self, after: State) -> bool:
        return after in TRANSITIONS[self.state]

    def has_been(self, state: State) -> bool:
        """Whether the run was ever in `state` (it may have moved on)."""
        return any(t.after == state for t in self.history)

    def break_off(self, how: State) -> bool:
        """Interrupted or crashed, where the state allows it; False once the run is written (or
        already broken off the same way): there is nothing left to stop."""
        if how not in (State.INTERRUPTED, State.CRASHED):
            raise IllegalTransition(f"{how} is not a way to break a run off")
        if not self.can(how):
            return False
        self.move(how)
        return True
