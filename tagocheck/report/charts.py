"""The report's plots, drawn with Bokeh: interactive (zoom, pan, hover) and embedded with the
report, so they need no network.

Each function returns a figure, or None when the run has nothing to plot there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from bokeh.models import (
    BoxAnnotation,
    ColumnDataSource,
    DataRange1d,
    FixedTicker,
    HoverTool,
    Label,
    LinearAxis,
    Range1d,
    Span,
)
from bokeh.plotting import figure

from tagocheck.fleet.timeline import OUTCOME_FIELDS, Sample
from tagocheck.report.rundata import RunData

TOOLS = "pan,wheel_zoom,box_zoom,reset,save"
WIDTH, HEIGHT = 900, 300
COLOURS = {
    "offered": "#7f7f7f",
    "achieved": "#1f77b4",
    "p50": "#2ca02c",
    "p95": "#ff7f0e",
    "p99": "#d62728",
    "p999": "#9467bd",
    "lateness": "#8c564b",
    "accepted": "#2ca02c",
    "rate_limited": "#ff7f0e",
    "rejected": "#bcbd22",
    "server_error": "#d62728",
    "transport_error": "#9467bd",
    "not_envelope": "#17becf",
}
FLOOR_MS = 0.01  # log axes cannot show 0
# Ticks of a log axis in ms: 1, 2 and 5 of each decade, so a run answered in 3 ms has labels
# below 10 ms, and no decade gets a dense block of minor ticks.
MS_TICKS = [m * 10.0**e for e in range(-2, 7) for m in (1, 2, 5)]


def _log_ms(axis: Any) -> None:
    axis.ticker = FixedTicker(ticks=MS_TICKS, minor_ticks=[])
    axis.formatter.min_exponent = 7  # 0.01 ... 1000000 written out, not as 10^-2


def _legend_outside(chart: Any) -> None:
    """The legend beside the plot, where it hides no data; a click hides a series."""
    if not chart.legend:
        return
    legend = chart.legend[0]
    legend.click_policy = "hide"
    chart.add_layout(legend, "right")


def _time_figure(title: str, y_label: str, **kwargs: Any):
    chart = figure(
        title=title,
        x_axis_type="datetime",
        width=WIDTH,
        height=HEIGHT,
        tools=TOOLS,
        sizing_mode="stretch_width",
        **kwargs,
    )
    chart.yaxis.axis_label = y_label
    return chart


def _timeline_source(samples: list[Sample]) -> ColumnDataSource:
    columns: dict[str, Any] = {"time": np.array([s.t * 1000 for s in samples])}
    for name in Sample.__dataclass_fields__:
        if name != "t":
            columns[name] = np.array([getattr(s, name) for s in samples], dtype=float)
    # A second in which nothing was answered has no latency, and one in which nothing was sent
    # or awaited (devices offline) no lateness either: a gap in the lines, not a floor
    silent = columns["responses"] == 0
    idle = silent & (columns["in_flight_peak"] == 0)
    for name in list(columns):
        if name.endswith("_ms"):
            columns[name] = np.maximum(columns[name], FLOOR_MS)
            if name.startswith(("corrected_", "service_")):
                columns[name][silent] = np.nan
            elif name.startswith("lateness_"):
                columns[name][idle] = np.nan
    return ColumnDataSource(columns)


def rates(run: RunData):
    if not run.samples:
        return None
    source = _timeline_source(run.samples)
    chart = _time_figure(
        "Offered, answered and failed reports per second",
        "reports/s",
        y_range=DataRange1d(start=0),
    )
    chart.line(
        "time",
        "offered",
        source=source,
        color=COLOURS["offered"],
        line_dash="dashed",
        line_width=2,
        legend_label="offered (due)",
    )
    chart.line(
        "time",
        "achieved",
        source=source,
        color=COLOURS["achieved"],
        line_width=2,
        legend_label="achieved (answered: accepted, conforming)",
    )
    chart.line(
        "time",
        "errors",
        source=source,
        color=COLOURS["server_error"],
        line_width=2,
        legend_label="failed (any other outcome)",
    )
    chart.add_tools(
        HoverTool(
            tooltips=[
                ("offered", "@offered{0,0.0}"),
                ("achieved", "@achieved{0,0.0}"),
                ("failed", "@errors{0,0}"),
            ],
            formatters={"@time": "datetime"},
            mode="vline",
        )
    )
    _legend_outside(chart)
    return chart


def latency_over_time(run: RunData):
    if not run.samples:
        return None
    source = _timeline_source(run.samples)
    chart = _time_figure(
        "Latency percentiles per second (corrected: solid; service time: dashed)",
        "ms (log)",
        y_axis_type="log",
    )
    for p in ("p50", "p95", "p99", "p999"):
        label = "p99.9" if p == "p999" else p
        chart.line(
            "time",
            f"corrected_{p}_ms",
            source=source,
            color=COLOURS[p],
            line_width=2,
            legend_label=f"corrected {label}",
        )
        chart.line(
            "time",
            f"service_{p}_ms",
            source=source,
            color=COLOURS[p],
            line_dash="dashed",
            legend_label=f"service {label}",
        )
    chart.line(
        "time",
        "lateness_p99_ms",
        source=source,
        color=COLOURS["lateness"],
        line_dash="dotted",
        line_width=2,
        legend_label="schedule lateness p99",
    )
    chart.add_tools(
        HoverTool(
            tooltips=[
                ("corrected p99", "@corrected_p99_ms{0.0} ms"),
                ("service p99", "@service_p99_ms{0.0} ms"),
                ("lateness p99", "@lateness_p99_ms{0.0} ms"),
            ],
            mode="vline",
        )
    )
    _log_ms(chart.yaxis[0])
    _legend_outside(chart)
    return chart


# Percentiles for the HDR plot: 0, 90, 99, 99.9 ... spaced evenly on 1/(1 - p).
HDR_PERCENTILES = sorted({round(100 * (1 - 10 ** (-k / 20)), 6) for k in range(0, 121)} | {50.0})


def latency_distribution(run: RunData):
    if not run.histograms:
        return None
    chart = figure(
        title="Latency distribution over the whole run (HDR, exact percentiles)",
        x_axis_type="log",
        y_axis_type="log",
        width=WIDTH,
        height=HEIGHT,
        tools=TOOLS,
        sizing_mode="stretch_width",
    )
    names = {
        "corrected": "corrected (from the due time)",
        "service": "service time",
        "lateness": "schedule lateness",
    }
    colours = {
        "corrected": COLOURS["p99"],
        "service": COLOURS["achieved"],
        "lateness": COLOURS["lateness"],
    }
    for name, histogram in run.histograms.items():
        if not histogram.get_total_count():
            continue
        values = histogram.get_percentile_to_value_dict(HDR_PERCENTILES)
        xs = [1 / (1 - p / 100) if p < 100 else 1e7 for p in values]
        ys = [max(FLOOR_MS, v / 1000) for v in values.values()]
        source = ColumnDataSource({"x": xs, "ms": ys, "percentile": list(values)})
        chart.line(
            "x",
            "ms",
            source=source,
            color=colours.get(name, "black"),
            line_width=2,
            legend_label=names.get(name, name),
        )
    chart.xaxis.ticker = [1, 2, 10, 100, 1000, 10000, 100000]
    chart.xaxis.major_label_overrides = {
        1: "0%",
        2: "50%",
        10: "90%",
        100: "99%",
        1000: "99.9%",
        10000: "99.99%",
        100000: "99.999%",
    }
    chart.xaxis.axis_label = "percentile"
    chart.yaxis.axis_label = "ms (log)"
    chart.add_tools(
        HoverTool(tooltips=[("percentile", "@percentile{0.0000}"), ("latency", "@ms{0.000} ms")])
    )
    if not chart.renderers:
        return None
    _log_ms(chart.yaxis[0])
    _legend_outside(chart)
    return chart


def outcomes_over_time(run: RunData):
    if not run.samples:
        return None
    source = _timeline_source(run.samples)
    present = [f for f in OUTCOME_FIELDS.values() if source.data[f].sum() > 0] or ["accepted"]
    chart = _time_figure("Outcome of every answer, per second", "answers/s")
    chart.varea_stack(
        present,
        x="time",
        source=source,
        color=[COLOURS[f] for f in present],
        legend_label=[f.replace("_", " ") for f in present],
    )
    chart.add_tools(
        HoverTool(tooltips=[(f.replace("_", " "), f"@{f}") for f in present], mode="vline")
    )
    _legend_outside(chart)
    return chart


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
                np.nan if s.get("p99_ms") is None else max(FLOOR_MS, s["p99_ms"]) for s in steps
            ],
            "errors": [100 * s.get("error_share", 0.0) for s in steps],
            "devices": [s["devices"] for s in steps],
            "step": [s["index"] for s in steps],
            "judged": ["broke" if s["index"] in broke_at else "held" for s in steps],
            "colour": [
                COLOURS["server_error"] if s["index"] in broke_at else COLOURS["accepted"]
                for s in steps
            ],
        }
    )
    top = max(max(source.data["offered"]), max(source.data["achieved"])) * 1.1 or 1
    chart = figure(
        title="Capacity steps: achieved against offered rate, and p99",
        width=WIDTH,
        height=HEIGHT,
        tools=TOOLS,
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
        color=COLOURS["offered"],
        line_dash="dashed",
        legend_label="achieved = offered",
    )
    chart.line(
        "offered",
        "achieved",
        source=source,
        color=COLOURS["achieved"],
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
        color=COLOURS["p99"],
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
    _legend_outside(chart)
    return chart


def _broke(step: dict[str, Any], answer: dict[str, Any], capacity: dict[str, Any]) -> bool:
    """Whether a step broke: at or above the bracket's broken end, or (a ramp) at the knee."""
    broken = answer.get("broke")
    if broken:
        return step["devices"] >= broken["devices"]
    knee = capacity.get("knee")
    return bool(knee) and step["index"] >= knee["step"]


