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

import base64
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
from quake.viz.grid_plot import HIT, MISS, coast_trace, grid_layout_image
from quake.viz.raster import data_url, grid_image, png_indexed, png_palette
from quake.viz.style import BASELINE_COLOR, YLORRD, font_size

FADE = 0.72  # share of white mixed into a faded (not alarmed) cell's colour


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


def _counts_text(
    curve: OperatingCurve, t: float, n_hit: int, n_miss: int, narrow: bool = False
) -> str:
    """The counts at threshold ``t``; ``narrow`` (a projector's larger font): one number a
    line, so that no line runs past the figure's right edge."""
    k = curve.counts_at(t)
    tp, fn, fp, tn = k["tp"], k["fn"], k["fp"], k["tn"]
    frac = (tp + fp) / curve.n_pairs if curve.n_pairs else math.nan
    prec = f"{tp / (tp + fp):.3%}" if tp + fp else "—"
    sep = "<br>" if narrow else " · "
    return (
        f"<b>threshold {fmt_t(t)}</b>{'<br>' if narrow else ' '}(test period, every cell-day)<br>"
        f"hits (TP) <b>{tp:,}</b>{sep}misses (FN) <b>{fn:,}</b><br>"
        f"false alarms (FP) <b>{fp:,}</b><br>quiet, no alarm (TN) {tn:,}<br>"
        f"alarm fraction {frac:.3%}{sep}precision {prec}<br>"
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


def _cell_rgb(p: np.ndarray, lo: float, hi: float, levels: int = 120) -> tuple[np.ndarray, ...]:
    """Per cell: the ramp colour and its faded form (uint8 rgb) of log10 p in [lo, hi] on
    ``levels`` steps (a palette image stays under 256 colours), and which cells are drawn."""
    ramp = np.asarray(YLORRD, dtype=np.float64)
    pos = np.linspace(0.0, 1.0, len(ramp))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (np.log10(np.asarray(p, dtype=np.float64).ravel()) - lo) / (hi - lo)
    drawn = np.isfinite(z) & (z >= 0.0)
    x = np.round(np.clip(np.nan_to_num(z), 0.0, 1.0) * (levels - 1)) / (levels - 1)
    rgb = np.stack([np.interp(x, pos, ramp[:, j]) for j in range(3)], axis=1)
    faded = rgb + (255.0 - rgb) * FADE
    return np.round(rgb).astype(np.uint8), np.round(faded).astype(np.uint8), drawn


FADE_PALETTE = np.array([(0, 0, 0, 0), (255, 255, 255, round(255 * FADE))], dtype=np.uint8)
MARK_WIDTH = 600  # pixels across the quake-mark overlay: about its size on the page
MARK_RADIUS = 4.0  # pixels: a mark about 8 px across on the page, whatever the grid
MARK_PALETTE = np.array(
    [
        (0, 0, 0, 0),  # clear
        (0, 114, 178, 255),  # hit: blue disc
        (255, 255, 255, 90),  # missed: pale disc
        (255, 255, 255, 255),  # hit: white ring
        (0, 0, 0, 255),  # missed: black ring
    ],
    dtype=np.uint8,
)


def _stamp(r: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel offsets (dy, dx) of a disc of radius ``r`` and whether each is on its ring."""
    n = int(math.ceil(r)) + 1
    dy, dx = np.mgrid[-n : n + 1, -n : n + 1]
    d = np.hypot(dx + 0.5, dy + 0.5)
    inside = d <= r
    return dy[inside], dx[inside], d[inside] > r - 1.2


def mark_scale(grid: Grid) -> int:
    """Pixels per cell side of the quake-mark overlay (`MARK_WIDTH` across the grid)."""
    return max(1, round(MARK_WIDTH / max(grid.nx, grid.ny)))


def mark_image(grid: Grid, cols: np.ndarray, rows: np.ndarray, hit: np.ndarray) -> str:
    """The quakes as discs on a transparent image over the grid (`mark_scale` pixels per
    cell, north up; discs of `MARK_RADIUS` pixels): hit filled blue with a white ring,
    missed pale with a black ring. ``cols``, ``rows``: positions in cells from the grid's
    west and south edges."""
    s = mark_scale(grid)
    h, w = grid.ny * s, grid.nx * s
    img = np.zeros((h, w), dtype=np.uint8)
    dy, dx, ring = _stamp(MARK_RADIUS)
    cx = np.floor(np.asarray(cols, dtype=np.float64) * s).astype(np.int64)
    cy = np.floor((grid.ny - np.asarray(rows, dtype=np.float64)) * s).astype(np.int64)
    hit = np.asarray(hit, dtype=bool)
    order = np.argsort(hit, kind="stable")  # hits drawn last: on top
    for sel, fill, edge in ((~hit[order], 2, 4), (hit[order], 1, 3)):
        ys = cy[order][sel][:, None] + dy[None, :]
        xs = cx[order][sel][:, None] + dx[None, :]
        ok = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
        val = np.where(ring[None, :], edge, fill).astype(np.uint8)
        val = np.broadcast_to(val, ys.shape)
        img[ys[ok], xs[ok]] = val[ok]
    return data_url(png_palette(img, MARK_PALETTE))


def _dot_image(color: str) -> str:
    """A filled circle with a white ring (the operating point), as a small PNG."""
    n = 28
    yy, xx = np.mgrid[0:n, 0:n]
    d = np.hypot(xx + 0.5 - n / 2, yy + 0.5 - n / 2)
    img = np.zeros((n, n, 4), dtype=np.uint8)
    rgb = (
        tuple(int(color.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
        if color.startswith("#") and len(color) == 7
        else (0, 114, 178)
    )
    img[d <= n / 2 - 3] = (*rgb, 255)
    img[(d > n / 2 - 3) & (d <= n / 2 - 0.5)] = (255, 255, 255, 255)
    return "data:image/png;base64," + base64.b64encode(png_indexed(img)).decode("ascii")


def _paper(v: float, dom: Sequence[float], rng: Sequence[float], log: bool) -> float:
    """Paper coordinate of data value ``v`` on an axis of domain ``dom`` and range ``rng``."""
    x = math.log10(v) if log else v
    return dom[0] + (x - rng[0]) / (rng[1] - rng[0]) * (dom[1] - dom[0])


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

    A step changes only layout images and the title, which plotly redraws without
    recomputing or redrawing any trace (measured in Chromium: ~30-50 ms a step; changing
    an annotation or a shape costs a whole redraw, ~150-220 ms): the map is the cells in
    full colour under a white veil per threshold over the cells below it (they look
    faded), the quakes hit and missed another image (`mark_image`), the operating points
    are small images moved to the step's point, the counts the title. ``lo``, ``hi``: the
    colour range in log10 P (the slider's range by default, so the colour bar and the
    slider agree).
    """
    size = font_size(presentation)
    fig = make_subplots(
        rows=2,
        cols=3,
        column_widths=[0.44, 0.28, 0.28],
        specs=[[{"rowspan": 2}, {}, {}], [None, {}, {}]],
        horizontal_spacing=0.09 if presentation else 0.07,  # room for the axis titles
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
    images: list[dict] = []
    per_step: list[dict] = [{} for _ in thresholds]  # relayout of each step

    # -- map ----------------------------------------------------------------------------
    n_hit = [0] * len(thresholds)
    n_miss = [0] * len(thresholds)
    if mapped is not None:
        g = mapped.grid
        p = np.asarray(mapped.probs, dtype=np.float64)
        rgb, _, drawn = _cell_rgb(p, lo, hi)
        flat = p.ravel()
        full = np.zeros((g.n_cells, 4), dtype=np.uint8)
        full[:, :3] = rgb
        full[:, 3] = np.where(drawn, 255, 0)
        for j, t in enumerate(thresholds):  # white at FADE over the cells below t: faded
            below = (drawn & (flat < t)).reshape(g.ny, g.nx)[::-1].astype(np.uint8)
            per_step[j]["images[1].source"] = data_url(png_palette(below, FADE_PALETTE))
        image = grid_layout_image(g, grid_image(g, full))
        images.append(image)
        # the veil: plotly keys a subplot's images by their place and size, so it sits
        # 1 mm east of the cells (an identical place would hide it)
        images.append(
            {**image, "source": per_step[active]["images[1].source"], "x": g.x0_km + 1e-6}
        )
        ticks = list(range(int(lo), int(hi) + 1))
        fig.add_trace(  # the colour bar only: two transparent cells, never restyled
            go.Heatmap(
                z=[[lo, hi]],
                x0=g.x0_km,
                dx=1e-3,
                y0=g.y0_km,
                dy=1e-3,
                zmin=lo,
                zmax=hi,
                opacity=0.0,
                hoverinfo="skip",
                colorscale=fade_colorscale(lo, hi, 10.0**lo),
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
                    # the slider's tick size: larger ones turned sideways onto its title
                    "tickfont": {"size": max(9, size - 5)},
                },
            ),
            row=1,
            col=1,
        )
        fig.add_trace(coast_trace(g, mapped.coast), row=1, col=1)
        w = mapped.window
        inside = w["cell"].to_numpy() >= 0
        wx, wy = g.project(w["latitude"].to_numpy(), w["longitude"].to_numpy())
        wx, wy = wx[inside], wy[inside]
        wp = flat[w["cell"].to_numpy()[inside]]
        mags = w["magnitude"].to_numpy()[inside]
        fig.add_trace(  # hover only: the marks are an image
            go.Scatter(
                x=np.round(wx, 1),
                y=np.round(wy, 1),
                mode="markers",
                marker={"size": 10, "color": "rgba(0,0,0,0)"},
                text=[f"M{m:.1f}, P = {v:.2g}" for m, v in zip(mags, wp, strict=True)],
                hovertemplate="quake %{text}<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=1,
        )
        cols = (wx - g.x0_km) / g.cell_km
        rows = (wy - g.y0_km) / g.cell_km
        for j, t in enumerate(thresholds):
            hit = wp >= t
            n_hit[j], n_miss[j] = int(hit.sum()), int((~hit).sum())
            per_step[j]["images[2].source"] = mark_image(g, cols, rows, hit)
        images.append({**image, "source": per_step[active]["images[2].source"], "layer": "above"})
        hit_style = {"fillcolor": HIT, "line": {"color": "white", "width": 1}}
        miss_style = {"fillcolor": "rgba(255,255,255,0.3)", "line": {"color": MISS, "width": 1.5}}
        fig.update_xaxes(row=1, col=1, range=[g.x0_km, g.x0_km + g.nx * g.cell_km], visible=False)
        fig.update_yaxes(
            row=1,
            col=1,
            range=[g.y0_km, g.y0_km + g.ny * g.cell_km],
            visible=False,
            scaleanchor="x",
            scaleratio=1,
        )
        for label, style in (("quake hit", hit_style), ("quake missed", miss_style)):
            fig.add_trace(  # legend entries for the marks
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="markers",
                    name=label,
                    marker={
                        "size": 9,
                        "color": style["fillcolor"],
                        "line": {"color": style["line"]["color"], "width": 1.5},
                    },
                ),
                row=1,
                col=1,
            )

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
    # operating points: a small image each, moved to the step's point (paper coordinates
    # from the fixed axis ranges below); hidden where the point does not exist (no alarm)
    base = curve.n_positive / curve.n_pairs if curve.n_pairs else 1e-4
    low = math.floor(math.log10(max(base / 3, 1e-7)))
    pts = [_points(curve, t) for t in thresholds]
    dot = _dot_image(color)
    axes = [  # (x axis, y axis, x range, y range, x log, y log)
        ("xaxis2", "yaxis2", (0.0, 1.0), (0.0, 1.02), False, False),
        ("xaxis3", "yaxis3", (0.0, 1.0), (low, 0.05), False, True),
        ("xaxis4", "yaxis4", (-5.0, 0.0), (0.0, 1.02), True, False),
    ]
    for i, (xa, ya, xr, yr, xlog, ylog) in enumerate(axes):
        k = len(images) if mapped is not None else i
        xd, yd = fig.layout[xa].domain, fig.layout[ya].domain
        for j in range(len(thresholds)):
            px, py = pts[j][i]
            ok = px is not None and py is not None and bool(np.isfinite([px, py]).all())
            ok = ok and (not xlog or px > 0) and (not ylog or py > 0)
            step = per_step[j]
            step[f"images[{k}].visible"] = ok
            if ok:
                step[f"images[{k}].x"] = round(_paper(px, xd, xr, xlog), 5)
                step[f"images[{k}].y"] = round(_paper(py, yd, yr, ylog), 5)
        first = per_step[active]
        images.append(
            {
                "source": dot,
                "xref": "paper",
                "yref": "paper",
                "x": first.get(f"images[{k}].x", 0.0),
                "y": first.get(f"images[{k}].y", 0.0),
                "visible": first[f"images[{k}].visible"],
                "sizex": 0.022,
                "sizey": 0.022,
                "xanchor": "center",
                "yanchor": "middle",
                "sizing": "contain",
                "layer": "above",
            }
        )
    fig.update_layout(images=images)
    fig.update_xaxes(row=1, col=2, range=[0, 1], title_text="false-positive rate")
    fig.update_yaxes(row=1, col=2, range=[0, 1.02], title_text="true-positive rate")
    fig.update_xaxes(row=1, col=3, range=[0, 1], title_text="recall")
    fig.update_yaxes(row=1, col=3, type="log", range=[low, 0.05], title_text="precision")
    fig.update_xaxes(row=2, col=2, type="log", range=[-5, 0], title_text="alarm fraction τ")
    fig.update_yaxes(row=2, col=2, range=[0, 1.02], title_text="miss rate ν")
    fig.update_xaxes(row=2, col=3, visible=False)
    fig.update_yaxes(row=2, col=3, visible=False)

    # -- counts and the slider ------------------------------------------------------------
    texts = [
        _counts_text(curve, t, n_hit[j], n_miss[j], presentation) for j, t in enumerate(thresholds)
    ]
    steps = []
    for j, t in enumerate(thresholds):
        per_step[j]["title.text"] = texts[j]  # the counts: the title (cheap to change)
        steps.append({"method": "relayout", "label": fmt_t(t), "args": [per_step[j]]})
    fig.update_layout(
        title={
            "text": texts[active],
            "x": 0.715,
            "y": 0.40,
            "xref": "paper",
            "yref": "paper",
            "xanchor": "left",
            "yanchor": "top",
            "font": {"size": size - 3 if presentation else size},
        }
    )
    fig.update_layout(
        height=720 if presentation else 660,
        # Room for the slider and colour bar below the plots and the curves' tick labels, as
        # plotly measures them in the dashboard (Streamlit's font: l 21, r 15, b 176 px at
        # font 14). Asking for it up front spares plotly's second whole layout pass (its
        # automatic margins redraw the figure when they grow: ~0.1 s of the page's first
        # draw in Chromium). Too little only brings that pass back.
        margin={"l": 24, "r": 18, "t": 40, "b": 138 + 3 * size},
        font={"size": size},
        showlegend=True,
        # On a projector the counts take the whole corner: the legend goes under it.
        legend={"x": 0.74, "y": -0.03, "yanchor": "top", "orientation": "h"}
        if presentation
        else {"x": 0.74, "y": 0.05, "yanchor": "bottom"},
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
    if presentation:  # the panels' titles at their usual 16 px: the map's fits its column
        fig.update_annotations(font={"size": size - 4})
    return fig
