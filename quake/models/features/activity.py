"""Decayed seismic energy per cell and box smoothing (the relative-intensity baseline).

``S(T, c) = sum_{cell-days (d, c), d <= T} 10 ** (m - 5) * exp(-(T - d) / tau)``: the
largest magnitude of each cell-day as an M5-equivalent energy (one M5 = 1, one M6 = 10),
decayed with e-folding time ``tau`` days. It is computed recursively,
``S(T) = S(T - 1) * exp(-1 / tau) + E(T)``, after an exact sparse start at ``start - 1``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy.ndimage import uniform_filter

from quake.data.events import GriddedEvents


def energy(mag: np.ndarray) -> np.ndarray:
    """M5-equivalent energy ``10 ** (m - 5)`` (float64), one value per cell-day."""
    return np.power(10.0, np.asarray(mag, dtype=np.float64) - 5.0)


def decayed_energy(
    events: GriddedEvents, start: int, stop: int, tau: float, chunk: int = 64
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first_day, S)`` with S float32 ``(n, ny, nx)`` for days ``[start, stop)``.

    ``S`` at day T holds events of days ``<= T`` only (the forecast day included).
    """
    grid = events.grid
    s = events.span(0, start)
    with np.errstate(under="ignore"):
        w = energy(events.mag[s]) * np.exp(-(start - 1 - events.day[s]) / tau)
    # float64 even with no event before ``start`` (bincount of no weights is int64)
    state = np.bincount(events.cell[s], weights=w, minlength=grid.n_cells).astype(np.float64)
    decay = np.exp(-1.0 / tau)
    for a in range(start, stop, chunk):
        n = min(chunk, stop - a)
        sp = events.span(a, a + n)
        day, cell, e = events.day[sp] - a, events.cell[sp], energy(events.mag[sp])
        out = np.empty((n, grid.n_cells), dtype=np.float32)
        bounds = np.searchsorted(day, np.arange(n + 1))
        for i in range(n):
            state *= decay
            j0, j1 = bounds[i], bounds[i + 1]
            if j1 > j0:
                np.add.at(state, cell[j0:j1], e[j0:j1])
            out[i] = state
        yield a, out.reshape(n, *grid.shape)


def box_mean(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the ``(2r + 1) x (2r + 1)`` box of cells around each cell, zeros outside.

    x: float ``(..., ny, nx)``; returns float32 of the same shape (radius 0: a copy).
    """
    x = np.asarray(x, dtype=np.float32)
    if radius <= 0:
        return x.copy()
    size = [1] * (x.ndim - 2) + [2 * radius + 1] * 2
    out = uniform_filter(x, size=size, mode="constant", cval=0.0)
    # uniform_filter's running sums can leave tiny negatives where all inputs are >= 0.
    np.maximum(out, 0.0, out=out)
    return out
