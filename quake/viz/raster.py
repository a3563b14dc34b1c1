"""A forecast map as one image: every cell of the grid painted, in a few kB.

A page that sends thousands of cell polygons waits for them to be built, sent, parsed and
drawn on every step. Here each cell gets a colour (`forecast_rgba`) and the cells become
one PNG (`png_indexed`: a palette of the map's colours; `png_bytes`: plain RGBA), written
with zlib only (no imaging dependency), which the day player (`quake.viz.day_player`)
places over the grid: the browser only decodes a picture.
"""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np

from quake.data.grid import Grid

IMAGE_SCALE = 1  # pixels per cell side (pages draw cell images pixelated: sharp cells)

# Colour steps of a forecast map: 6 decades of probability in steps of 0.06 decade (two
# neighbouring steps differ by ~2 of 255 in each channel, too little to see). With the
# opaque and faded forms of each step and "clear" that is <= 201 colours, so the map is a
# palette PNG (~13 kB for the Japan grid instead of ~55 kB as RGBA; `png_indexed`).
COLOUR_LEVELS = 100

MAX_WIDTH = 600  # pixels across: about 3 per 10 km cell on the Japan grid


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_bytes(rgba: np.ndarray, level: int = 1) -> bytes:
    """An ``(h, w, 4)`` uint8 image as PNG (8-bit RGBA, no filter), with zlib only."""
    h, w, _ = rgba.shape
    raw = np.zeros((h, 1 + 4 * w), dtype=np.uint8)  # each row: filter byte 0, then pixels
    raw[:, 1:] = np.ascontiguousarray(rgba, dtype=np.uint8).reshape(h, 4 * w)
    head = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", head)
        + _chunk(b"IDAT", zlib.compress(raw.tobytes(), level))
        + _chunk(b"IEND", b"")
    )


def png_palette(index: np.ndarray, palette: np.ndarray, level: int = 6) -> bytes:
    """An indexed PNG of ``index`` ``(h, w)`` uint8 into ``palette`` ``(n <= 256, 4)`` RGBA."""
    h, w = index.shape
    palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 4)
    if not 1 <= len(palette) <= 256 or (index.size and int(index.max()) >= len(palette)):
        raise ValueError("png_palette: an index outside the palette")
    head = struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", head)
        + _chunk(b"PLTE", palette[:, :3].tobytes())
        + _chunk(b"tRNS", palette[:, 3].tobytes())
        + _chunk(b"IDAT", _deflate_rows(np.asarray(index, dtype=np.uint8), level))
        + _chunk(b"IEND", b"")
    )


def _deflate_rows(index: np.ndarray, level: int) -> bytes:
    """The image data of an indexed image: its rows unfiltered or with PNG's "Up" filter
    (each byte minus the one above it, mod 256), whichever deflates smaller. A map's
    palette follows its colour ramp, so neighbouring rows differ little: Up is ~15 %
    smaller there; a mask or a sparse overlay is often smaller unfiltered."""
    h, w = index.shape
    plain = np.zeros((h, 1 + w), dtype=np.uint8)
    plain[:, 1:] = index
    up = np.full((h, 1 + w), 2, dtype=np.uint8)
    up[:, 1:] = index
    up[1:, 1:] -= index[:-1]  # uint8 arithmetic wraps: mod 256
    return min((zlib.compress(raw.tobytes(), level) for raw in (plain, up)), key=len)


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def png_indexed(rgba: np.ndarray, level: int = 6) -> bytes:
    """An ``(h, w, 4)`` uint8 image as an indexed PNG (a palette of its colours with their
    alpha) when it has at most 256 colours, about 4 times smaller; else `png_bytes`."""
    h, w, _ = rgba.shape
    flat = np.ascontiguousarray(rgba, dtype=np.uint8).reshape(-1, 4)
    colours, index = np.unique(flat.view(np.uint32).ravel(), return_inverse=True)
    if len(colours) > 256:
        return png_bytes(rgba)
    palette = colours.view(np.uint8).reshape(-1, 4)
    return png_palette(index.reshape(h, w).astype(np.uint8), palette, level)


def grid_image(grid: Grid, cell_rgba: np.ndarray, scale: int = IMAGE_SCALE) -> str:
    """Per-cell colours ``(n_cells, 4)`` uint8 as a PNG data URL, north up, ``scale``
    pixels per cell side (nearest: the cells keep sharp edges)."""
    img = np.asarray(cell_rgba, dtype=np.uint8).reshape(grid.ny, grid.nx, 4)[::-1]
    if scale > 1:
        img = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)
    return "data:image/png;base64," + base64.b64encode(png_indexed(img)).decode("ascii")


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
        rgba = ramp_colors(ratio, *gain_range, ramp=RDBU, log=True, levels=COLOUR_LEVELS)
    else:
        rgba = ramp_colors(p, *prob_range, ramp=YLORRD, log=True, levels=COLOUR_LEVELS)
    alpha = np.full(len(p), 215, dtype=np.uint8)
    if threshold is not None:
        alpha[p < threshold] = 50
    alpha[~(p >= floor)] = 0  # NaN too
    rgba[:, 3] = alpha
    rgba[alpha == 0] = 0  # one "clear" colour, whatever the value under it
    return rgba
