"""Where the score histograms of an `OperatingCurve` cut the probability axis.

Bin design (`BinDesign`, default: logit range 25, 4000 cells, protocol thresholds snapped):

- Scores are probabilities p in [0, 1] (values outside are clipped; NaN is an error).
- The logit axis [-25, 25] is cut into 4000 equal cells of width 0.0125 (a 1.25 % change
  in the odds p / (1 - p)): equal resolution for rare-event probabilities (~1e-6) and for
  confident ones (~1 - 1e-6), which a linear grid in p cannot give. Two open-ended bins
  take p < expit(-25) ~ 1.4e-11 and p >= expit(25) ~ 1 - 1.4e-11: 4002 bins in all.
- The cell edge nearest each protocol threshold (1e-4, 0.1, 0.5, 0.99) is moved onto the
  threshold itself (by less than half a cell), so that confusion counts there are exact.
- Bin k holds edges[k] <= p < edges[k + 1] compared as real numbers (a float32 score is
  compared exactly with the float64 edge), with edges[0] = 0 and edges[-1] = +inf.

Hence "alarm = p >= t" is counted exactly when t is a bin edge; for any other t the count
is the one at the nearest edge at or above t, i.e. it may leave out the scores of one bin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from quake.data.protocol import PROTOCOL_THRESHOLDS
from quake.errors import MetricsError


def _round_up_f32(x: np.ndarray) -> np.ndarray:
    """Smallest float32 >= x, elementwise: for float32 p, p >= x <=> p >= _round_up_f32(x)."""
    r = x.astype(np.float32)
    low = r.astype(np.float64) < x
    r[low] = np.nextafter(r[low], np.float32(np.inf))
    return r


@dataclass(frozen=True)
class BinDesign:
    """Where the bin edges of an `OperatingCurve` lie (see the module docstring).

    logit_max: the fine cells cover logit(p) in [-logit_max, logit_max].
    n_cells: number of equal-width cells on that range (bins = n_cells + 2).
    snap: thresholds that become exact bin edges.
    """

    logit_max: float = 25.0
    n_cells: int = 4000
    snap: tuple[float, ...] = PROTOCOL_THRESHOLDS

    def __post_init__(self) -> None:
        if not (self.logit_max > 0 and self.n_cells >= 2):
            raise MetricsError(f"bad bin design {self}: need logit_max > 0 and n_cells >= 2")
        _ = self.edges  # build and validate the edges now, not at first use

    @property
    def n_bins(self) -> int:
        """Number of histogram bins (fine cells plus the two open-ended tails)."""
        return self.n_cells + 2

    @property
    def width(self) -> float:
        """Width of one fine cell in logit units."""
        return 2.0 * self.logit_max / self.n_cells

    @cached_property
    def edges(self) -> np.ndarray:
        """Bin edges in probability, shape (n_bins + 1,): 0, expit(grid)..., +inf."""
        lim, w = self.logit_max, self.width
        inner = 1.0 / (1.0 + np.exp(-np.linspace(-lim, lim, self.n_cells + 1)))
        for t in self.snap:
            if not 0.0 < t < 1.0 or abs(math.log(t / (1.0 - t))) >= lim:
                raise MetricsError(f"snap threshold {t} lies outside the logit range ±{lim}")
            inner[round((math.log(t / (1.0 - t)) + lim) / w)] = t
        edges = np.concatenate(([0.0], inner, [np.inf]))
        if not np.all(np.diff(edges) > 0):
            raise MetricsError(f"snap thresholds {self.snap} are closer than one bin apart")
        return edges

    @cached_property
    def _tables(self) -> dict[str, np.ndarray]:
        lo, hi = self.edges[:-1], self.edges[1:]
        return {"lo64": lo, "hi64": hi, "lo32": _round_up_f32(lo), "hi32": _round_up_f32(hi)}

    def bin_index(self, p: np.ndarray) -> np.ndarray:
        """Bin of each score: p of any shape and float dtype -> (p.size,) intp in [0, n_bins).

        The cell is computed from the logit in the score's own precision (float32 for
        float16/float32 input), then moved by at most one bin by exact comparisons with
        the edges, which absorbs rounding and the snapped edges.
        """
        p = np.asarray(p).ravel()
        t = self._tables
        if p.dtype == np.float64:
            pc, lo, hi = np.clip(p, 0.0, 1.0), t["lo64"], t["hi64"]
        else:  # float16 and ints convert to float32 exactly
            pc, lo, hi = p.astype(np.float32), t["lo32"], t["hi32"]
            np.clip(pc, 0.0, 1.0, out=pc)
        if np.isnan(pc).any():
            raise MetricsError("scores contain NaN; a forecast needs a probability for every pair")
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            z = np.subtract(1.0, pc, dtype=pc.dtype)  # 1 - p is exact for p >= 1/2 (Sterbenz)
            np.divide(pc, z, out=z)
            np.log(z, out=z)  # logit(p); -inf at p = 0, +inf at p = 1
        z *= 1.0 / self.width
        z += self.logit_max / self.width + 1.0  # +1: bin 0 is the lower tail
        np.clip(z, 0.0, self.n_bins - 1, out=z)
        k = z.astype(np.intp)
        k -= pc < np.take(lo, k)  # np.take: a faster gather than lo[k]
        k += pc >= np.take(hi, k)
        return k

    def coarser(self, other: BinDesign, dtype: np.dtype | type) -> np.ndarray | None:
        """``m`` with ``other.bin_index(p) == m[self.bin_index(p)]`` for every score p of
        ``dtype`` (float16/float32 compare as float32, float64 as float64), or None when
        ``other``'s bins are not unions of this design's. Exact, not approximate: each of
        ``other``'s edges, in the precision its scores are compared in, must be one of
        this design's (the coarse block-histogram design and the default one: yes)."""
        key = "lo64" if np.dtype(dtype) == np.float64 else "lo32"
        fine, coarse = self._tables[key], other._tables[key]
        if not np.isin(coarse, fine).all():
            return None
        # fine bin f holds [fine[f], next fine edge); it lies in the coarse bin whose lower
        # edge is the last one <= fine[f] (the fine edges refine the coarse ones)
        return (np.searchsorted(coarse, fine, side="right") - 1).astype(np.intp)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description of the design."""
        return {"logit_max": self.logit_max, "n_cells": self.n_cells, "snap": list(self.snap)}


DEFAULT_DESIGN = BinDesign()
