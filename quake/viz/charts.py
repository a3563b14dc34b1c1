"""plotly figures: catalog statistics, operating curves, training curves.

Each function takes data and returns a `plotly.graph_objects.Figure`; the page decides
where it goes. ``presentation=True`` enlarges fonts, lines and markers for a projector.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from quake.data.completeness import Completeness
from quake.metrics.curves import OperatingCurve
from quake.metrics.scores import molchan
from quake.viz.style import BASELINE_COLOR, FONT, OKABE_ITO, font_size

Point = tuple[float, float]
Spec = dict[str, Any]


def _axis(title: str, size: int, **kw: Any) -> Spec:
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


def _layout(
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
        "margin": {"l": 10, "r": 10, "t": (2 * size + 30) if title else 20, "b": 10 + below},
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


def _figure(traces: list[Spec], layout: Spec) -> go.Figure:
    """One validated Figure built from plain dicts (far cheaper than incremental updates)."""
    return go.Figure({"data": traces, "layout": layout})


def style_figure(
    fig: go.Figure, title: str | None = None, presentation: bool = False, height: int = 380
) -> go.Figure:
    """Give any figure the project's look (fonts, white axes, legend on top)."""
    size = font_size(presentation)
    lay = _layout(title, presentation, height, _axis("", size), _axis("", size))
    for key in ("xaxis", "yaxis"):
        lay[key].pop("title")
    fig.update_layout(lay)
    return fig


def _vline(x: float, color: str, dash: str, text: str, right: bool) -> tuple[Spec, Spec]:
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


def _hline(y: float, text: str) -> tuple[Spec, Spec]:
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
        "y": y,
        "yref": "y",
        "text": text,
        "showarrow": False,
        "xanchor": "left",
        "yanchor": "bottom",
        "font": {"color": "#777"},
    }
    return shape, note


def _log_ticks(lo: int, hi: int) -> Spec:
    """Tick at each power of ten from 10^lo to 10^hi, labelled 1e-5, 1e-4, 0.001, 0.01, 0.1, 1."""
    ks = range(lo, hi + 1)
    vals = [10.0**k for k in ks]
    text = [f"{v:g}" if v >= 1e-3 else f"1e{k}" for v, k in zip(vals, ks, strict=True)]
    return {"tickvals": vals, "ticktext": text}


def _width(presentation: bool) -> float:
    return 3.5 if presentation else 2.2


# -- catalog ------------------------------------------------------------------------------
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
                "line": {"color": OKABE_ITO[1], "width": _width(presentation)},
                "hoverinfo": "skip",
            }
        )
        sh, no = _vline(
            completeness.mc,
            OKABE_ITO[1],
            "dash",
            f"estimated Mc {completeness.mc:.1f} ",
            right=False,
        )
        shapes.append(sh)
        notes.append(no)
    if chosen_mc is not None and (completeness is None or abs(chosen_mc - completeness.mc) > 1e-6):
        sh, no = _vline(
            chosen_mc,
            "#222",
            "dot",
            f" chosen Mc {chosen_mc:.1f}",
            right=completeness is None or chosen_mc > completeness.mc,
        )
        no["y"] = 0.9
        shapes.append(sh)
        notes.append(no)
    layout = _layout(
        "Magnitude–frequency (Gutenberg–Richter)",
        presentation,
        430,
        _axis("magnitude", size),
        _axis(
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
    return _figure(traces, layout)


def monthly_counts(times: pd.Series, mags: pd.Series, levels: Sequence[float]) -> pd.DataFrame:
    """Events per calendar month at or above each magnitude level: index month, one column
    per level (``"M≥4.5"``). ``times`` are UTC timestamps."""
    month = times.dt.tz_convert(None).dt.to_period("M")
    out = {}
    for lev in levels:
        sel = mags.to_numpy() >= np.float32(lev)
        out[f"M≥{lev:g}"] = month[sel].value_counts()
    df = pd.DataFrame(out).fillna(0).astype(int).sort_index()
    if len(df):
        full = pd.period_range(df.index.min(), df.index.max(), freq="M")
        df = df.reindex(full, fill_value=0)
    df.index = df.index.to_timestamp()
    return df


def monthly_figure(counts: pd.DataFrame, presentation: bool = False) -> go.Figure:
    """Events per month, one line per magnitude level (log y: the 2011 spike stays readable)."""
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
                "color": OKABE_ITO[i % len(OKABE_ITO)],
                "width": _width(presentation) * 0.7,
                "shape": "hv",
            },
            "hovertemplate": "%{x|%b %Y}: %{y} events<extra>" + col + "</extra>",
        }
        for i, col in enumerate(counts.columns)
    ]
    layout = _layout(
        "Events per month",
        presentation,
        400,
        _axis("month (UTC)", size, type="date"),
        _axis("events per month (log scale)", size, type="log", dtick=1),
        legend="top left",
    )
    return _figure(traces, layout)


