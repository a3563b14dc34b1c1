"""The threshold explorer: one plotly figure whose own slider moves the alarm threshold in
the browser, with no round trip to the server.

Everything a threshold step changes is precomputed for every slider value and attached to
the slider's steps (plotly ``update`` steps: restyle + relayout): the map's colour scale
(cells below the threshold faded, one heatmap, so a step sends a dozen numbers, not the
map), the quakes of the window split into hit and missed, the operating point on the ROC,
precision-recall and Molchan curves, and the confusion counts (from the operating curve's
histograms, `OperatingCurve.counts_at`). plotly.js ships with Streamlit: nothing is fetched.

The map is drawn in the grid's own projection (km east and north of its origin, cells
square), with the coastline projected the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from quake.data.grid import Grid
from quake.metrics.curves import OperatingCurve
from quake.metrics.scores import molchan
from quake.viz.style import BASELINE_COLOR, YLORRD, font_size

FADE = 0.72  # share of white mixed into a faded (not alarmed) cell's colour
HIT = "#0072B2"
MISS = "#000000"
MISSED_MARKER = {"color": "rgba(255,255,255,0.3)", "size": 8, "line": {"color": MISS, "width": 1.5}}


@dataclass(frozen=True)
class MapInput:
    """One forecast day for the explorer's map: ``probs`` ``(ny, nx)``; ``window`` the
    quakes of its target window (columns ``latitude, longitude, magnitude, cell``);
    ``coast`` the coastline as lon/lat polylines; ``title`` says which day."""

    grid: Grid
    probs: np.ndarray
    window: pd.DataFrame
    coast: Sequence[Sequence[Sequence[float]]]
    title: str


def fmt_t(t: float) -> str:
    return f"{t:.2g}" if t >= 0.01 else f"{t:.1e}".replace("e-0", "e-")


def fade_colorscale(lo: float, hi: float, threshold: float) -> list[list]:
    """YlOrRd over log10 P in [lo, hi], colours below ``threshold`` mixed with white."""
    ramp = np.asarray(YLORRD, dtype=np.float64)
    pos = np.linspace(0.0, 1.0, len(ramp))
    f = float(np.clip((math.log10(threshold) - lo) / (hi - lo), 0.0, 1.0))

    def color(x: float, faded: bool) -> str:
        rgb = np.array([np.interp(x, pos, ramp[:, j]) for j in range(3)])
        if faded:
            rgb = rgb + (255.0 - rgb) * FADE
        return "rgb({:.0f},{:.0f},{:.0f})".format(*rgb)

    out: list[list] = []
    for x in sorted({*pos.tolist(), f}):
        if x < f:
            out.append([x, color(x, True)])
        elif x == f and f > 0.0:
            out.append([x, color(x, True)])
            out.append([x, color(x, False)])
        else:
            out.append([x, color(x, False)])
    return out


def _counts_text(curve: OperatingCurve, t: float, n_hit: int, n_miss: int) -> str:
    k = curve.counts_at(t)
    tp, fn, fp, tn = k["tp"], k["fn"], k["fp"], k["tn"]
    frac = (tp + fp) / curve.n_pairs if curve.n_pairs else math.nan
    prec = f"{tp / (tp + fp):.3%}" if tp + fp else "—"
    return (
        f"<b>threshold {fmt_t(t)}</b> (test period, every cell-day)<br>"
        f"hits (TP) <b>{tp:,}</b> · misses (FN) <b>{fn:,}</b><br>"
        f"false alarms (FP) <b>{fp:,}</b><br>quiet, no alarm (TN) {tn:,}<br>"
        f"alarm fraction {frac:.3%} · precision {prec}<br>"
        f"map day: {n_hit} quakes hit, {n_miss} missed"
    )


def _points(curve: OperatingCurve, t: float) -> tuple[tuple, tuple, tuple]:
    k = curve.counts_at(t)
    tp, fp = k["tp"], k["fp"]
    tpr = tp / curve.n_positive if curve.n_positive else math.nan
    fpr = fp / curve.n_negative if curve.n_negative else math.nan
    prec = max(tp / (tp + fp), 1e-6) if tp + fp else None
    tau = (tp + fp) / curve.n_pairs if curve.n_pairs else 0.0
    return (fpr, tpr), (tpr, prec), (tau if tau > 0 else None, 1.0 - tpr)


def threshold_explorer(
    curve: OperatingCurve,
    thresholds: Sequence[float],
    active: int,
    name: str,
    color: str,
    mapped: MapInput | None = None,
    presentation: bool = False,
    lo: float = -6.0,
    hi: float = 0.0,
) -> go.Figure:
    """The figure: map (left), ROC and PR (top right), Molchan and the counts (bottom
    right), and a slider over ``thresholds`` starting at ``thresholds[active]``.

    ``lo``, ``hi``: the colour range in log10 P (the slider's range by default, so the
    colour bar and the slider agree).
    """
    size = font_size(presentation)
    fig = make_subplots(
        rows=2,
        cols=3,
        column_widths=[0.44, 0.28, 0.28],
        specs=[[{"rowspan": 2}, {}, {}], [None, {}, {}]],
        horizontal_spacing=0.07,
        vertical_spacing=0.2,
        subplot_titles=(
            mapped.title if mapped else "map",
            "ROC",
            "precision–recall",
            "Molchan diagram",
            "",
        ),
    )
    thresholds = [float(t) for t in thresholds]
    t0 = thresholds[active]
    moving: list[int] = []  # the traces a step restyles, in this order

    # -- map ----------------------------------------------------------------------------
    hit_xy: list[tuple[list, list]] = []
    miss_xy: list[tuple[list, list]] = []
    if mapped is not None:
        g = mapped.grid
        p = np.asarray(mapped.probs, dtype=np.float64)
        z = np.where(p >= 10.0**lo, np.log10(np.clip(p, 10.0**lo, 10.0**hi)), np.nan)
        ticks = list(range(int(lo), int(hi) + 1))
        fig.add_trace(
            go.Heatmap(  # x0/dx, not x arrays: a step's restyle of x resets only scatters
                x0=g.x0_km + g.cell_km / 2,
                dx=g.cell_km,
                y0=g.y0_km + g.cell_km / 2,
                dy=g.cell_km,
                # float32: plotly sends arrays as binary, half the bytes of float64
                z=np.round(z, 2).astype(np.float32),
                zmin=lo,
                zmax=hi,
                colorscale=fade_colorscale(lo, hi, t0),
                colorbar={
                    "title": {"text": "P", "side": "top"},
                    "tickvals": ticks,
                    "ticktext": [fmt_t(10.0**v) for v in ticks],
                    "orientation": "h",
                    "x": 0.2,
                    "y": -0.02,
                    "yanchor": "top",
                    "len": 0.4,
                    "thickness": 12,
                },
                hovertemplate="P = 10^%{z:.2f}<extra></extra>",
            ),
            row=1,
            col=1,
        )
        heat = len(fig.data) - 1
        cx, cy = [], []
        for line in mapped.coast:
            arr = np.asarray(line, dtype=np.float64)
            if len(arr) < 2:
                continue
            x, y = g.project(arr[:, 1], arr[:, 0])
            cx += np.round(x, 1).tolist() + [None]
            cy += np.round(y, 1).tolist() + [None]
        fig.add_trace(
            go.Scatter(
                x=cx,
                y=cy,
                mode="lines",
                line={"color": "rgb(70,70,70)", "width": 1},
                hoverinfo="skip",
                showlegend=False,
            ),
            row=1,
            col=1,
        )
        w = mapped.window
        inside = w["cell"].to_numpy() >= 0
        wx, wy = g.project(w["latitude"].to_numpy(), w["longitude"].to_numpy())
        wx, wy = np.round(wx[inside], 1), np.round(wy[inside], 1)
        wp = p.ravel()[w["cell"].to_numpy()[inside]]
        for t in thresholds:
            hit = wp >= t
            hit_xy.append((wx[hit].tolist(), wy[hit].tolist()))
            miss_xy.append((wx[~hit].tolist(), wy[~hit].tolist()))
        for label, xy, marker in (
            ("hit", hit_xy, {"color": HIT, "size": 8, "line": {"color": "white", "width": 1}}),
            ("missed", miss_xy, MISSED_MARKER),
        ):
            fig.add_trace(
                go.Scatter(
                    x=xy[active][0],
                    y=xy[active][1],
                    mode="markers",
                    name=f"quakes {label}",
                    marker=marker,
                    hovertemplate=f"quake {label}<extra></extra>",
                ),
                row=1,
                col=1,
            )
            moving.append(len(fig.data) - 1)
        fig.update_xaxes(row=1, col=1, range=[g.x0_km, g.x0_km + g.nx * g.cell_km], visible=False)
        fig.update_yaxes(
            row=1,
            col=1,
            range=[g.y0_km, g.y0_km + g.ny * g.cell_km],
            visible=False,
            scaleanchor="x",
            scaleratio=1,
        )
    else:
        heat = None

    # -- curves -------------------------------------------------------------------------
    fpr, tpr, _ = curve.roc_curve()
    rec, prec, _ = curve.pr_curve()
    tau, nu = molchan(curve)
    keep = tau > 0
    width = 3 if presentation else 2
    lines = [
        (1, 2, [0, 1], [0, 1], "#BBB", "dot"),
        (1, 2, fpr, tpr, color, "solid"),
        (1, 3, rec, np.maximum(prec, 1e-6), color, "solid"),
        (2, 2, np.logspace(-5, 0, 40), 1 - np.logspace(-5, 0, 40), "#BBB", "dot"),
        (2, 2, tau[keep], nu[keep], color, "solid"),
    ]
    for row, col, x, y, c, dash in lines:
        fig.add_trace(
            go.Scatter(
                x=np.round(np.asarray(x, dtype=np.float64), 6),
                y=np.round(np.asarray(y, dtype=np.float64), 6),
                mode="lines",
                line={"color": c, "dash": dash, "width": width if dash == "solid" else 1.5},
                hoverinfo="skip" if dash == "dot" else None,
                showlegend=False,
            ),
            row=row,
            col=col,
        )
    pts = [_points(curve, t) for t in thresholds]
    marker = {"color": color, "size": 14, "line": {"color": "white", "width": 2}}
    for i, (row, col) in enumerate([(1, 2), (1, 3), (2, 2)]):
        px, py = pts[active][i]
        fig.add_trace(
            go.Scatter(
                x=[px],
                y=[py],
                mode="markers",
                marker=marker,
                showlegend=False,
                hovertemplate="at the threshold: %{x:.3g}, %{y:.3g}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        moving.append(len(fig.data) - 1)
    fig.update_xaxes(row=1, col=2, range=[0, 1], title_text="false-positive rate")
    fig.update_yaxes(row=1, col=2, range=[0, 1.02], title_text="true-positive rate")
    base = curve.n_positive / curve.n_pairs if curve.n_pairs else 1e-4
    low = math.floor(math.log10(max(base / 3, 1e-7)))
    fig.update_xaxes(row=1, col=3, range=[0, 1], title_text="recall")
    fig.update_yaxes(row=1, col=3, type="log", range=[low, 0.05], title_text="precision")
    fig.update_xaxes(row=2, col=2, type="log", range=[-5, 0], title_text="alarm fraction τ")
    fig.update_yaxes(row=2, col=2, range=[0, 1.02], title_text="miss rate ν")
    fig.update_xaxes(row=2, col=3, visible=False)
    fig.update_yaxes(row=2, col=3, visible=False)

    # -- counts and the slider ------------------------------------------------------------
    def n_hits(j: int) -> tuple[int, int]:
        return (len(hit_xy[j][0]), len(miss_xy[j][0])) if mapped is not None else (0, 0)

    texts = [_counts_text(curve, t, *n_hits(j)) for j, t in enumerate(thresholds)]
    fig.add_annotation(
        text=texts[active],
        xref="paper",
        yref="paper",
        x=0.74,
        y=0.40,
        xanchor="left",
        yanchor="top",
        showarrow=False,
        align="left",
        font={"size": size},
    )
    counts_idx = len(fig.layout.annotations) - 1
    steps = []
    for j, t in enumerate(thresholds):
        xs_, ys_ = [], []
        if mapped is not None:
            xs_ += [hit_xy[j][0], miss_xy[j][0]]
            ys_ += [hit_xy[j][1], miss_xy[j][1]]
        for i in range(3):
            xs_.append([pts[j][i][0]])
            ys_.append([pts[j][i][1]])
        restyle: dict = {"x": xs_, "y": ys_}
        indices = list(moving)
        if heat is not None:
            restyle = {
                "x": [None, *xs_],
                "y": [None, *ys_],
                "colorscale": [fade_colorscale(lo, hi, t), *([None] * len(moving))],
            }
            indices = [heat, *moving]
        steps.append(
            {
                "method": "update",
                "label": fmt_t(t),
                "args": [restyle, {f"annotations[{counts_idx}].text": texts[j]}, indices],
            }
        )
    fig.update_layout(
        height=720 if presentation else 660,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        font={"size": size},
        showlegend=True,
        legend={"x": 0.74, "y": 0.05, "yanchor": "bottom"},
        plot_bgcolor="white",
        sliders=[
            {
                "active": active,
                "steps": steps,
                "currentvalue": {
                    "prefix": "Alarm threshold (probability, log scale): ",
                    "font": {"size": size},
                },
                "pad": {"t": 95},
                "len": 1.0,
                "x": 0.0,
                "ticklen": 3,
                "transition": {"duration": 0},
                "minorticklen": 0,
                "font": {"size": max(9, size - 5)},
            }
        ],
    )
    fig.update_xaxes(gridcolor="#EEE", showline=True, linecolor=BASELINE_COLOR)
    fig.update_yaxes(gridcolor="#EEE", showline=True, linecolor=BASELINE_COLOR)
    return fig
