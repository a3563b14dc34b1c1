"""Training rows of the boosting models: temporal folds and sampled (day, cell) pairs.

`SampledRows` keeps, for one pass over the fitting days, every positive pair and the
"busy" negatives (any non-zero raw value) drawn at rate ``neg_rate``, with their raw
values; "quiet" pairs (raw all 0) are only counted per (segment, label, cell), where the
segments are the days between consecutive fold and period edges (`fold_edges`). How the
booster uses them (out-of-fold prior, weighted quiet rows): `quake.models.boosting`.
"""

from __future__ import annotations

import numpy as np


class SampledRows:
    """Sampled training rows of one pass: busy rows with raw values and quiet counts per
    cell and segment (day ranges between consecutive ``edges``)."""

    def __init__(self, n_cells: int, ranges: dict, edges: np.ndarray):
        self.ranges, self.edges = ranges, edges
        self.day, self.cell, self.y, self.raw = [], [], [], []
        self.quiet = np.zeros((len(edges) - 1, 2, n_cells), dtype=np.int64)

    def add(self, a: int, raw: np.ndarray, y: np.ndarray, u: np.ndarray, rate: float) -> None:
        days = np.arange(a, a + raw.shape[0])
        busy = raw.any(axis=1)
        seg = np.searchsorted(self.edges, days, side="right") - 1
        for g in np.unique(seg):
            if 0 <= g < len(self.quiet):
                q, yi = ~busy[seg == g], y[seg == g]
                self.quiet[g, 0] += (q & ~yi).sum(axis=0)
                self.quiet[g, 1] += (q & yi).sum(axis=0)
        di, ci = np.nonzero(busy & (y | (u < rate)))
        self.day.append(a + di)
        self.cell.append(ci)
        self.y.append(y[di, ci])
        self.raw.append(raw[di, :, ci])

    def done(self) -> None:
        self.day, self.cell, self.y, self.raw = (
            np.concatenate(x) for x in (self.day, self.cell, self.y, self.raw)
        )

    def quiet_counts(self, s0: int, s1: int) -> np.ndarray:
        """Quiet (negative, positive) counts per cell over days ``[s0, s1)`` (segment edges)."""
        g0, g1 = np.searchsorted(self.edges, [s0, s1])
        if self.edges[g0] != s0 or self.edges[g1] != s1:
            raise ValueError(f"[{s0}, {s1}) is not made of whole segments")
        return self.quiet[g0:g1].sum(axis=0)


def fold_edges(start: int, stop: int, n_folds: int) -> np.ndarray:
    """Edges of ``n_folds`` contiguous, near-equal day blocks of ``[start, stop)``."""
    return np.linspace(start, stop, n_folds + 1).round().astype(np.int64)
