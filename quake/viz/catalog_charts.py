"""plotly figures of the catalog: magnitude-frequency (Gutenberg-Richter) and monthly counts.

Each function takes data and returns a `plotly.graph_objects.Figure`; the page decides
where it goes. ``presentation=True`` enlarges fonts, lines and markers for a projector.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from quake.data.completeness import Completeness
from quake.viz.chart_base import Spec, axis_spec, build_figure, layout_spec, line_width, vline
from quake.viz.style import OKABE_ITO, font_size


def fmd_figure(
    centres: np.ndarray,
    counts: np.ndarray,
    cumulative: np.ndarray,
    completeness: Completeness | None = None,
    chosen_mc: float | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Gutenberg-Richter plot: events per 0.1 bin (bars) and at or above M (dots), log counts,
    with the fitted law above Mc and vertical lines at the estimated and the chosen Mc."""
    size = font_size(presentation)
    traces: list[Spec] = [
        {
            "type": "bar",
            "x": centres,
            "y": counts,
            "name": "events per 0.1 bin",
            "marker": {"color": "#9ECAE1"},
            "hovertemplate": "M%{x:.1f}: %{y} events<extra></extra>",
        },
        {
            "type": "scatter",
            "x": centres,
            "y": cumulative,
            "mode": "markers",
            "name": "events ≥ M",
            "marker": {"color": OKABE_ITO[0], "size": 9 if presentation else 6},
            "hovertemplate": "M ≥ %{x:.1f}: %{y} events<extra></extra>",
        },
    ]
    shapes, notes = [], []
    if completeness is not None and math.isfinite(completeness.b_value):
        m = np.linspace(completeness.mc, float(np.max(centres)), 50)
        traces.append(
            {
                "type": "scatter",
                "x": m,
                "y": completeness.expected_count(m),
                "mode": "lines",
                "name": f"G–R fit, b = {completeness.b_value:.2f}",
                "line": {"color": OKABE_ITO[1], "width": line_width(presentation)},
                "hoverinfo": "skip",
            }
        )
        sh, no = vline(
            completeness.mc,
            OKABE_ITO[1],
            "dash",
            f"estimated Mc {completeness.mc:.1f} ",
            right=False,
        )
        shapes.append(sh)
        notes.append(no)
    if chosen_mc is not None and (completeness is None or abs(chosen_mc - completeness.mc) > 1e-6):
        sh, no = vline(
            chosen_mc,
            "#222",
            "dot",
            f" chosen Mc {chosen_mc:.1f}",
            right=completeness is None or chosen_mc > completeness.mc,
        )
        no["y"] = 0.9
        shapes.append(sh)
        notes.append(no)
    layout = layout_spec(
        "Magnitude–frequency (Gutenberg–Richter)",
        presentation,
        430,
        axis_spec("magnitude", size),
        axis_spec(
            "number of events (log scale)",
            size,
            type="log",
            dtick=1,
            range=[math.log10(0.5), math.log10(max(float(np.max(cumulative)), 1.0) * 40)],
        ),
        shapes=shapes,
        annotations=notes,
        bargap=0.05,
        legend="below",
    )
    return build_figure(traces, layout)


def monthly_counts(times: pd.Series, mags: pd.Series, levels: Sequence[float]) -> pd.DataFrame:
    """Events per calendar month at or above each magnitude level: index month, one column
    per level (``"M≥4.5"``). ``times`` are UTC timestamps."""
    month = times.dt.tz_convert(None).dt.to_period("M")
    out = {}
    for lev in levels:
        sel = mags.to_numpy() >= np.float32(lev)
        out[f"M≥{lev:g}"] = month[sel].value_counts()
    return _full_months(pd.DataFrame(out))


def monthly_classes(times: pd.Series, classes: dict[str, np.ndarray]) -> pd.DataFrame:
    """Events per calendar month of each class: index month, one column per class name.

    ``times``: UTC timestamps ``(n,)``; ``classes``: ``{name: bool (n,)}``, e.g.
    ``{"mainshocks": d.mainshock, "clustered": ~d.mainshock}``.
    """
    month = times.dt.tz_convert(None).dt.to_period("M")
    out = {name: month[np.asarray(sel, dtype=bool)].value_counts() for name, sel in classes.items()}
    return _full_months(pd.DataFrame(out, columns=list(classes)))


def _full_months(df: pd.DataFrame) -> pd.DataFrame:
    df = df.fillna(0).astype(int).sort_index()
    if len(df):
        full = pd.period_range(df.index.min(), df.index.max(), freq="M")
        df = df.reindex(full, fill_value=0)
    df.index = df.index.to_timestamp()
    return df


def monthly_figure(
    counts: pd.DataFrame,
    presentation: bool = False,
    title: str = "Events per month",
    colors: Sequence[str] = OKABE_ITO,
) -> go.Figure:
    """Events per month, one line per column of ``counts`` (a magnitude level or a class);
    log y: the 2011 spike stays readable."""
    size = font_size(presentation)
    x = [d.strftime("%Y-%m-%d") for d in counts.index]
    traces = [
        {
            "type": "scatter",
            "x": x,
            "y": counts[col].to_numpy(),
            "mode": "lines",
            "name": col,
            "line": {
                "color": colors[i % len(colors)],
                "width": line_width(presentation) * 0.7,
                "shape": "hv",
            },
            "hovertemplate": "%{x|%b %Y}: %{y} events<extra>" + col + "</extra>",
        }
        for i, col in enumerate(counts.columns)
    ]
    layout = layout_spec(
        title,
        presentation,
        400,
        axis_spec("month (UTC)", size, type="date"),
        axis_spec("events per month (log scale)", size, type="log", dtick=1),
        legend="top left",
    )
    return build_figure(traces, layout)
