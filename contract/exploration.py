"""How the contract suite explores: the seed of its generated inputs and where examples are kept.

Hypothesis keeps the failing examples it finds and replays them first in later runs. Kept in one
folder for every target, a counterexample found against a faulty server was replayed against the
next healthy one and every clone of the suite, and stayed there after the suite was fixed. Here
the folder is the target's: one per target (its URL and plan; the embedded reference target is one
target however its port is drawn) and per suite version (the contract suite's code and schemas/),
under the run's own directory (beside the contract report, or `--contract-examples`).

A run's generated inputs come from one seed. Given (`--contract-seed N`), the run is repeatable:
the same target and seed give the same inputs and the same verdict, and no example is read from
or written to the folder (what the folder holds would change the inputs). Not given, a seed is
drawn and printed, the target's kept examples are replayed first, and new ones are kept.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path
from typing import Any

from hypothesis.database import DirectoryBasedExampleDatabase

import tagocheck

ROOT = Path(__file__).resolve().parents[1]
SEED_LIMIT = 2**32
"""Seeds are 0 .. 2**32-1: short enough to type back."""


def suite_version() -> str:
    """The package version and a digest of what decides the suite's inputs and judgments."""
    digest = hashlib.sha256()
    for folder, pattern in ((ROOT / "contract", "*.py"), (ROOT / "schemas", "**/*.json")):
        for path in sorted(folder.glob(pattern)):
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return f"{tagocheck.__version__}-{digest.hexdigest()[:12]}"


def target_key(url: str | None, plan: str) -> str:
    """A folder name for a target: the embedded reference, or the URL and the plan."""
    where = "embedded" if not url else re.sub(r"[^A-Za-z0-9.-]+", "_", url.rstrip("/"))
    return f"{where}-{plan}"


def examples_folder(root: Path, url: str | None, plan: str) -> Path:
    return root / target_key(url, plan) / suite_version()


def parse_seed(text: str | None) -> int | None:
    """The seed given on the command line; ValueError when it is no seed."""
    if text is None:
        return None
    seed = int(text)
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(text)
    return seed


def draw_seed() -> int:
    return secrets.randbelow(SEED_LIMIT)


def database(folder: Path | None) -> DirectoryBasedExampleDatabase | None:
    return DirectoryBasedExampleDatabase(folder) if folder is not None else None


def seed_test(test: Any, seed: int) -> None:
    """Draw this property's (or state machine's) inputs from `seed`.

    What `hypothesis.seed` sets, without its `database=None`: an unseeded run still replays the
    target's kept examples, and a seeded run turns the database off through its settings profile.
    """
    test._hypothesis_internal_use_seed = seed
