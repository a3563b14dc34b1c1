"""Sparse daily heat maps: events as (day, cell, magnitude) arrays.

The paper's input is one heat map a day: each cell holds the magnitude of that
day's largest event, 0 where there is none. Kept dense for 1990-2019 at 10 km
that is a 1.9 GB float32 cube of mostly zeros, so the maps are stored sparse and
dense ``(days, ny, nx)`` blocks are built only for the window a batch or map needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from quake.data.grid import Grid


@dataclass(frozen=True)
class GriddedEvents:
    """One entry per (day, cell) that had an event: the largest magnitude that day.

    Attributes:
        grid: the grid the cells refer to.
        epoch: the date of day 0 (UTC).
        day: ``(n,)`` int32 day numbers, sorted ascending (ties by cell).
        cell: ``(n,)`` int32 cell numbers (``iy * nx + ix``).
        mag: ``(n,)`` float32 largest magnitude of the cell-day.
        n_outside: catalog events that fell outside the grid (or before the epoch).
        n_events: catalog events inside the grid (before merging cell-days).
    """

    grid: Grid
    epoch: date
    day: np.ndarray
    cell: np.ndarray
    mag: np.ndarray
    n_outside: int = 0
    n_events: int = 0

    @classmethod
    def from_catalog(cls, events: pd.DataFrame, grid: Grid, epoch: date) -> GriddedEvents:
        """Grid a canonical event table (see `quake.data.catalog`)."""
        t = events["time"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]")
        day = (t - np.datetime64(epoch, "ns")) // np.timedelta64(1, "D")
        cell = grid.cell_index(events["latitude"].to_numpy(), events["longitude"].to_numpy())
        return cls.from_arrays(grid, epoch, day, cell, events["magnitude"].to_numpy())

    @classmethod
    def from_arrays(
        cls, grid: Grid, epoch: date, day: np.ndarray, cell: np.ndarray, mag: np.ndarray
    ) -> GriddedEvents:
        """Build from per-event arrays; cell -1 or negative day means outside."""
        day = np.asarray(day, dtype=np.int64)
        cell = np.asarray(cell, dtype=np.int64)
        mag = np.asarray(mag, dtype=np.float32)
        inside = (cell >= 0) & (day >= 0)
        n_outside = int((~inside).sum())
        day, cell, mag = day[inside], cell[inside], mag[inside]
        key = day * grid.n_cells + cell
        # Sort by key, then magnitude: the last row of each key is the cell-day's largest.
        order = np.lexsort((mag, key))
        key, mag = key[order], mag[order]
        last = np.ones(len(key), dtype=bool)
        last[:-1] = key[1:] != key[:-1]
        key, mag = key[last], mag[last]
        d, c = np.divmod(key, grid.n_cells)
        return cls(
            grid=grid,
            epoch=epoch,
            day=d.astype(np.int32),
            cell=c.astype(np.int32),
            mag=mag,
            n_outside=n_outside,
            n_events=int(inside.sum()),
        )

    def __len__(self) -> int:
        return len(self.day)

    def span(self, start: int, stop: int) -> slice:
        """Index slice of the entries with ``start <= day < stop``."""
        lo, hi = np.searchsorted(self.day, [start, stop], side="left")
        return slice(int(lo), int(hi))

    def dense(self, start: int, stop: int, min_mag: float | None = None) -> np.ndarray:
        """Heat maps of days ``[start, stop)``: float32 ``(stop - start, ny, nx)``."""
        n = max(0, stop - start)
        out = np.zeros((n, self.grid.n_cells), dtype=np.float32)
        s = self.span(start, stop)
        d, c, m = self.day[s], self.cell[s], self.mag[s]
        if min_mag is not None:
            keep = m >= np.float32(min_mag)
            d, c, m = d[keep], c[keep], m[keep]
        out[d - start, c] = m
        return out.reshape(n, *self.grid.shape)

    def counts_per_cell(self, start: int, stop: int, min_mag: float | None = None) -> np.ndarray:
        """Number of event-days per cell in ``[start, stop)``: ``(ny * nx,)`` int64."""
        s = self.span(start, stop)
        c, m = self.cell[s], self.mag[s]
        if min_mag is not None:
            c = c[m >= np.float32(min_mag)]
        return np.bincount(c, minlength=self.grid.n_cells)

    def coarsen(self, factor: int) -> GriddedEvents:
        """The same events on a grid with ``factor``-times larger cells (largest magnitude wins)."""
        coarse = self.grid.coarsen(factor)
        iy, ix = np.divmod(self.cell.astype(np.int64), self.grid.nx)
        cell = (iy // factor) * coarse.nx + ix // factor
        out = GriddedEvents.from_arrays(coarse, self.epoch, self.day, cell, self.mag)
        return GriddedEvents(
            coarse, self.epoch, out.day, out.cell, out.mag, self.n_outside, self.n_events
        )