def _left_and_right(
    run: RunData,
    title: str,
    left: tuple[str, str, str],
    right: tuple[str, str, str],
    **figure_args: Any,
):
    """A time chart of two series on their own axes: (field, label, colour) each."""
    source = _timeline_source(run.samples)
    field, label, colour = left
    chart = _time_figure(title, label, **figure_args)
    chart.line("time", field, source=source, color=colour, line_width=2, legend_label=label)
    field, label, colour = right
    top = max(1.0, float(source.data[field].max())) * 1.2
    chart.extra_y_ranges = {"right": Range1d(0, top)}
    chart.add_layout(LinearAxis(y_range_name="right", axis_label=label), "right")
    chart.line(
        "time",
        field,
        source=source,
        y_range_name="right",
        color=colour,
        line_width=2,
        line_dash="dashed",
        legend_label=f"{label} (right axis)",
    )
    chart.add_tools(
        HoverTool(
            tooltips=[(left[1], f"@{left[0]}{{0,0}}"), (label, f"@{field}{{0,0}}")], mode="vline"
        )
    )
    return chart


def fleet_over_time(run: RunData):
    if not run.samples:
        return None
    chart = _left_and_right(
        run,
        "Devices reporting and connections (Locust users)",
        ("devices", "devices", COLOURS["achieved"]),
        ("users", "connections", COLOURS["p95"]),
    )
    _legend_outside(chart)
    return chart


