"""plotly figures of the paired comparisons (issue 12): scores with intervals, the matrix of
information gains, the gain per window over time, reliability diagrams and the N-test.

Each function takes plain data (`quake.scoring.compare_views`) and returns a Figure;
``presentation=True`` enlarges fonts and markers for a projector. `figure_csv` gives the
numbers behind any of them for slides and spreadsheets.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from quake.viz.chart_base import (
    Spec,
    axis_spec,
    build_figure,
    hline,
    layout_spec,
    line_width,
    log_ticks,
)
from quake.viz.style import BASELINE_COLOR, font_size
from quake.viz.text import chart_text

GAIN_SCALE = [
    [0.0, "#B2182B"],
    [0.25, "#EF8A62"],
    [0.5, "#F7F7F7"],
    [0.75, "#67A9CF"],
    [1.0, "#2166AC"],
]
"""Diverging red-white-blue (ColorBrewer RdBu, colour-blind safe): red where the row model
loses, blue where it gains; white at 0."""

EXPORT_CONFIG: dict[str, Any] = {
    "toImageButtonOptions": {"format": "png", "scale": 3},
    "displaylogo": False,
}
"""plotly config of the Compare figures: the camera button saves a PNG at 3x for slides."""


def _marker(presentation: bool) -> int:
    return 13 if presentation else 9


def intervals_figure(
    rows: Sequence[Mapping[str, Any]],
    colors: Mapping[str, str],
    score_title: str,
    presentation: bool = False,
    title: str | None = None,
) -> go.Figure:
    """Dot-and-whisker chart: one row per model (``rows`` of `interval_points`, best at the
    top), the point score and its 95 % interval."""
    size = font_size(presentation)
    traces: list[Spec] = []
    for r in rows:
        name, shown = r["model"], chart_text(r["model"])
        lo, hi = r["lower"], r["upper"]
        traces.append(
            {
                "type": "scatter",
                "x": [r["value"]],
                "y": [shown],
                "mode": "markers",
                "name": shown,
                "showlegend": False,
                "marker": {
                    "color": colors.get(name, BASELINE_COLOR),
                    "size": _marker(presentation),
                    "line": {"color": "white", "width": 1},
                },
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": [hi - r["value"]],
                    "arrayminus": [r["value"] - lo],
                    "color": colors.get(name, BASELINE_COLOR),
                    "thickness": line_width(presentation),
                    "width": 6,
                },
                "hovertemplate": f"{shown}<br>{score_title} %{{x:.4g}}"
                f"<br>95 % interval [{lo:.4g}, {hi:.4g}]<extra></extra>",
            }
        )
    names = [chart_text(r["model"]) for r in rows]
    height = max(220, 60 + 30 * len(rows))
    lay = layout_spec(
        title,
        presentation,
        height,
        axis_spec(f"{score_title} (dot) and its 95 % block-bootstrap interval", size),
        axis_spec("", size, categoryorder="array", categoryarray=names[::-1], type="category"),
        showlegend=False,
    )
    return build_figure(traces, lay)


def gain_matrix_figure(
    matrix: Mapping[str, Any], presentation: bool = False, title: str | None = None
) -> go.Figure:
    """Heatmap of the information gain per target of the row model over the column model
    (`gain_matrix`), diverging colours centred at 0; ``*`` marks pairs significant by both
    the T- and the W-test (p < 0.05); pairs that cannot be compared are blank."""
    size = font_size(presentation)
    names = [chart_text(n) for n in matrix["names"]]
    gain = np.asarray(matrix["gain"], dtype=float)
    finite = gain[np.isfinite(gain)]
    zmax = float(np.max(np.abs(finite))) if finite.size else 1.0
    zmax = zmax if zmax > 0 else 1.0
    sig = np.asarray(matrix["significant"], dtype=bool)
    text = [
        [
            "" if not math.isfinite(g) else f"{g:+.2f}{'*' if s else ''}"
            for g, s in zip(row, srow, strict=True)
        ]
        for row, srow in zip(gain, sig, strict=True)
    ]
    custom = np.dstack([matrix["lower"], matrix["upper"], matrix["p_t"], matrix["p_w"]])
    trace = {
        "type": "heatmap",
        "z": np.where(np.isfinite(gain), gain, None).tolist(),
        "x": names,
        "y": names,
        "text": text,
        "texttemplate": "%{text}",
        "textfont": {"size": max(size - 3, 9)},
        "customdata": np.where(np.isfinite(custom), custom, None).tolist(),
        "colorscale": GAIN_SCALE,
        "zmid": 0.0,
        "zmin": -zmax,
        "zmax": zmax,
        "xgap": 1,
        "ygap": 1,
        "hoverongaps": False,
        "colorbar": {"title": {"text": "gain<br>(nats/target)"}, "thickness": 14},
        "hovertemplate": "%{y} over %{x}<br>gain %{z:.3f} nats per target"
        "<br>95 % [%{customdata[0]:.3f}, %{customdata[1]:.3f}]"
        "<br>p (T) %{customdata[2]:.2g}, p (W) %{customdata[3]:.2g}<extra></extra>",
    }
    n = len(names)
    lay = layout_spec(
        title,
        presentation,
        max(300, 120 + 34 * n),
        axis_spec("reference model (column)", size, tickangle=-40, showgrid=False),
        axis_spec("model (row)", size, autorange="reversed", showgrid=False),
        showlegend=False,
    )
    return build_figure([trace], lay)


def gain_time_figure(
    x: Sequence[Any],
    gain: Sequence[float],
    n_targets: Sequence[int],
    label: str,
    presentation: bool = False,
    title: str | None = None,
    total: bool = False,
) -> go.Figure:
    """Bars of the information gain per target in each window (``x``: the windows'
    forecast days T, dates or days; the targets are T + 10 … T + 49), blue above 0, red
    below; windows without targets are left empty. ``total``: the window's whole gain (per
    target × its targets, nats), where a window with many targets (a large aftershock
    sequence) weighs as much as it counts."""
    size = font_size(presentation)
    g = [
        (v * n if total else v) if v is not None and math.isfinite(v) else None
        for v, n in zip(gain, n_targets, strict=True)
    ]
    colors = ["#2166AC" if (v or 0) >= 0 else "#B2182B" for v in g]
    trace = {
        "type": "bar",
        "x": list(x),
        "y": g,
        "customdata": list(n_targets),
        "marker": {"color": colors},
        "name": chart_text(label),
        "hovertemplate": "forecast day %{x} (targets 10-49 days later)<br>gain %{y:.3f} "
        + ("nats in the window" if total else "nats per target")
        + "<br>%{customdata} target cells<extra></extra>",
    }
    shape, note = hline(0.0, "")
    lay = layout_spec(
        title,
        presentation,
        340,
        axis_spec("forecast day T (its targets: T + 10 … T + 49)", size),
        axis_spec(
            f"gain of {chart_text(label)} ({'nats/window' if total else 'nats/target'})", size
        ),
        showlegend=False,
        shapes=[shape],
        bargap=0.15,
    )
    return build_figure([trace], lay)


def reliability_figure(
    curves: Mapping[str, Mapping[str, Sequence[float]]],
    colors: Mapping[str, str],
    presentation: bool = False,
    title: str | None = None,
) -> go.Figure:
    """Reliability diagram: per model (``{name: csep.reliability(...)}``), the observed
    frequency of targets against the mean forecast probability of each bin, log-log, with
    the pair count of each bin in the hover and as the marker size; the diagonal is a
    perfectly calibrated forecast. Bins where nothing was observed are open triangles on
    the bottom edge."""
    size = font_size(presentation)
    traces: list[Spec] = []
    lo_all, hi_all = 1.0, 1e-9
    for name, rel in curves.items():
        pred = np.asarray(rel["predicted"], dtype=float)
        obs = np.asarray(rel["observed"], dtype=float)
        count = np.asarray(rel["count"], dtype=float)
        if pred.size == 0:
            continue
        lo_all = min(lo_all, float(pred[pred > 0].min()) if (pred > 0).any() else lo_all)
        hi_all = max(hi_all, float(pred.max()), float(obs.max()))
        floor = 10 ** math.floor(math.log10(max(min(lo_all, 1e-6), 1e-10)))
        y = np.where(obs > 0, obs, floor)
        marker = (5 + 1.5 * np.log10(np.maximum(count, 1))) * (1.3 if presentation else 1.0)
        custom = np.stack([count, np.asarray(rel["positives"], float)], 1)
        color = colors.get(name, BASELINE_COLOR)
        shown = chart_text(name)
        for seen in (True, False):  # bins with targets; bins without (open, on the floor)
            k = (obs > 0) if seen else ~(obs > 0)
            if not k.any():
                continue
            traces.append(
                {
                    "type": "scatter",
                    "x": pred[k].tolist(),
                    "y": y[k].tolist(),
                    "mode": "markers",
                    "name": shown if seen else f"{shown}, no target",
                    "legendgroup": shown,
                    "showlegend": seen,
                    "customdata": custom[k].tolist(),
                    "marker": {
                        "color": color,
                        "size": marker[k].tolist(),
                        "symbol": "circle" if seen else "triangle-down-open",
                        "line": {"color": color, "width": 1.5},
                        "opacity": 0.85,
                    },
                    "hovertemplate": f"{shown}<br>mean forecast %{{x:.2g}}<br>observed "
                    + ("%{y:.2g}" if seen else "none")
                    + "<br>%{customdata[0]:,.0f} cell-days, %{customdata[1]:,.0f} targets"
                    "<extra></extra>",
                }
            )
    lo = 10 ** math.floor(math.log10(max(min(lo_all, 1e-6), 1e-10)))
    diag = {
        "type": "scatter",
        "x": [lo, 1.0],
        "y": [lo, 1.0],
        "mode": "lines",
        "name": "perfect calibration",
        "line": {"color": "#999", "dash": "dot", "width": 1.5},
        "hoverinfo": "skip",
    }
    ticks = log_ticks(int(round(math.log10(lo))), 0)
    lay = layout_spec(
        title,
        presentation,
        400,
        axis_spec("mean forecast probability of the bin", size, type="log", **ticks),
        axis_spec("observed frequency of targets (▽: none)", size, type="log", **ticks),
        legend="below",
        legend_rows=max(1, math.ceil((len(curves) + 1) / 3)),
    )
    return build_figure([diag, *traces], lay)


def ntest_figure(
    x: Sequence[Any],
    windows: Mapping[str, Any],
    name: str,
    color: str,
    presentation: bool = False,
    title: str | None = None,
    log: bool = True,
) -> go.Figure:
    """N-test per window (`ntest_windows`): the 95 % band of the forecast's number of
    positive cells (Poisson-binomial quantiles), its expectation, and the observed count;
    observed points outside the band are drawn as open red diamonds. ``log``: a log count
    axis (a large sequence's window would flatten the others), on which counts of 0 sit on
    its bottom edge at 0.5 (the hover tells the true count)."""
    size = font_size(presentation)
    xs = list(x)
    obs = np.asarray(windows["observed"], dtype=float)
    ql = np.asarray(windows["q_low"], dtype=float)
    qh = np.asarray(windows["q_high"], dtype=float)
    exp = np.asarray(windows["expected"], dtype=float)
    out = (obs < ql) | (obs > qh)
    floor = 0.5 if log else 0.0

    def at(v: np.ndarray) -> list[float]:
        return np.maximum(v, floor).tolist()

    def points(k: np.ndarray) -> tuple[list[Any], list[float], list[float]]:
        return [v for v, o in zip(xs, k, strict=True) if o], at(obs[k]), obs[k].tolist()

    x_in, y_in, c_in = points(~out)
    x_out, y_out, c_out = points(out)
    band = [
        {
            "type": "scatter",
            "x": xs,
            "y": at(qh),
            "meta": {"y": qh.tolist()},
            "name": "forecast 97.5 % quantile",
            "mode": "lines",
            "line": {"width": 0},
            "showlegend": False,
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "x": xs,
            "y": at(ql),
            "meta": {"y": ql.tolist()},
            "mode": "lines",
            "line": {"width": 0},
            "fill": "tonexty",
            "fillcolor": "rgba(120,120,120,0.22)",
            "name": "forecast 95 % band",
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "x": xs,
            "y": at(exp),
            "meta": {"y": exp.tolist()},
            "customdata": exp.tolist(),
            "mode": "lines",
            "line": {"color": color, "width": line_width(presentation)},
            "name": f"expected (sum of P), {name}",
            "hovertemplate": "%{x}<br>expected %{customdata:.1f}<extra></extra>",
        },
        {
            "type": "scatter",
            "x": x_in,
            "y": y_in,
            "meta": {"y": c_in},
            "customdata": c_in,
            "mode": "markers",
            "marker": {"color": "#222", "size": _marker(presentation) - 2},
            "name": "observed, inside the band",
            "hovertemplate": "%{x}<br>observed %{customdata:.0f}<extra></extra>",
        },
        {
            "type": "scatter",
            "x": x_out,
            "y": y_out,
            "meta": {"y": c_out},
            "customdata": c_out,
            "mode": "markers",
            "marker": {
                "color": "#D55E00",
                "symbol": "diamond-open",
                "size": _marker(presentation),
                "line": {"width": 2},
            },
            "name": "observed, outside the band",
            "hovertemplate": "%{x}<br>observed %{customdata:.0f} (outside)<extra></extra>",
        },
    ]
    top = float(max(obs.max(initial=1.0), qh.max(initial=1.0), exp.max(initial=1.0)))
    yaxis = (
        axis_spec(
            "positive cells in the window (log)",
            size,
            type="log",
            range=[math.log10(floor), math.log10(top * 1.5)],
            **log_ticks(0, math.ceil(math.log10(top * 1.5))),
        )
        if log
        else axis_spec("positive cells in the window", size, rangemode="tozero")
    )
    lay = layout_spec(
        title,
        presentation,
        360,
        axis_spec("forecast day T (its targets: T + 10 … T + 49)", size),
        yaxis,
        legend="top right",
    )
    return build_figure(band, lay)


def _end(x: Any, lengths: list, k: int, sign: float) -> Any:
    """The end of the ``k``-th point's whisker (``x`` plus or minus its length); blank
    without one."""
    if k >= len(lengths) or lengths[k] is None or not _number(str(x)):
        return ""
    return float(x) + sign * float(lengths[k])


def figure_csv(fig: go.Figure) -> str:
    """The numbers behind a figure as CSV: one row per point (trace name, x, y, and the
    heatmap's z; a trace's ``meta["y"]`` when it is drawn at other values), for slides and
    spreadsheets. Text fields are quoted; a leading ``=+-@``
    is escaped against spreadsheet formulas."""
    import csv
    import io

    def safe(v: Any) -> Any:
        if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") and not _number(v):
            return "'" + v
        return v

    buf = io.StringIO()
    w = csv.writer(buf)
    for tr in fig.data:
        if tr.type == "heatmap":
            w.writerow(["row", "column", "value"])
            for yv, row in zip(tr.y, tr.z, strict=True):
                for xv, z in zip(tr.x, row, strict=True):
                    w.writerow([safe(yv), safe(xv), "" if z is None else z])
            continue
        if tr.x is None or tr.y is None:
            continue
        if buf.tell() == 0:  # x_low, x_high: a whisker's ends (an interval's bounds)
            w.writerow(["series", "x", "y", "x_low", "x_high"])
        err = tr.error_x
        plus = list(err.array) if err is not None and err.array is not None else []
        minus = list(err.arrayminus) if err is not None and err.arrayminus is not None else []
        # a trace drawn at other values than its data (a floor on a log axis) keeps them
        ys = tr.meta["y"] if isinstance(tr.meta, dict) and "y" in tr.meta else tr.y
        for k, (xv, yv) in enumerate(zip(tr.x, ys, strict=True)):
            w.writerow(
                [
                    safe(tr.name or ""),
                    safe(str(xv)),
                    "" if yv is None else safe(str(yv)),
                    _end(xv, minus, k, -1.0),
                    _end(xv, plus, k, 1.0),
                ]
            )
    return buf.getvalue()


def _number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def figure_html(fig: Any, title: str) -> bytes:
    """``fig`` as a self-contained HTML page (plotly.js embedded, works offline) whose
    title, the browser tab's, is ``title`` (escaped)."""
    page = fig.to_html(include_plotlyjs=True, full_html=True)
    return page.replace("<head>", f"<head><title>{html.escape(title)}</title>", 1).encode()
