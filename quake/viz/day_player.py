"""The Forecast map's day player: a window of forecast days in one plotly figure whose day
slider and Play button run in the browser.

Stepping a day through a server rerun waits for the script, the websocket and a WebGL
redraw (in software on a machine without a GPU); here every day of the window is in the
figure already, as a frame: the cells of each model as one small image (a pixel block
per 10 km cell, in the grid's own projected kilometres, so every cell is a square), the
quakes of the day's target window hit or missed at the threshold, and the counts in the
title. Moving the slider or playing swaps frames in the browser: no Python runs.

`quake.viz.raster.grid_image` paints the cells, `day_player` builds the figure from
`PlayerFrame` s; the page (`app_pages.forecast_map`) reads the forecasts and decides the
window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from quake.data.grid import Grid
from quake.viz.grid_plot import HIT, MISSED_MARKER, coast_trace, grid_layout_image
from quake.viz.style import font_size

FRAME_MS = 200  # Play: five days a second (at least four on a loaded 2-core machine)


@dataclass(frozen=True)
class PanelDay:
    """One model on one day: the cell image (PNG data URL), the quakes hit and missed
    (projected km and hover text) and the number of alarmed cells."""

    image: str
    hit: tuple[list, list, list]
    missed: tuple[list, list, list]
    n_alarmed: int

    @property
    def n_hit(self) -> int:
        return len(self.hit[0])

    @property
    def n_missed(self) -> int:
        return len(self.missed[0])


@dataclass(frozen=True)
class PlayerFrame:
    """One forecast day of the window: its slider label, its title and one `PanelDay` per
    model shown."""

    label: str
    title: str
    panels: tuple[PanelDay, ...]


def quake_points(
    grid: Grid, window, probs: np.ndarray, threshold: float
) -> tuple[tuple[list, list, list], tuple[list, list, list]]:
    """The window's quakes in grid cells (``cell >= 0``) as ``(x, y, text)`` lists, hit
    (the cell's P >= threshold) and missed; projected km rounded to 0.1."""
    cell = window["cell"].to_numpy()
    inside = cell >= 0
    w = window[inside]
    x, y = grid.project(w["latitude"].to_numpy(), w["longitude"].to_numpy())
    p = np.asarray(probs, dtype=np.float64).ravel()[cell[inside]]
    hit = p >= threshold
    times = w["time"].dt.strftime("%Y-%m-%d").to_numpy()
    mags = w["magnitude"].to_numpy()
    text = [f"M{m:.1f} {t}<br>P = {v:.2g}" for m, t, v in zip(mags, times, p, strict=True)]
    text = np.asarray(text, dtype=object)

    def pick(sel: np.ndarray) -> tuple[list, list, list]:
        return np.round(x[sel], 1).tolist(), np.round(y[sel], 1).tolist(), text[sel].tolist()

    return pick(hit), pick(~hit)


def _images(grid: Grid, frame: PlayerFrame) -> list[dict]:
    return [
        grid_layout_image(grid, panel.image, str(k + 1) if k else "")
        for k, panel in enumerate(frame.panels)
    ]


def _quake_traces(frame: PlayerFrame) -> list[dict]:
    """The moving traces of a frame as plain dicts (no plotly validation: 100s of frames)."""
    out = []
    for panel in frame.panels:
        for xyt in (panel.hit, panel.missed):
            out.append({"type": "scatter", "x": xyt[0], "y": xyt[1], "text": xyt[2]})
    return out


def _top_margin(size: int, panels: int, lines: int = 2) -> int:
    """Room above the plots (px): the title's ``lines`` lines at font ``size`` (70 px for
    two at 14, the dashboard's), plus a line for the panels' own titles when there are
    several or the title has more than two lines (they sat on its last line)."""
    extra = round(1.3 * (size + 2)) * max(lines - 2, 0)
    titled = panels > 1 or lines > 2
    return 70 + 2 * max(size - 14, 0) + extra + (round(1.6 * size) + 6 if titled else 0)


NARROW_MAP_PX = 480
"""Height given to each map in the one-column (phone) layout: a 200 x 250 cell grid is
~360 px wide there."""


def narrow_height(
    panels: int, presentation: bool = False, lines: int = 2, controls: bool = True
) -> int:
    """The one-column player's height: its title, one map per model one under another, and
    with ``controls`` (more than one day) the Play buttons and the slider."""
    size = font_size(presentation)
    bottom = _narrow_bottom(size) if controls else NARROW_BARE_BOTTOM
    return _top_margin(size, panels, lines) + NARROW_MAP_PX * panels + bottom


NARROW_BARE_BOTTOM = 20
"""Room under the one-column player's maps when it shows one day (no buttons, no slider)."""


def _narrow_bottom(size: int) -> int:
    """Room under the one-column player's maps for the Play buttons above the slider."""
    return 138 + 2 * size


def day_player(
    grid: Grid,
    names: Sequence[str],
    frames: Sequence[PlayerFrame],
    coast: Sequence,
    start: int = 0,
    presentation: bool = False,
    height: int = 640,
    frame_ms: int = FRAME_MS,
    narrow: bool = False,
) -> dict:
    """The player: one map per model in ``names`` (side by side), the frames' days on a
    slider and Play / Pause buttons, all in the browser; shows ``frames[start]`` first.
    Every frame must have one panel per name. A figure dict (`st.plotly_chart` takes it):
    the frames are plain data, built without plotly's per-property validation.
    ``narrow`` (a phone): the maps one under another, the Play buttons above the slider,
    which takes the whole width (beside them it left a phone ~150 px of slider)."""
    if not frames:
        raise ValueError("the day player needs at least one day")
    n = len(names)
    if any(len(f.panels) != n for f in frames):
        raise ValueError("every frame needs one panel per model")
    start = min(max(int(start), 0), len(frames) - 1)
    size = font_size(presentation)
    if narrow:
        fig = make_subplots(rows=n, cols=1, subplot_titles=list(names), vertical_spacing=0.06)
    else:
        fig = make_subplots(rows=1, cols=n, subplot_titles=list(names), horizontal_spacing=0.03)
    first = frames[start]
    lines = max(f.title.count("<br>") + 1 for f in frames)
    moving: list[int] = []
    for k, panel in enumerate(first.panels):
        row, col = (k + 1, 1) if narrow else (1, k + 1)
        fig.add_trace(coast_trace(grid, coast), row=row, col=col)
        for label, xyt, marker in (
            ("hit", panel.hit, {"color": HIT, "size": 8, "line": {"color": "white", "width": 1}}),
            ("missed", panel.missed, MISSED_MARKER),
        ):
            fig.add_trace(
                go.Scatter(
                    x=xyt[0],
                    y=xyt[1],
                    text=xyt[2],
                    mode="markers",
                    name=f"quakes {label}",
                    showlegend=False,  # the page's legend below explains the marks
                    marker=marker,
                    hovertemplate=f"%{{text}}<br>{label}<extra></extra>",
                ),
                row=row,
                col=col,
            )
            moving.append(len(fig.data) - 1)
        axis = "" if k == 0 else str(k + 1)
        fig.update_xaxes(
            row=row,
            col=col,
            range=[grid.x0_km, grid.x0_km + grid.nx * grid.cell_km],
            visible=False,
            constrain="domain",
        )
        fig.update_yaxes(
            row=row,
            col=col,
            range=[grid.y0_km, grid.y0_km + grid.ny * grid.cell_km],
            visible=False,
            scaleanchor=f"x{axis}",
            scaleratio=1,
            constrain="domain",
        )
    instant = {"mode": "immediate", "transition": {"duration": 0}}
    if not narrow:
        bottom = 88 + 2 * size
    else:  # the buttons above the slider; nothing under the maps for a single day
        bottom = _narrow_bottom(size) if len(frames) > 1 else NARROW_BARE_BOTTOM
    steps = [
        {
            "method": "animate",
            "label": f.label,
            "args": [[str(j)], {**instant, "frame": {"duration": 0, "redraw": True}}],
        }
        for j, f in enumerate(frames)
    ]
    play = {"frame": {"duration": frame_ms, "redraw": True}, "fromcurrent": True, **instant}
    pause = {"frame": {"duration": 0, "redraw": False}, **instant}
    fig.update_layout(
        images=_images(grid, first),
        # anchored at the top: plotly centres a title in the top margin, so its later
        # lines ran onto the panels' titles
        title={
            "text": first.title,
            "x": 0.0,
            "xanchor": "left",
            "y": 1.0 - (8.0 + size) / height,  # plotly puts a first line's top ~size/2 high
            "yanchor": "top",
            "font": {"size": size + 2},
        },
        height=height,
        # room for the slider and the Play buttons (plotly measures 111 px at font 14 in the
        # dashboard): given up front, plotly's automatic margins need no second layout pass
        # Above the plots: the two-line title, and with several panels their titles too.
        margin={"l": 10, "r": 10, "t": _top_margin(size, n, lines), "b": bottom},
        plot_bgcolor="white",
        font={"size": size},
        dragmode="pan",
        sliders=[
            {
                "active": start,
                "steps": steps,
                "currentvalue": {"prefix": "Forecast day T: ", "font": {"size": size + 1}},
                "pad": {"t": 70 if narrow else 20},
                # wide: right of the Play buttons (~130 px: at 0.14 they covered the
                # slider's label in a 1280 px window with the sidebar open)
                "len": 0.94 if narrow else 0.76 if presentation else 0.8,
                "x": 0.03 if narrow else 0.24 if presentation else 0.18,
                "transition": {"duration": 0},
            }
        ]
        if len(frames) > 1
        else [],
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "y": 0.0,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"t": 30},
                "showactive": False,
                "buttons": [
                    {"label": "▶ Play", "method": "animate", "args": [None, play]},
                    {"label": "Pause", "method": "animate", "args": [[None], pause]},
                ],
            }
        ]
        if len(frames) > 1
        else [],
    )
    out = fig.to_plotly_json()
    out["frames"] = [
        {
            "name": str(j),
            "data": _quake_traces(f),
            "traces": moving,
            "layout": {"images": _images(grid, f), "title": {"text": f.title}},
        }
        for j, f in enumerate(frames)
    ]
    return out
