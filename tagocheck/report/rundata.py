"""What a load run wrote into its run directory, read back for the report.

A run that was killed may have written only part of it (no summary.json, a timeline cut off
mid-line or short of the seconds the summary counted): the report is still built from what is
there, and the verdict names what is missing or cut. A file whose content has the wrong shape
(a string where a count belongs) is not a run's at all: one line, RunDirError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from hdrh.histogram import HdrHistogram

from tagocheck import words
from tagocheck.fleet import observe
from tagocheck.fleet.timeline import Sample, ramped_up


class RunDirError(ValueError):
    """A directory that is not a run directory at all, or a run file of the wrong shape."""


NUMBER = {"type": "number"}
COUNT = {"type": "integer", "minimum": 0}
COUNTS = {"type": "object", "additionalProperties": COUNT}
OBJECT = {"type": "object"}
ROWS = {"type": "array", "items": OBJECT}
SHAPES: dict[str, dict[str, Any]] = {
    "summary.json": {
        "type": "object",
        "properties": {
            "reports": COUNT,
            "answered": COUNT,
            "failed": COUNT,
            "nonconforming": COUNT,
            "timeline_seconds": COUNT,
            "latency_ms": {
                "type": "object",
                "additionalProperties": {"type": "object", "additionalProperties": NUMBER},
            },
            "outcomes": {"type": "object", "additionalProperties": COUNTS},
            "rejection_reasons": COUNTS,
            "violations": COUNTS,
            "violations_by_route": {"type": "object", "additionalProperties": COUNTS},
            "violation_examples": {"type": "object", "additionalProperties": ROWS},
            "departures": COUNTS,
            "integrity": OBJECT,
            "rate_limit_findings": ROWS,
            "rate_limit_enforcement": ROWS,
            "limit": OBJECT,
            "generator_errors": {
                "type": "object",
                "properties": {"count": COUNT, "commonest": ROWS},
                "required": ["count"],
            },
            "drift": OBJECT,
            "capacity": {"type": "object", "properties": {"steps": ROWS}},
            "thresholds": {
                "type": "object",
                "properties": {"checked": OBJECT, "broken": {"type": "array"}},
            },
            "ended": {
                "type": "object",
                "properties": {"how": {"type": "string"}, "why": {"type": "string"}},
            },
        },
    },
    "config.json": {
        "type": "object",
        "properties": {
            "scenario": {"type": "string"},
            "host": {"type": "string"},
            "plan": {"type": "string"},
            "devices": COUNT,
            "offered_reports_per_second": NUMBER,
            "started": NUMBER,
            "options": OBJECT,
            "versions": OBJECT,
        },
    },
    "steps.json": {"type": "object", "properties": {"steps": ROWS}},
}
SAMPLE_FIELDS = {name: NUMBER for name in Sample.__dataclass_fields__}


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
    """What is missing or cut: the verdict says so, and cannot vouch for the rest."""

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
    run.samples = _samples(run)
    run.events = _lines(run, "events.jsonl", required=False)
    for name, encoded in _json(run, "histograms.json", required=bool(run.samples)).items():
        histogram = observe.histogram()  # as the run recorded it
        try:
            histogram.decode_and_add(encoded)
        except Exception:  # a torn write: hdrh raises several kinds
            run.missing.append(f"histograms.json ({name} unreadable)")
            continue
        run.histograms[name] = histogram
    counted = run.summary.get("timeline_seconds")
    if isinstance(counted, int) and len(run.samples) < counted:
        run.missing.append(
            f"timeline.jsonl cut short ({len(run.samples)} of {words.counted(counted, 'second')})"
        )
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
    if not isinstance(data, dict):
        raise RunDirError(f"{file}: not a JSON object")
    _check(file, data, SHAPES.get(name))
    return data


def _check(file: Path, data: Any, shape: dict[str, Any] | None) -> None:
    if shape is None:
        return
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(shape).iter_errors(data)
    )
    if error is not None:
        where = "/" + "/".join(str(p) for p in error.absolute_path)
        raise RunDirError(f"{file}: {where}: {error.message}")


def _samples(run: RunData) -> list[Sample]:
    file = run.path / "timeline.jsonl"
    rows = _lines(run, "timeline.jsonl", required=bool(run.summary.get("reports")))
    shape = {"type": "object", "properties": SAMPLE_FIELDS, "required": ["t"]}
    for row in rows:
        _check(file, row, shape)
    return [Sample.from_dict(row) for row in rows]


def _lines(run: RunData, name: str, *, required: bool = True) -> list[dict[str, Any]]:
    """JSON lines; a line cut off by a killed run is left out, and named."""
    file = run.path / name
    if not file.exists():
        if required:
            run.missing.append(name)
        return []
    rows, cut = [], 0
    for line in file.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            cut += 1
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            cut += 1
    if cut:
        run.missing.append(f"{name} ({cut} line{'s' if cut > 1 else ''} cut off or unreadable)")
    return rows
