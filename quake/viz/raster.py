"""A forecast map as one image: every cell of the grid drawn, in a few tens of kB.

A page that sends thousands of cell polygons to deck.gl waits for the JSON to be built,
sent, parsed and tessellated on every day or threshold step. Here the cells are painted
into an RGBA image (a PNG data URL, no network) placed by a ``BitmapLayer``: the browser
only decodes a picture. deck.gl stretches a bitmap linearly in web-Mercator space, so the
image's rows are uniform in Mercator y and its columns uniform in longitude; each pixel
takes the colour of the grid cell under its centre (`Grid.cell_index`), so the
sinusoidal-projection cells land where they belong, to a pixel.
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pydeck as pdk

from quake.data.grid import Grid

MAX_WIDTH = 600  # pixels across: about 3 per 10 km cell on the Japan grid


@dataclass(frozen=True)
class PixelCells:
    """Which grid cell each pixel of the map image shows.

    ``cells``: ``(h, w)`` int64, the flat cell index or -1 outside the grid; row 0 north.
    ``bounds``: ``[west, south, east, north]`` in degrees, as a BitmapLayer takes them.
    """

    cells: np.ndarray
    bounds: tuple[float, float, float, float]


def _merc(lat_deg: np.ndarray | float) -> np.ndarray:
    lat = np.radians(np.clip(lat_deg, -85.0, 85.0))
    return np.log(np.tan(np.pi / 4 + lat / 2))


@lru_cache(maxsize=8)
def pixel_cells(grid: Grid, width: int = MAX_WIDTH) -> PixelCells:
    """The pixel -> cell table of ``grid``'s image (cached per grid)."""
    xs = grid.x0_km + np.linspace(0, grid.nx * grid.cell_km, 64)
    ys = grid.y0_km + np.linspace(0, grid.ny * grid.cell_km, 64)
    xx, yy = np.meshgrid(xs, ys)
    lat, lon = grid.unproject(xx, yy)
    west, east = float(lon.min()), float(lon.max())
    south, north = float(lat.min()), float(lat.max())
    m_s, m_n = float(_merc(south)), float(_merc(north))
    w = int(min(width, max(64, 3 * grid.nx)))
    h = max(2, int(round(w * (m_n - m_s) / math.radians(max(east - west, 1e-6)))))
    lon_px = west + (np.arange(w) + 0.5) * (east - west) / w
    merc_px = m_n - (np.arange(h) + 0.5) * (m_n - m_s) / h
    lat_px = np.degrees(2 * np.arctan(np.exp(merc_px)) - np.pi / 2)
    lon2, lat2 = np.meshgrid(lon_px, lat_px)
    return PixelCells(grid.cell_index(lat2, lon2), (west, south, east, north))


def png_bytes(rgba: np.ndarray) -> bytes:
    """An ``(h, w, 4)`` uint8 image as PNG (8-bit RGBA, no filter), with zlib only."""
    h, w, _ = rgba.shape
    raw = np.zeros((h, 1 + 4 * w), dtype=np.uint8)  # each row: filter byte 0, then pixels
    raw[:, 1:] = np.ascontiguousarray(rgba, dtype=np.uint8).reshape(h, 4 * w)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    head = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 1))
        + chunk(b"IEND", b"")
    )


def cell_image(grid: Grid, cell_rgba: np.ndarray, width: int = MAX_WIDTH) -> tuple[str, list]:
    """The map image of per-cell colours ``cell_rgba`` ``(n_cells, 4)`` uint8 as a PNG data
    URL, and its bounds ``[west, south, east, north]``. Pixels outside the grid are clear."""
    px = pixel_cells(grid, width)
    table = np.concatenate([np.asarray(cell_rgba, np.uint8), np.zeros((1, 4), np.uint8)])
    img = table[px.cells]  # -1 -> the last row: transparent
    url = "data:image/png;base64," + base64.b64encode(png_bytes(img)).decode("ascii")
    return url, list(px.bounds)


def bitmap_layer(url: str, bounds: list, layer_id: str = "forecast-cells-bitmap") -> pdk.Layer:
    """A BitmapLayer showing ``url`` over ``bounds`` (not pickable: hover the quakes)."""
    return pdk.Layer(
        "BitmapLayer",
        id=layer_id,
        image=f"'{url}'",  # quoted: pydeck passes a quoted string as it is, not as code
        bounds=bounds,
        pickable=False,
    )


def forecast_rgba(
    probs: np.ndarray,
    prior: np.ndarray | None,
    mode: str,
    threshold: float | None,
    prob_range: tuple[float, float],
    gain_range: tuple[float, float],
    floor: float,
) -> np.ndarray:
    """Per-cell RGBA ``(n_cells, 4)``: probability on log YlOrRd (or gain p / prior on log
    RdBu); opaque at or above ``threshold``, faded below it, clear below ``floor``."""
    from quake.viz.style import RDBU, YLORRD, ramp_colors

    p = np.asarray(probs, dtype=np.float64).ravel()
    if mode == "gain" and prior is not None:
        ratio = p / np.maximum(np.asarray(prior, dtype=np.float64).ravel(), 1e-12)
        rgba = ramp_colors(ratio, *gain_range, ramp=RDBU, log=True)
    else:
        rgba = ramp_colors(p, *prob_range, ramp=YLORRD, log=True)
    alpha = np.full(len(p), 215, dtype=np.uint8)
    if threshold is not None:
        alpha[p < threshold] = 50
    alpha[~(p >= floor)] = 0  # NaN too
    rgba[:, 3] = alpha
    return rgba


def forecast_image_deck(
    grid: Grid,
    url: str,
    bounds: list,
    window=None,
    mc: float = 5.0,
    zoom: float | None = None,
) -> pdk.Deck:
    """The forecast map of one day from its cell image (`cell_image`): the cells, the grid
    outline, coastlines and the window's quakes (hit or missed, with tooltips)."""
    from quake.viz.maps import (
        TOOLTIP_STYLE,
        CompactDeck,
        coastline_layer,
        grid_outline_layer,
        target_events_layer,
        view_box,
        view_state,
    )

    view = view_state(grid, zoom)
    layers = [bitmap_layer(url, bounds), grid_outline_layer(grid)]
    layers.append(coastline_layer(box=view_box(view)))
    if window is not None:
        ev = target_events_layer(window, mc)
        if ev is not None:
            layers.append(ev)
    return CompactDeck(
        layers=layers,
        initial_view_state=view,
        map_provider=None,
        map_style=None,
        tooltip={"html": "{tip}", "style": TOOLTIP_STYLE},
    )
