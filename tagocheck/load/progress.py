"""How far a long set-up or clean-up got: a live bar on a terminal, a line every few seconds
otherwise (a CI log, a file), so that creating or removing thousands of devices against a slow
target is never minutes of silence, and a log is never flooded by a redrawn bar."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tagocheck.fleet.provision import PROGRESS_SECONDS, every


def on_a_terminal() -> bool:
    return sys.stdout.isatty()


@contextmanager
def counting(
    what: str, total: int, say: Callable[[int], None], *, terminal: bool | None = None
) -> Iterator[Callable[[int], None]]:
    """A callback taking how many of `total` are done: a bar labelled `what` on a terminal,
    else `say(done)` at most every PROGRESS_SECONDS."""
    if not (on_a_terminal() if terminal is None else terminal):
        yield every(PROGRESS_SECONDS, say)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=Console(), transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda done: bar.update(task, completed=done)
