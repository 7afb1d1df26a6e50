"""What every chart of the report shares: its size and tools, the colours of each series, log
axes in ms, the legend beside the plot, and the timeline as Bokeh columns."""

from __future__ import annotations

from typing import Any

import numpy as np
from bokeh.models import (
    ColumnDataSource,
    FixedTicker,
)
from bokeh.plotting import figure

from tagocheck.fleet.timeline import Sample

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


def log_ms(axis: Any) -> None:
    axis.ticker = FixedTicker(ticks=MS_TICKS, minor_ticks=[])
    axis.formatter.min_exponent = 7  # 0.01 ... 1000000 written out, not as 10^-2


def legend_outside(chart: Any) -> None:
    """The legend beside the plot, where it hides no data; a click hides a series."""
    if not chart.legend:
        return
    legend = chart.legend[0]
    legend.click_policy = "hide"
    chart.add_layout(legend, "right")


def time_figure(title: str, y_label: str, **kwargs: Any):
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


def timeline_source(samples: list[Sample]) -> ColumnDataSource:
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
