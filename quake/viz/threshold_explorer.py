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


def _counts_text(curve: OperatingCurve, t: float, n_hit: int, n_miss: int) -> str:
    """The counts at threshold ``t``, one number a line: the longest line (~32 characters)
    fits the corner it has beside a 1280 px window's sidebar and a phone's width."""
    k = curve.counts_at(t)
    tp, fn, fp, tn = k["tp"], k["fn"], k["fp"], k["tn"]
    frac = (tp + fp) / curve.n_pairs if curve.n_pairs else math.nan
    prec = f"{tp / (tp + fp):.3%}" if tp + fp else "—"
    return (
        f"<b>threshold {fmt_t(t)}</b><br>(test period, every cell-day)<br>"
        f"hits (TP) <b>{tp:,}</b><br>misses (FN) <b>{fn:,}</b><br>"
        f"false alarms (FP) <b>{fp:,}</b><br>quiet, no alarm (TN) {tn:,}<br>"
        f"alarm fraction {frac:.3%}<br>precision {prec}<br>"
        f"map day: {n_hit} quakes hit, {n_miss} missed"
    )


COUNT_LINES = 9
"""Lines of `_counts_text`."""


def wrap(text: str, width: int) -> str:
    """``text`` broken at spaces into lines of at most ``width`` characters (a longer
    word keeps its own line), joined by ``<br>``: plotly never wraps a title itself."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


@dataclass(frozen=True)
class _Layout:
    """Where the explorer's parts go: ``cells`` the (row, col) of the map, ROC, PR and
    Molchan panels; the rest in figure (paper) coordinates or pixels."""

    cells: tuple[tuple[int, int], ...]
    height: int
    margin: dict
    title: dict
    colorbar: dict
    legend: dict
    slider: dict
    dot: tuple[float, float]
    title_width: int
    domains: dict | None = None  # y axis -> its domain (the one-column layout sets them)


def _layout(narrow: bool, presentation: bool, size: int) -> _Layout:
    """The wide layout (map left, curves right, counts in the bottom-right corner) or the
    narrow one (one column: counts, map, colour bar, legend and slider, then the curves),
    for a main column under ~700 px (`app_pages.ui.viewport`)."""
    cb = {"orientation": "h", "thickness": 12, "yanchor": "top"}
    slider = {"pad": {"t": 95}, "len": 1.0, "x": 0.0}
    if not narrow:
        return _Layout(
            cells=((1, 1), (1, 2), (1, 3), (2, 2)),
            height=720 if presentation else 660,
            # Room for the slider and colour bar below the plots and the curves' tick
            # labels, as plotly measures them in the dashboard (Streamlit's font: l 21,
            # r 15, b 176 px at font 14). Asking for it up front spares plotly's second
            # whole layout pass (its automatic margins redraw the figure when they grow:
            # ~0.1 s of the page's first draw in Chromium). Too little brings it back.
            # t: the map's title, two lines (at a projector's font one more line)
            margin={"l": 24, "r": 18, "t": 70 if presentation else 40, "b": 138 + 3 * size},
            title={"x": 0.715, "y": 0.40, "yref": "paper"},
            colorbar={**cb, "x": 0.2, "y": -0.02, "len": 0.4},
            # under the counts, which take the whole corner
            legend={"x": 0.74, "y": -0.03, "yanchor": "top", "orientation": "h"},
            slider=slider,
            dot=(0.022, 0.022),
            title_width=36 if presentation else 40,
        )
    # one column: bands in pixels from the top of the plotting area
    bands = {"yaxis": (0, 420), "yaxis2": (680, 880), "yaxis3": (980, 1180), "yaxis4": (1280, 1480)}
    plot = 1480
    top = 56 + round(COUNT_LINES * size * 1.4)
    # l: the curves' tick labels (their y titles join the panel titles: the map gets the
    # width a y title would take)
    margin = {"l": 52, "r": 18, "t": top, "b": 72}

    def y(px: float) -> float:
        return round(1.0 - px / plot, 5)

    return _Layout(
        cells=((1, 1), (2, 1), (3, 1), (4, 1)),
        height=plot + margin["t"] + margin["b"],
        margin=margin,
        title={"x": 0.0, "y": 1.0 - 24.0 / (plot + top + margin["b"]), "yref": "container"},
        colorbar={**cb, "x": 0.5, "xanchor": "center", "y": y(432), "len": 0.9},
        legend={"x": 0.0, "y": y(500), "yanchor": "top", "orientation": "h"},
        slider={"pad": {"t": 0}, "len": 1.0, "x": 0.0, "y": y(540), "yanchor": "top"},
        dot=(0.05, 0.012),
        title_width=36,
        domains={k: [y(b), y(a)] for k, (a, b) in bands.items()},
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
    narrow: bool = False,
) -> go.Figure:
    """The figure: map (left), ROC and PR (top right), Molchan and the counts (bottom
    right), and a slider over ``thresholds`` starting at ``thresholds[active]``; with
    ``narrow`` (a phone) one column: counts, map, slider, then the three curves.

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
    lay = _layout(narrow, presentation, size)
    y_titles: tuple[str | None, ...] = ("true-positive rate", "precision", "miss rate ν")
    panels = ("ROC", "precision–recall", "Molchan diagram")
    # One column, or a projector's font: each y title in its panel's title, not beside the
    # axis (at 1280 px with the sidebar open the ROC's y title lay on the map's edge).
    if narrow or presentation:
        panels = tuple(f"{y} ({name})" for y, name in zip(y_titles, panels, strict=True))
        y_titles = (None, None, None)
    titles = (wrap(mapped.title, lay.title_width) if mapped else "map", *panels)
    if narrow:
        fig = make_subplots(rows=4, cols=1, subplot_titles=titles)
        for note, (axis, dom) in zip(fig.layout.annotations, lay.domains.items(), strict=True):
            fig.layout[axis].domain = dom
            note.y = dom[1]  # each panel's title over it
    else:
        fig = make_subplots(
            rows=2,
            cols=3,
            column_widths=[0.44, 0.28, 0.28],
            specs=[[{"rowspan": 2}, {}, {}], [None, {}, {}]],
            horizontal_spacing=0.07,  # room for the axis titles
            # a projector's larger font: the Molchan title clear of the ROC's x title
            vertical_spacing=0.26 if presentation else 0.2,
            subplot_titles=(*titles, ""),
        )
    fig.layout.annotations[0].yshift = 8  # the map's title (two lines) clear of its coast
    (mr, mc), roc_at, pr_at, mol_at = lay.cells
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
                    **lay.colorbar,
                    # the slider's tick size: larger ones turned sideways onto its title
                    "tickfont": {"size": max(9, size - 5)},
                },
            ),
            row=mr,
            col=mc,
        )
        fig.add_trace(coast_trace(g, mapped.coast), row=mr, col=mc)
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
            row=mr,
            col=mc,
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
        fig.update_xaxes(row=mr, col=mc, range=[g.x0_km, g.x0_km + g.nx * g.cell_km], visible=False)
        fig.update_yaxes(
            row=mr,
            col=mc,
            range=[g.y0_km, g.y0_km + g.ny * g.cell_km],
            visible=False,
            scaleanchor="x",
            scaleratio=1,
            # one column: the map at the top of its band, under its title
            **({"constrain": "domain", "constraintoward": "top"} if narrow else {}),
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
                row=mr,
                col=mc,
            )

    # -- curves -------------------------------------------------------------------------
    fpr, tpr, _ = curve.roc_curve()
    rec, prec, _ = curve.pr_curve()
    tau, nu = molchan(curve)
    keep = tau > 0
    width = 3 if presentation else 2
    lines = [
        (roc_at, [0, 1], [0, 1], "#BBB", "dot"),
        (roc_at, fpr, tpr, color, "solid"),
        (pr_at, rec, np.maximum(prec, 1e-6), color, "solid"),
        (mol_at, np.logspace(-5, 0, 40), 1 - np.logspace(-5, 0, 40), "#BBB", "dot"),
        (mol_at, tau[keep], nu[keep], color, "solid"),
    ]
    for (row, col), x, y, c, dash in lines:
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
                "sizex": lay.dot[0],
                "sizey": lay.dot[1],
                "xanchor": "center",
                "yanchor": "middle",
                "sizing": "contain",
                "layer": "above",
            }
        )
    fig.update_layout(images=images)
    fig.update_xaxes(row=roc_at[0], col=roc_at[1], range=[0, 1], title_text="false-positive rate")
    fig.update_yaxes(row=roc_at[0], col=roc_at[1], range=[0, 1.02], title_text=y_titles[0])
    fig.update_xaxes(row=pr_at[0], col=pr_at[1], range=[0, 1], title_text="recall")
    fig.update_yaxes(  # decades only: a short axis labelled 2, 3, 5 between them
        row=pr_at[0],
        col=pr_at[1],
        type="log",
        range=[low, 0.05],
        dtick=1,
        exponentformat="power",  # 10⁻⁴, not plotly's SI "100µ"
        title_text=y_titles[1],
    )
    fig.update_xaxes(  # every other decade, upright: six labels turned sideways in 150 px
        row=mol_at[0],
        col=mol_at[1],
        type="log",
        range=[-5, 0],
        tick0=0,
        dtick=2,
        tickangle=0,
        exponentformat="power",
        title_text="alarm fraction τ",
    )
    fig.update_yaxes(row=mol_at[0], col=mol_at[1], range=[0, 1.02], title_text=y_titles[2])
    if not narrow:  # the counts' corner
        fig.update_xaxes(row=2, col=3, visible=False)
        fig.update_yaxes(row=2, col=3, visible=False)

    # -- counts and the slider ------------------------------------------------------------
    texts = [_counts_text(curve, t, n_hit[j], n_miss[j]) for j, t in enumerate(thresholds)]
    steps = []
    for j, t in enumerate(thresholds):
        per_step[j]["title.text"] = texts[j]  # the counts: the title (cheap to change)
        steps.append({"method": "relayout", "label": fmt_t(t), "args": [per_step[j]]})
    fig.update_layout(
        title={
            "text": texts[active],
            **lay.title,
            "xref": "paper",
            "xanchor": "left",
            "yanchor": "top",
            "font": {"size": size - 3 if presentation else size},
        }
    )
    fig.update_layout(
        height=lay.height,
        margin=lay.margin,
        font={"size": size},
        showlegend=True,
        legend=lay.legend,
        plot_bgcolor="white",
        sliders=[
            {
                "active": active,
                "steps": steps,
                "currentvalue": {
                    "prefix": "Alarm threshold (probability, log scale): ",
                    "font": {"size": size},
                },
                **lay.slider,
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
