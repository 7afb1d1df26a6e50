"""A run directory holds one run: a used one is refused, or emptied when asked to."""

from __future__ import annotations

import shutil
from pathlib import Path


class RunDirRefused(ValueError):
    """The run directory cannot be this run's; the message is one line for the user."""


def empty_or_new(run_dir: Path, overwrite: bool, *, folders: bool = False) -> None:
    """A run directory holds one run: a used one is refused unless --overwrite says to empty it
    (its files would be overwritten and events.jsonl appended to, mixing runs). `folders`: its
    sub-folders go too (tagocheck capacity's contract/ of an earlier run); without, they stay
    (the main job's Locust part keeps the contract results the job just wrote)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirRefused(f"--run-dir {run_dir} is a file, not a directory")
    used = run_dir.is_dir() and any(run_dir.iterdir())
    if used and not overwrite:
        raise RunDirRefused(f"--run-dir {run_dir} is not empty: give another or --overwrite")
    if used:
        for old in run_dir.iterdir():
            if old.is_file() or old.is_symlink():
                old.unlink()
            elif folders or not any(old.rglob("*")):
                shutil.rmtree(old)
