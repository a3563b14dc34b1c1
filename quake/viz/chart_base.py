"""What every plotly chart shares: axes, layout, legend positions, reference lines.

Charts are built from plain dicts (`axis_spec`, `layout_spec`) and validated once
(`build_figure`); ``presentation=True`` enlarges fonts, lines and markers for a
projector. The charts themselves: `quake.viz.catalog_charts`, `quake.viz.curve_charts`.
"""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from quake.viz.style import FONT, OKABE_ITO, font_size

Point = tuple[float, float]
Spec = dict[str, Any]


def axis_spec(title: str, size: int, **kw: Any) -> Spec:
    """A white-look axis titled ``title`` in font ``size``; ``kw`` adds or overrides keys."""
    return {
        "title": {"text": title, "font": {"size": size}},
        "gridcolor": "#E6E6E6",
        "linecolor": "#999",
        "zeroline": False,
        "ticks": "outside",
        "tickcolor": "#999",
        "automargin": True,
        **kw,
    }


LEGEND_AT: dict[str, Spec] = {
    "top right": {"x": 0.99, "y": 0.99, "xanchor": "right", "yanchor": "top"},
    "bottom right": {"x": 0.99, "y": 0.01, "xanchor": "right", "yanchor": "bottom"},
    "bottom left": {"x": 0.01, "y": 0.01, "xanchor": "left", "yanchor": "bottom"},
    "top left": {"x": 0.01, "y": 0.99, "xanchor": "left", "yanchor": "top"},
    # at the bottom of the figure, under the x-axis title, in room added for it (legend_rows)
    "below": {
        "orientation": "h",
        "x": 0.0,
        "y": 0.0,
        "xanchor": "left",
        "yanchor": "bottom",
        "yref": "container",
    },
}
"""Legend positions: inside the plot area where the curves are not, or below the figure."""


def layout_spec(
    title: str | None,
    presentation: bool,
    height: int,
    xaxis: Spec,
    yaxis: Spec,
    legend: str = "top right",
    legend_rows: int = 2,
    **kw: Any,
) -> Spec:
    """``legend_rows``: room made under the plot for a legend "below" (one entry a row in a
    narrow column; the figure grows by it, the plot area keeps its size)."""
    size = font_size(presentation)
    # the x-axis ticks and title (~3 font sizes), then the legend's rows
    below = (3 * size + legend_rows * (size + 9) + 10) if legend == "below" else 0
    return {
        # No named template: assigning one deep-copies it (~0.1 s a figure), which would
        # make the threshold slider sluggish; the axes carry the white look instead.
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
        "font": {"family": FONT, "size": size, "color": "#222"},
        "title": {
            "text": title,
            "font": {"size": size + 4},
            "x": 0.01,
            "xanchor": "left",
            "y": 0.98,
            "yanchor": "top",
            "yref": "container",
        }
        if title
        else None,
        # Margins at least as wide as plotly's automatic ones turn out in the dashboard
        # (Streamlit's font, size 14: l 77-79 px for a 0-1 axis, 80-90 for a log axis, r 14,
        # b 71 or the legend's room + 33): plotly then lays the chart out once, not twice
        # (docs/BROWSER.md, stop 21). Automatic margins stay on: a wider need (long
        # category labels, say) only brings the second pass back.
        "margin": {
            "l": round((6.6 if yaxis.get("type") == "log" else 5.8) * size),
            "r": size + 2,
            "t": (2 * size + 30) if title else 20,
            "b": max(below + 3 * size, round(5.3 * size)),
        },
        "height": int(height * (1.25 if presentation else 1.0)) + below,
        "legend": {
            **LEGEND_AT[legend],
            "bgcolor": "rgba(255,255,255,0.85)",
            "bordercolor": "#DDD",
            "borderwidth": 1,
            "font": {"size": size - 1},
        },
        "hoverlabel": {"font": {"size": size}},
        "colorway": list(OKABE_ITO),
        "xaxis": xaxis,
        "yaxis": yaxis,
        **kw,
    }


def build_figure(traces: list[Spec], layout: Spec) -> go.Figure:
    """One validated Figure built from plain dicts (far cheaper than incremental updates)."""
    return go.Figure({"data": traces, "layout": layout})


def style_figure(
    fig: go.Figure, title: str | None = None, presentation: bool = False, height: int = 380
) -> go.Figure:
    """Give any figure the project's look (fonts, white axes, legend on top)."""
    size = font_size(presentation)
    lay = layout_spec(title, presentation, height, axis_spec("", size), axis_spec("", size))
    for key in ("xaxis", "yaxis"):
        lay[key].pop("title")
    fig.update_layout(lay)
    return fig


def vline(x: float, color: str, dash: str, text: str, right: bool) -> tuple[Spec, Spec]:
    """A vertical line at ``x`` and its label (on its right or left): ``(shape, annotation)``."""
    shape = {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": {"color": color, "dash": dash, "width": 1.5},
    }
    note = {
        "x": x,
        "xref": "x",
        "y": 1,
        "yref": "paper",
        "text": text,
        "showarrow": False,
        "xanchor": "left" if right else "right",
        "yanchor": "top",
        "font": {"color": color},
    }
    return shape, note


def hline(y: float, text: str, log: bool = False) -> tuple[Spec, Spec]:
    """A grey dotted horizontal line at ``y`` and its label: ``(shape, annotation)``.

    ``log``: the y axis is logarithmic, where plotly places an annotation at the log10 of
    its ``y`` (a shape at ``y`` itself)."""
    shape = {
        "type": "line",
        "xref": "paper",
        "yref": "y",
        "x0": 0,
        "x1": 1,
        "y0": y,
        "y1": y,
        "line": {"color": "#AAA", "dash": "dot", "width": 1.5},
    }
    note = {
        "x": 0,
        "xref": "paper",
        "y": math.log10(y) if log else y,
        "yref": "y",
        "text": text,
        "showarrow": False,
        "xanchor": "left",
        "yanchor": "bottom",
        "font": {"color": "#777"},
    }
    return shape, note


def log_ticks(lo: int, hi: int) -> Spec:
    """Tick at each power of ten from 10^lo to 10^hi, labelled 1e-5, 1e-4, 0.001, 0.01, 0.1, 1."""
    ks = range(lo, hi + 1)
    vals = [10.0**k for k in ks]
    text = [f"{v:g}" if v >= 1e-3 else f"1e{k}" for v, k in zip(vals, ks, strict=True)]
    return {"tickvals": vals, "ticktext": text}


def line_width(presentation: bool) -> float:
    """Width of a curve in pixels."""
    return 3.5 if presentation else 2.2
