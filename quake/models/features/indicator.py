"""Indicator features: the largest recent magnitude in a cell and its neighbourhood.

For forecast day T, cell c, window w (days) and neighbourhood k x k (cells)::

    M_{w,k}(T, c) = max { m(d, c') : T - w < d <= T, c' within the k x k box around c }

with m the cell-day's largest magnitude and 0 where there is none (the paper's gradient
boosting used binary indicators of earthquakes on previous days; the magnitude keeps the
indicator, m > 0, and its size). Per-cell window maxima come from the sparse events (each
cell-day sets the days its window covers, ``np.maximum.at``); the k x k maxima are a
``scipy.ndimage.maximum_filter`` of those maps, since the two maxima commute.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from scipy.ndimage import maximum_filter

from quake.data.events import GriddedEvents

WINDOWS_DAYS: tuple[int, ...] = (1, 7, 30, 90, 365)
SIZES: tuple[int, ...] = (1, 3, 7)


def raw_names(windows: Sequence[int] = WINDOWS_DAYS, sizes: Sequence[int] = SIZES) -> list[str]:
    """Names of the maps in `indicator_raw` order: window outer, then neighbourhood size."""
    return [f"maxmag_{w}d_{k}x{k}" for w in windows for k in sizes]


def window_max(events: GriddedEvents, start: int, stop: int, window: int) -> np.ndarray:
    """Largest magnitude per cell over days ``(T - window, T]``: float32 ``(n, n_cells)``."""
    n = stop - start
    out = np.zeros((n, events.grid.n_cells), dtype=np.float32)
    s = events.span(start - window + 1, stop)
    day, cell, mag = events.day[s].astype(np.int64), events.cell[s], events.mag[s]
    first = np.maximum(day, start) - start  # first covered row of the block
    count = np.minimum(day + window, stop) - start - first
    rows = np.repeat(first - np.cumsum(count) + count, count) + np.arange(count.sum())
    np.maximum.at(out, (rows, np.repeat(cell, count)), np.repeat(mag, count))
    return out


def indicator_raw(
    events: GriddedEvents,
    start: int,
    stop: int,
    chunk: int = 16,
    windows: Sequence[int] = WINDOWS_DAYS,
    sizes: Sequence[int] = SIZES,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first_day, raw)``, raw float32 ``(n, len(windows) * len(sizes), ny * nx)`` for
    days ``[start, stop)`` in `raw_names` order."""
    grid = events.grid
    for a in range(start, stop, chunk):
        n = min(chunk, stop - a)
        out = np.empty((n, len(windows) * len(sizes), grid.n_cells), dtype=np.float32)
        for i, w in enumerate(windows):
            m = window_max(events, a, a + n, w)
            for j, k in enumerate(sizes):
                o = out[:, i * len(sizes) + j]
                if k == 1:
                    o[:] = m
                elif m.any():
                    cube = m.reshape(n, *grid.shape)
                    o[:] = maximum_filter(cube, size=(1, k, k), mode="constant").reshape(n, -1)
                else:
                    o[:] = 0.0
        yield a, out