def generator_load(run: RunData):
    if not run.samples:
        return None
    chart = _left_and_right(
        run,
        "Load generator: CPU of its busiest process, and memory",
        ("cpu", "CPU %", COLOURS["p99"]),
        ("rss_mb", "memory MB", COLOURS["achieved"]),
        y_range=Range1d(0, 110),
    )
    # CPU used plus CPU waited for (held by other processes) near 100 %: the generator was short
    # of CPU even if its own use looks low
    chart.line(
        "time",
        "cpu_wait",
        source=chart.renderers[0].data_source,
        color=COLOURS["lateness"],
        line_width=2,
        line_dash="dotted",
        legend_label="waiting for a CPU %",
    )
    chart.add_layout(
        Span(location=90, dimension="width", line_color=COLOURS["p99"], line_dash="dotted")
    )
    chart.add_layout(
        Label(
            x=5,
            y=91,
            x_units="screen",
            text="90 %: running or waiting this much, the generator is the limit",
            text_font_size="11px",
            text_color=COLOURS["p99"],
        )
    )
    _legend_outside(chart)
    return chart


def devices_in_trouble(run: RunData):
    """Attempts beside first attempts (what retries add), and readings waiting in buffers, with
    each outage shaded: only for runs whose devices retry or go offline."""
    summary = run.summary
    retried = (summary.get("retries") or {}).get("policy") not in (None, "none")
    outages = (summary.get("outages") or {}).get("outages") or []
    if not run.samples or not (retried or outages):
        return None
    chart = _left_and_right(
        run,
        "Attempts per second (first attempts and retries), and readings waiting in buffers",
        ("responses", "attempts/s", COLOURS["achieved"]),
        ("backlog", "readings waiting", COLOURS["p95"]),
        y_range=DataRange1d(start=0),
    )
    source = chart.renderers[0].data_source
    source.data["first_attempts"] = source.data["responses"] - source.data["retries"]
    chart.line(
        "time",
        "first_attempts",
        source=source,
        color=COLOURS["offered"],
        line_width=2,
        line_dash="dotdash",
        legend_label="first attempts/s",
    )
    for outage in outages:
        chart.add_layout(
            BoxAnnotation(
                left=outage["started_at"] * 1000,
                right=outage["ended_at"] * 1000,
                fill_color=COLOURS["server_error"],
                fill_alpha=0.08,
            )
        )
    _legend_outside(chart)
    return chart


CHARTS = {
    "rates": rates,
    "latency": latency_over_time,
    "distribution": latency_distribution,
    "outcomes": outcomes_over_time,
    "capacity": capacity_steps,
    "fleet": fleet_over_time,
    "generator": generator_load,
    "trouble": devices_in_trouble,
}


def draw(run: RunData) -> dict[str, Any]:
    """Every chart the run has data for, by name."""
    drawn = {name: make(run) for name, make in CHARTS.items()}
    return {name: chart for name, chart in drawn.items() if chart is not None}
