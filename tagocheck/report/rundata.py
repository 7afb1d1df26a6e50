"""What a load run wrote into its run directory, read back for the report.

A run that was killed may have written only part of it (no summary.json, a timeline cut off
mid-line): the report is still built from what is there, and says what is missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from tagocheck.fleet import observe
from tagocheck.fleet.timeline import Sample, ramped_up


class RunDirError(ValueError):
    """A directory that is not a run directory at all."""


@dataclass
class RunData:
    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    steps: dict[str, Any] = field(default_factory=dict)
    histograms: dict[str, HdrHistogram] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def scenario(self) -> str:
        return self.config.get("scenario") or self.summary.get("scenario") or "fleet"

    @property
    def capacity(self) -> dict[str, Any]:
        """The capacity steps and knee: from the summary, or from steps.json when a killed run
        wrote no summary."""
        return self.summary.get("capacity") or self.steps or {}

    def steady(self) -> list[Sample]:
        """The samples after the first seconds of ramp-up."""
        return ramped_up(self.samples)


def load(path: Path) -> RunData:
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"{path} is not a directory")
    if not any(
        (path / name).exists() for name in ("config.json", "summary.json", "timeline.jsonl")
    ):
        raise RunDirError(
            f"{path} is not a run directory (no config.json, summary.json or timeline)"
        )
    run = RunData(path)
    run.config = _json(run, "config.json")
    run.summary = _json(run, "summary.json")
    run.steps = _json(run, "steps.json", required=False)
    run.samples = [Sample.from_dict(row) for row in _lines(run, "timeline.jsonl")]
    run.events = _lines(run, "events.jsonl", required=False)
    for name, encoded in _json(run, "histograms.json").items():
        histogram = observe.histogram()  # as the run recorded it
        try:
            histogram.decode_and_add(encoded)
        except Exception:  # a torn write: hdrh raises several kinds
            run.missing.append(f"histograms.json ({name} unreadable)")
            continue
        run.histograms[name] = histogram
    return run


def _json(run: RunData, name: str, *, required: bool = True) -> dict[str, Any]:
    file = run.path / name
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        if required:
            run.missing.append(name)
        return {}
    except ValueError:
        run.missing.append(f"{name} (not JSON: cut off?)")
        return {}
    return data if isinstance(data, dict) else {}


def _lines(run: RunData, name: str, *, required: bool = True) -> list[dict[str, Any]]:
    """JSON lines; a last line cut off by a killed run is left out."""
    file = run.path / name
    if not file.exists():
        if required:
            run.missing.append(name)
        return []
    rows = []
    for line in file.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows
