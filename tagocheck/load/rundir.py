"""A run directory holds one run: a used one is refused, or emptied when asked to."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tagocheck.load.ending import NOT_RUN


class RunDirRefused(ValueError):
    """The run directory cannot be this run's; the message is one line for the user."""


def empty_or_new(run_dir: Path, overwrite: bool, *, folders: bool = False) -> None:
    """A run directory holds one run: a used one is refused unless --overwrite says to empty it
    (its files would be overwritten and events.jsonl appended to, mixing runs). `folders`: its
    sub-folders go too (tagocheck capacity's contract/ of an earlier run); without, they stay
    (the main job's Locust part keeps the contract results the job just wrote)."""
    if check(run_dir, overwrite):
        for old in run_dir.iterdir():
            if old.is_file() or old.is_symlink():
                old.unlink()
            elif folders or not any(old.rglob("*")):
                shutil.rmtree(old)


def check(run_dir: Path, overwrite: bool) -> bool:
    """Refuse a run directory that cannot be this run's, touching nothing; True when it holds
    an earlier run that --overwrite will empty."""
    for folder in (run_dir, *run_dir.parents):
        if folder.exists() and not folder.is_dir():
            raise RunDirRefused(f"--run-dir {run_dir}: {folder} is a file, not a directory")
    try:
        used = run_dir.is_dir() and any(run_dir.iterdir())
    except OSError as error:
        raise RunDirRefused(f"--run-dir {run_dir}: {error.strerror}") from None
    if used and not overwrite and not never_ran(run_dir):
        raise RunDirRefused(f"--run-dir {run_dir} is not empty: give another or --overwrite")
    return used


def never_ran(run_dir: Path) -> bool:
    """Whether a run directory holds only a run that could not start (its report says why): the
    corrected rerun takes it over without --overwrite, as nothing of a run would be lost."""
    try:
        ended = json.loads((run_dir / "summary.json").read_text()).get("ended") or {}
    except (OSError, ValueError, AttributeError):
        return False
    return ended.get("how") == NOT_RUN and not (run_dir / "timeline.jsonl").exists()


def entries(run_dir: Path) -> set[str] | None:
    """The names in a run directory (None: there is none yet), so that a run that could not
    start can take back what it wrote and nothing else."""
    try:
        return {entry.name for entry in run_dir.iterdir()}
    except OSError:
        return None


def take_back(run_dir: Path, kept: set[str] | None) -> None:
    """Remove what a run wrote in `run_dir`: the directory itself if it made it, else the
    entries not in `kept` (a job's contract results, written before, stay)."""
    if kept is None:
        shutil.rmtree(run_dir, ignore_errors=True)
        return
    for entry in run_dir.iterdir() if run_dir.is_dir() else ():
        if entry.name not in kept:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def make(run_dir: Path) -> None:
    """Create the run directory (and its parents), or say in one line why it cannot be."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".writable"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise RunDirRefused(f"cannot write --run-dir {run_dir}: {error.strerror}") from None
