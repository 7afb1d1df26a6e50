"""One run's own state: its directory, its life's state and how it ended, and what its shards
observed. Made new for every run, and for every swarm the web UI starts, so that nothing of a
run is ever reset by hand for the next."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import gevent
from locust.stats import StatsCSVFileWriter

from tagocheck.fleet.model import Fleet
from tagocheck.fleet.observe import FleetObserver
from tagocheck.fleet.probes import Probe
from tagocheck.fleet.timeline import Timeline
from tagocheck.load import rundir
from tagocheck.load.ending import INTERRUPTED, Ending
from tagocheck.load.eventlog import EventLog
from tagocheck.load.lifecycle import Lifecycle, State, Transition
from tagocheck.load.stepping import Stepping


@dataclass
class LoadRun:
    directory: Path
    life: Lifecycle
    ending: Ending = field(default_factory=Ending)
    owns_dir: bool = False
    """Set once the run directory is known to be this run's: nothing is written before."""
    fleet: Fleet | None = None
    probes: list[Probe] = field(default_factory=list)
    started_at: float = 0.0
    schedule_at: float = 0.0
    """When the schedule started: outages are timed from it."""
    observer: FleetObserver | None = None
    stepping: Stepping | None = None
    shards: dict[str, int] = field(default_factory=dict)
    """Each worker's shard index (distributed runs)."""
    finals: set[str] = field(default_factory=set)
    """The workers whose last observations came in."""
    traced: list[int] = field(default_factory=list)
    """The devices whose reports are reconciled one by one at the end (none when probing)."""
    greenlets: list[gevent.Greenlet] = field(default_factory=list)
    csv_writer: StatsCSVFileWriter | None = None

    def __post_init__(self) -> None:
        self.timeline = Timeline(self.directory / "timeline.jsonl")
        self.events = EventLog(self.directory / "events.jsonl")
        self.life.listeners.append(self._note)

    @classmethod
    def begin(cls, directory: Path, state: State = State.PREPARING, **kwargs) -> LoadRun:
        return cls(directory, Lifecycle(state), **kwargs)

    @classmethod
    def for_swarm(cls, directory: Path) -> LoadRun:
        """A web-UI swarm's run: ready (the target and fleet are the session's), its directory
        its own and new."""
        run = cls.begin(directory, State.READY, owns_dir=True)
        rundir.empty_or_new(directory, True)
        rundir.make(directory)
        return run

    def break_off(self, ending: Ending) -> None:
        """Interrupted or crashed: the first such ending is the one the report names."""
        self.ending = self.ending.then(ending)
        self.life.break_off(State.INTERRUPTED if ending.how == INTERRUPTED else State.CRASHED)

    @property
    def state(self) -> State:
        return self.life.state

    def move(self, state: State) -> None:
        self.life.move(state)

    def _note(self, moved: Transition) -> None:
        """Each transition in the events log, once the directory is the run's."""
        if self.owns_dir:
            self.events.note("state", f"{moved.before} -> {moved.after}", state=str(moved.after))