# -- operating curves ---------------------------------------------------------------------
def _curve_traces(
    series: Mapping[str, tuple[np.ndarray, np.ndarray]],
    colors: Mapping[str, str],
    points: Mapping[str, Point] | None,
    presentation: bool,
    hover: str,
) -> list[Spec]:
    out: list[Spec] = []
    for name, (x, y) in series.items():
        out.append(
            {
                "type": "scatter",
                "x": x,
                "y": y,
                "mode": "lines",
                "name": name,
                "legendgroup": name,
                "hovertemplate": hover + f"<extra>{name}</extra>",
                "line": {"color": colors.get(name, BASELINE_COLOR), "width": _width(presentation)},
            }
        )
    for name, (px, py) in (points or {}).items():
        out.append(
            {
                "type": "scatter",
                "x": [px],
                "y": [py],
                "mode": "markers",
                "name": f"{name} at the threshold",
                "legendgroup": name,
                "showlegend": False,
                "hovertemplate": hover + "<extra>at the threshold</extra>",
                "marker": {
                    "color": colors.get(name, BASELINE_COLOR),
                    "size": 18 if presentation else 13,
                    "line": {"color": "white", "width": 2},
                },
            }
        )
    return out


def _dotted(x: Sequence[float], y: Sequence[float], name: str) -> Spec:
    return {
        "type": "scatter",
        "x": list(x),
        "y": list(y),
        "mode": "lines",
        "name": name,
        "hoverinfo": "skip",
        "showlegend": False,
        "line": {"color": "#BBB", "dash": "dot", "width": 1.5},
    }


def roc_figure(
    curves: Mapping[str, OperatingCurve],
    colors: Mapping[str, str],
    points: Mapping[str, Point] | None = None,
    presentation: bool = False,
    title: str = "ROC curve",
) -> go.Figure:
    """True-positive rate against false-positive rate (linear axes), chance diagonal dotted."""
    size = font_size(presentation)
    series = {}
    for name, c in curves.items():
        x, y, _ = c.roc_curve()
        series[name] = (x, y)
    traces = [_dotted([0, 1], [0, 1], "chance")]
    traces += _curve_traces(series, colors, points, presentation, "FPR %{x:.3g}, TPR %{y:.3g}")
    layout = _layout(
        title,
        presentation,
        400,
        _axis("false-positive rate (quiet cell-days alarmed)", size, range=[0, 1]),
        _axis("true-positive rate (targets caught)", size, range=[0, 1.02]),
        legend="bottom right" if len(curves) <= 3 else "below",
        legend_rows=len(curves),
    )
    return _figure(traces, layout)


def pr_figure(
    curves: Mapping[str, OperatingCurve],
    colors: Mapping[str, str],
    points: Mapping[str, Point] | None = None,
    presentation: bool = False,
    title: str = "Precision–recall curve",
) -> go.Figure:
    """Precision (log axis: targets are rare) against recall; a dotted line at the base rate."""
    size = font_size(presentation)
    series = {}
    for name, c in curves.items():
        x, y, _ = c.pr_curve()
        series[name] = (x, np.maximum(y, 1e-6))
    shapes, notes = [], []
    rates = sorted({c.n_positive / c.n_pairs for c in curves.values() if c.n_pairs})
    lo = math.floor(math.log10(max(rates[0] / 3, 1e-7))) if rates else -4
    if rates:
        sh, no = _hline(rates[0], f"base rate {rates[0]:.2g}")
        shapes.append(sh)
        notes.append(no)
    traces = _curve_traces(
        series, colors, points, presentation, "recall %{x:.3g}, precision %{y:.3g}"
    )
    layout = _layout(
        title,
        presentation,
        400,
        _axis("recall (targets caught)", size, range=[0, 1]),
        _axis("precision (log scale)", size, type="log", range=[lo, 0.05], **_log_ticks(lo, 0)),
        shapes=shapes,
        annotations=notes,
        legend="top right" if len(curves) <= 3 else "below",
        legend_rows=len(curves),
    )
    return _figure(traces, layout)


