"""Histograms of binned scores for several cell masks at once.

A scoring run keeps one operating curve per mask (all cells, the active ones). Counting
each mask on its own copies its cells out of every block of forecasts and bins them
again. `CellGroups` instead splits the cells by which masks they lie in (two nested masks:
two groups), counts every pair of a block once into its group's histogram with one
``bincount``, and adds up each mask's groups. The integer counts are the same as counting
each mask's pairs directly; weighted sums agree to float rounding (they are added up in
another order).
"""

from __future__ import annotations

import numpy as np

from quake.metrics.curves import OperatingCurve

__all__ = ["CellGroups"]


class CellGroups:
    """The cells of ``masks`` (``{name: flat bool (n_cells,)}``, one length) grouped by the
    set of masks each lies in; cells in no mask form a group too (counted, never used)."""

    def __init__(self, masks: dict[str, np.ndarray]) -> None:
        if not masks:
            raise ValueError("CellGroups needs at least one mask")
        flat = {m: np.asarray(k, dtype=bool).ravel() for m, k in masks.items()}
        sizes = {k.size for k in flat.values()}
        if len(sizes) != 1:
            raise ValueError(f"masks of different sizes: {sorted(sizes)}")
        code = np.zeros(sizes.pop(), dtype=np.int64)
        for j, k in enumerate(flat.values()):
            code |= k.astype(np.int64) << j
        codes, group = np.unique(code, return_inverse=True)
        self.group = group.astype(np.intp).ravel()
        """Group of each cell, 0 .. n_groups - 1."""
        self.n_groups = len(codes)
        self.members = {m: np.flatnonzero((codes >> j) & 1) for j, m in enumerate(flat)}
        """The groups of each mask."""

    def count(
        self,
        bins: np.ndarray,
        y: np.ndarray,
        n_bins: int,
        weights: np.ndarray | None = None,
        rows: np.ndarray | None = None,
        n_rows: int = 1,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Counts of a block of pairs by (row, group, label, bin).

        ``bins``: int (n_days, n_cells) in [0, n_bins); ``y``: bool (n_days, n_cells);
        ``weights``: float64 (n_cells,) per-cell pair weights or None; ``rows``: int
        (n_days,) in [0, n_rows), a histogram row per day (e.g. its bootstrap block), or
        None for one row. Returns int64 counts (n_rows, n_groups, 2, n_bins) and, with
        weights, their summed weights (float64, same shape)."""
        n_days, n_cells = bins.shape
        shape = (n_rows, self.n_groups, 2, n_bins)
        base = self.group * (2 * n_bins)  # (n_cells,)
        if rows is not None:
            base = (
                base[None, :] + (np.asarray(rows, np.intp) * (self.n_groups * 2 * n_bins))[:, None]
            )
        key = bins + base  # a new array
        np.add(key, n_bins, out=key, where=y)  # positives in the upper half (no temporary)
        key = key.ravel()
        size = int(np.prod(shape))
        hist = np.bincount(key, minlength=size).reshape(shape)
        whist = None
        if weights is not None:
            w = np.broadcast_to(np.asarray(weights, np.float64), (n_days, n_cells)).ravel()
            whist = np.bincount(key, weights=w, minlength=size).reshape(shape)
        return hist, whist

    def per_mask(self, h: np.ndarray) -> dict[str, np.ndarray]:
        """``{mask: h summed over the mask's groups}`` for h (..., n_groups, 2, n_bins)."""
        return {m: h[..., g, :, :].sum(axis=-3) for m, g in self.members.items()}

    def add_to(
        self,
        curves: dict[str, OperatingCurve],
        bins: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> None:
        """Count a block (as `count`, one row) into each mask's curve ``curves[mask]``;
        ``bins`` are in the curves' design (one design for all)."""
        n_bins = next(iter(curves.values())).design.n_bins
        hist, whist = self.count(bins, y, n_bins, weights)
        wmask = self.per_mask(whist[0]) if whist is not None else {}
        for m, h in self.per_mask(hist[0]).items():
            curves[m].add_counts(h, wmask.get(m))
