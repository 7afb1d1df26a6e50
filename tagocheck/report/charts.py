"""The report's plots, drawn with Bokeh: interactive (zoom, pan, hover) and embedded with the
report, so they need no network.

Each function returns a figure, or None when the run has nothing to plot there.
"""

from __future__ import annotations

from typing import Any

from bokeh.models import (
    BoxAnnotation,
    ColumnDataSource,
    DataRange1d,
    HoverTool,
    Label,
    LinearAxis,
    Range1d,
    Span,
)
from bokeh.plotting import figure

from tagocheck.fleet.timeline import OUTCOME_FIELDS
from tagocheck.report.capacity_chart import capacity_steps
from tagocheck.report.chart_style import (
    COLOURS,
    FLOOR_MS,
    HEIGHT,
    TOOLS,
    WIDTH,
    legend_outside,
    log_ms,
    time_figure,
    timeline_source,
)
from tagocheck.report.rundata import RunData


def rates(run: RunData):
    if not run.samples:
        return None
    source = timeline_source(run.samples)
    chart = time_figure(
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
    legend_outside(chart)
    return chart


def latency_over_time(run: RunData):
    if not run.samples:
        return None
    source = timeline_source(run.samples)
    chart = time_figure(
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
    log_ms(chart.yaxis[0])
    legend_outside(chart)
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
    log_ms(chart.yaxis[0])
    legend_outside(chart)
    return chart


def outcomes_over_time(run: RunData):
    if not run.samples:
        return None
    source = timeline_source(run.samples)
    present = [f for f in OUTCOME_FIELDS.values() if source.data[f].sum() > 0] or ["accepted"]
    chart = time_figure("Outcome of every answer, per second", "answers/s")
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
    legend_outside(chart)
    return chart


def _left_and_right(
    run: RunData,
    title: str,
    left: tuple[str, str, str],
    right: tuple[str, str, str],
    **figure_args: Any,
):
    """A time chart of two series on their own axes: (field, label, colour) each."""
    source = timeline_source(run.samples)
    field, label, colour = left
    chart = time_figure(title, label, **figure_args)
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
    legend_outside(chart)
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
    legend_outside(chart)
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
    legend_outside(chart)
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