def molchan_figure(
    curves: Mapping[str, OperatingCurve],
    colors: Mapping[str, str],
    points: Mapping[str, Point] | None = None,
    presentation: bool = False,
    title: str = "Molchan error diagram",
) -> go.Figure:
    """Miss rate ν against alarm fraction τ (log τ axis), random forecast ν = 1 − τ dotted."""
    size = font_size(presentation)
    tau_r = np.logspace(-5, 0, 60)
    traces = [_dotted(tau_r, 1 - tau_r, "random")]
    series = {}
    for name, c in curves.items():
        tau, nu = molchan(c)
        keep = tau > 0
        series[name] = (tau[keep], nu[keep])
    traces += _curve_traces(
        series, colors, points, presentation, "alarm fraction %{x:.3g}, miss rate %{y:.3g}"
    )
    layout = _layout(
        title,
        presentation,
        400,
        _axis("alarm fraction τ (log scale)", size, type="log", range=[-5, 0], **_log_ticks(-5, 0)),
        _axis("miss rate ν", size, range=[0, 1.02]),
        legend="bottom left" if len(curves) <= 3 else "below",
        legend_rows=len(curves),
    )
    return _figure(traces, layout)


def operating_points(
    curves: Mapping[str, OperatingCurve], thresholds: Mapping[str, float]
) -> dict[str, dict[str, Point]]:
    """Where each model sits at its threshold: ``{"roc"|"pr"|"molchan": {name: (x, y)}}``."""
    out: dict[str, dict[str, Point]] = {"roc": {}, "pr": {}, "molchan": {}}
    for name, c in curves.items():
        if name not in thresholds or c.n_positive == 0 or c.n_negative == 0:
            continue
        k = c.counts_at(float(thresholds[name]))
        tp, fp = k["tp"], k["fp"]
        tpr, fpr = tp / c.n_positive, fp / c.n_negative
        out["roc"][name] = (fpr, tpr)
        if tp + fp:
            out["pr"][name] = (tpr, max(tp / (tp + fp), 1e-6))
        tau = (tp + fp) / c.n_pairs
        if tau > 0:
            out["molchan"][name] = (tau, 1.0 - tpr)
    return out


def misses_figure(
    table: pd.DataFrame, colors: Mapping[str, str], fraction: float, presentation: bool = False
) -> go.Figure:
    """Missed targets per model at one alarm fraction (bars, fewer is better)."""
    size = font_size(presentation)
    trace = {
        "type": "bar",
        "x": list(table["model"]),
        "y": table["fn"].to_numpy(),
        "marker": {"color": [colors.get(m, BASELINE_COLOR) for m in table["model"]]},
        "text": [f"{r:.0%} missed" for r in table["miss_rate"]],
        "textposition": "outside",
        "hovertemplate": "%{x}: %{y} missed<extra></extra>",
        "showlegend": False,
    }
    ymax = float(table["fn"].max()) if len(table) else 1.0
    layout = _layout(
        f"Misses when {fraction:.2%} of cell-days are alarmed",
        presentation,
        380,
        _axis("model", size),
        _axis("missed target cell-days (FN)", size, range=[0, 1.18 * ymax]),
    )
    return _figure([trace], layout)


# -- training -----------------------------------------------------------------------------
def training_figure(
    history: Sequence[Mapping[str, float]], presentation: bool = False
) -> go.Figure:
    """Loss and validation metrics against step: one line per numeric key of the history.

    ``history``: the ``metrics`` dicts of ``on_progress(step, total, metrics)``, each with a
    ``step`` entry. Keys containing "loss" go on the left axis, ``val_*`` scores on the right.
    """
    size = font_size(presentation)
    df = pd.DataFrame(list(history))
    traces: list[Spec] = []
    keys = (
        []
        if df.empty or "step" not in df
        else [
            k
            for k in df.columns
            if ("loss" in k.lower() or k.startswith("val_"))
            and pd.api.types.is_numeric_dtype(df[k])
        ]
    )
    for i, k in enumerate(keys):
        sub = df[["step", k]].dropna()
        if sub.empty:
            continue
        right = "loss" not in k.lower()
        traces.append(
            {
                "type": "scatter",
                "x": sub["step"].to_numpy(),
                "y": sub[k].to_numpy(),
                "name": k.replace("val_", "validation ").replace("_", " "),
                "mode": "lines+markers" if len(sub) < 40 else "lines",
                "yaxis": "y2" if right else "y",
                "line": {
                    "color": OKABE_ITO[i % len(OKABE_ITO)],
                    "width": _width(presentation) * 0.8,
                    "dash": "dot" if right else "solid",
                },
            }
        )
    layout = _layout(
        "Training curves",
        presentation,
        320,
        _axis("training step", size),
        _axis("loss", size),
        yaxis2={
            "title": {"text": "validation score"},
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
        },
    )
    return _figure(traces, layout)
