"""A run's states: every listed transition can be driven and is heard; no other move happens;
and from every state before `written` a run can be interrupted or crash and still go on to be
written and cleaned."""

from __future__ import annotations

import json
from collections import deque

import pytest

from tagocheck.load.ending import CRASHED, INTERRUPTED, Ending
from tagocheck.load.lifecycle import (
    BEGINNINGS,
    STOPPABLE,
    TRANSITIONS,
    IllegalTransition,
    Lifecycle,
    State,
)
from tagocheck.load.run import LoadRun


def path_to(target: State) -> tuple[State, list[State]]:
    """A beginning and the shortest list of moves from it to `target`."""
    seen = {b: (b, []) for b in BEGINNINGS}
    queue = deque(BEGINNINGS)
    while queue:
        state = queue.popleft()
        begin, moves = seen[state]
        if state == target:
            return begin, moves
        for after in sorted(TRANSITIONS[state]):
            if after not in seen:
                seen[after] = (begin, [*moves, after])
                queue.append(after)
    raise AssertionError(f"{target} cannot be reached")


def reached(state: State, heard: list | None = None) -> Lifecycle:
    begin, moves = path_to(state)
    life = Lifecycle(begin, listeners=[heard.append] if heard is not None else [])
    for after in moves:
        life.move(after)
    return life


EVERY_TRANSITION = sorted((b, a) for b, ahead in TRANSITIONS.items() for a in ahead)


def test_the_table_lists_every_state_and_no_dead_end():
    assert set(TRANSITIONS) == set(State)
    for state in State:
        reached(state)  # every state can be reached from a beginning
        assert _can_reach(state, State.CLEANED), state  # and every run can still end cleaned
    assert TRANSITIONS[State.CLEANED] == frozenset()


def _can_reach(start: State, goal: State) -> bool:
    seen, queue = {start}, deque([start])
    while queue:
        state = queue.popleft()
        if state == goal:
            return True
        for after in TRANSITIONS[state] - seen:
            seen.add(after)
            queue.append(after)
    return False


@pytest.mark.parametrize(("before", "after"), EVERY_TRANSITION, ids=lambda s: str(s))
def test_every_listed_transition_is_driven_and_heard(before, after):
    heard: list = []
    life = reached(before, heard)
    heard.clear()
    moved = life.move(after)
    assert life.state == after and heard == [moved]
    assert (moved.before, moved.after) == (before, after)
    assert life.has_been(before) and life.has_been(after)


@pytest.mark.parametrize("before", sorted(State), ids=str)
def test_no_unlisted_move_happens(before):
    for after in set(State) - TRANSITIONS[before]:
        life = reached(before)
        with pytest.raises(IllegalTransition):
            life.move(after)
        assert life.state == before


@pytest.mark.parametrize("how", [State.INTERRUPTED, State.CRASHED], ids=str)
@pytest.mark.parametrize("state", sorted(STOPPABLE), ids=str)
def test_a_run_broken_off_in_any_state_is_still_written_and_cleaned(state, how):
    life = reached(state)
    assert life.break_off(how) and life.state == how
    for after in (State.WRITTEN, State.CLEANED):
        assert _can_reach(life.state, after)
    # the way a broken-off run ends: what it had collected, judged, written, cleaned
    for after in (State.JUDGING, State.WRITTEN, State.CLEANED):
        life.move(after)
    assert life.state == State.CLEANED and life.has_been(how)


@pytest.mark.parametrize("state", [State.WRITTEN, State.CLEANED], ids=str)
def test_nothing_is_left_to_break_off_once_written(state):
    life = reached(state)
    assert not life.break_off(State.INTERRUPTED) and not life.break_off(State.CRASHED)
    assert life.state == state


def test_a_crash_while_writing_an_interrupted_run_is_still_said():
    life = reached(State.RUNNING)
    life.break_off(State.INTERRUPTED)
    assert life.break_off(State.CRASHED)
    assert not life.break_off(State.INTERRUPTED)  # the crash is not hidden by a second signal


def test_a_run_begins_only_where_the_table_says():
    for state in set(State) - BEGINNINGS:
        with pytest.raises(IllegalTransition):
            Lifecycle(state)
    with pytest.raises(IllegalTransition):
        reached(State.RUNNING).break_off(State.WRITTEN)


def test_the_run_notes_its_transitions_once_its_directory_is_its_own(tmp_path):
    run = LoadRun.begin(tmp_path / "run")
    run.move(State.PROVISIONING)
    assert not (tmp_path / "run").exists()  # not the run's: nothing written there
    run.owns_dir = True
    run.move(State.READY)
    run.break_off(Ending(INTERRUPTED, "interrupted", "SIGINT"))
    run.break_off(Ending(CRASHED, "later"))
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").open()]
    assert [e["state"] for e in events] == ["ready", "interrupted", "crashed"]
    assert run.ending.how == INTERRUPTED  # the first ending is the one the report names
