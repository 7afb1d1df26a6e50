"""The capacity run's chart: each step's offered and achieved rate and its p99, the good steps
apart from the broken ones, and the answer's bracket."""

from __future__ import annotations

from typing import Any

import numpy as np
from bokeh.models import (
    BoxAnnotation,
    ColumnDataSource,
    HoverTool,
    Label,
    LinearAxis,
    Range1d,
    Span,
)
from bokeh.plotting import figure

from tagocheck.report import chart_style as style
from tagocheck.report.rundata import RunData


def capacity_steps(run: RunData):
    """Every step (a search's in the order of their load, not of their time): achieved against
    offered, p99 on the right, each point held or broke, and the capacity's bracket shaded."""
    capacity = run.capacity
    steps = sorted(capacity.get("steps") or [], key=lambda s: (s["offered"], s["index"]))
    if not steps:
        return None
    answer = capacity.get("answer") or {}
    broke_at = {s["index"] for s in steps if _broke(s, answer, capacity)}
    source = ColumnDataSource(
        {
            "offered": [s["offered"] for s in steps],
            "achieved": [s["achieved"] for s in steps],
            "p99": [
                np.nan if s.get("p99_ms") is None else max(style.FLOOR_MS, s["p99_ms"])
                for s in steps
            ],
            "errors": [100 * s.get("error_share", 0.0) for s in steps],
            "devices": [s["devices"] for s in steps],
            "step": [s["index"] for s in steps],
            "judged": ["broke" if s["index"] in broke_at else "held" for s in steps],
            "colour": [
                style.COLOURS["server_error" if s["index"] in broke_at else "accepted"]
                for s in steps
            ],
        }
    )
    top = max(max(source.data["offered"]), max(source.data["achieved"])) * 1.1 or 1
    chart = figure(
        title="Capacity steps: achieved against offered rate, and p99",
        width=style.WIDTH,
        height=style.HEIGHT,
        tools=style.TOOLS,
        sizing_mode="stretch_width",
        x_range=Range1d(0, top),
        y_range=Range1d(0, top),
    )
    held, broken = answer.get("held"), answer.get("broke")
    if held and broken:
        chart.add_layout(
            BoxAnnotation(
                left=held["offered"], right=broken["offered"], fill_alpha=0.15, fill_color="gold"
            )
        )
        chart.add_layout(Label(x=held["offered"], y=top * 0.9, text=" capacity bracket"))
    chart.line(
        [0, top],
        [0, top],
        color=style.COLOURS["offered"],
        line_dash="dashed",
        legend_label="achieved = offered",
    )
    chart.line(
        "offered",
        "achieved",
        source=source,
        color=style.COLOURS["achieved"],
        line_width=2,
        legend_label="achieved",
    )
    chart.scatter(
        "offered", "achieved", source=source, color="colour", size=9, legend_field="judged"
    )
    measured = [p for p in source.data["p99"] if not np.isnan(p)]
    chart.extra_y_ranges = {"p99": Range1d(0, max(measured, default=1) * 1.2 or 1)}
    chart.add_layout(LinearAxis(y_range_name="p99", axis_label="p99 ms"), "right")
    chart.line(
        "offered",
        "p99",
        source=source,
        y_range_name="p99",
        color=style.COLOURS["p99"],
        line_dash="dotdash",
        legend_label="p99 (right axis)",
    )
    knee = capacity.get("knee")
    if knee and capacity.get("mode") != "search":
        chart.add_layout(
            Span(location=knee["offered"], dimension="height", line_color="black", line_width=2)
        )
        chart.add_layout(
            Label(x=knee["offered"], y=top * 0.05, text=f" knee (step {knee['step']})")
        )
    chart.xaxis.axis_label = "offered reports/s"
    chart.yaxis[0].axis_label = "achieved reports/s"
    chart.add_tools(
        HoverTool(
            tooltips=[
                ("step", "@step (@judged)"),
                ("devices", "@devices{0,0}"),
                ("offered", "@offered{0,0.0}"),
                ("achieved", "@achieved{0,0.0}"),
                ("p99", "@p99{0.0} ms"),
                ("reports failed", "@errors{0.00} %"),
            ]
        )
    )
    style.legend_outside(chart)
    return chart


def _broke(step: dict[str, Any], answer: dict[str, Any], capacity: dict[str, Any]) -> bool:
    """Whether a step broke: at or above the bracket's broken end, or (a ramp) at the knee."""
    broken = answer.get("broke")
    if broken:
        return step["devices"] >= broken["devices"]
    knee = capacity.get("knee")
    return bool(knee) and step["index"] >= knee["step"]
