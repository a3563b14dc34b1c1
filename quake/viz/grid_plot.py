"""Pieces shared by the plotly maps drawn in a grid's own projection (km east and north of
its origin, so cells are squares): the Forecast map's day player (`quake.viz.day_player`)
and the Threshold page's explorer (`quake.viz.threshold_explorer`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from quake.data.grid import Grid

HIT = "#0072B2"
MISS = "#000000"
MISSED_MARKER = {"color": "rgba(255,255,255,0.3)", "size": 8, "line": {"color": MISS, "width": 1.5}}
COAST_LINE = {"color": "rgb(70,70,70)", "width": 1}
PIXELATED_CSS = "<style>.js-plotly-plot .layer-subplot image {image-rendering: pixelated;}</style>"
"""The map pages add this: the browser scales the cell images (a subplot's layout images)
up without smoothing them, so every cell stays a sharp square."""


def coast_xy(grid: Grid, coast: Sequence) -> tuple[list, list]:
    """Coastline polylines (lon, lat) in the grid's projected km, None between pieces."""
    xs: list = []
    ys: list = []
    for line in coast:
        arr = np.asarray(line, dtype=np.float64)
        if len(arr) < 2:
            continue
        x, y = grid.project(arr[:, 1], arr[:, 0])
        xs += np.round(x, 1).tolist() + [None]
        ys += np.round(y, 1).tolist() + [None]
    return xs, ys


def coast_trace(grid: Grid, coast: Sequence) -> go.Scatter:
    """The coastline as one line trace in the grid's projected km (no hover, no legend)."""
    x, y = coast_xy(grid, coast)
    return go.Scatter(x=x, y=y, mode="lines", line=COAST_LINE, hoverinfo="skip", showlegend=False)


def grid_layout_image(grid: Grid, source: str, axes: str = "", layer: str = "below") -> dict:
    """A layout image covering the grid exactly (stretched: one pixel block per cell) on the
    subplot of axes ``x{axes}``/``y{axes}`` ("" for the first)."""
    return {
        "source": source,
        "xref": f"x{axes}",
        "yref": f"y{axes}",
        "x": grid.x0_km,
        "y": grid.y0_km + grid.ny * grid.cell_km,
        "sizex": grid.nx * grid.cell_km,
        "sizey": grid.ny * grid.cell_km,
        "xanchor": "left",
        "yanchor": "top",
        "sizing": "stretch",
        "layer": layer,
    }
