"""Streaming operating curves: a forecast's score distribution kept as histograms.

A test period has ~10^8 (day, cell) pairs. `OperatingCurve` reads them block by block
and keeps, per class, the number of scores in each of ~4000 fine bins, so that ROC and
PR curves, confusion counts at any threshold and Molchan (1990) error diagrams come out
of a few kilobytes instead of the raw scores.

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
ROC AUC and average precision treat scores within a bin as ties (as sklearn treats equal
scores); they agree with sklearn on the raw scores to ~1e-5 on realistic data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from quake.errors import MetricsError

PROTOCOL_THRESHOLDS: tuple[float, ...] = (1e-4, 0.1, 0.5, 0.99)
_FORMAT = "quake.OperatingCurve/1"


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
        k -= pc < lo[k]
        k += pc >= hi[k]
        return k

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description of the design."""
        return {"logit_max": self.logit_max, "n_cells": self.n_cells, "snap": list(self.snap)}


DEFAULT_DESIGN = BinDesign()


def _sparse(h: np.ndarray, key: str) -> dict[str, list]:
    nz = np.flatnonzero(h)
    return {"bin": nz.tolist(), key: h[nz].tolist()}


def _dense(d: dict[str, list], key: str, n: int, dtype: type) -> np.ndarray:
    idx = np.asarray(d["bin"], dtype=np.int64)
    val = np.asarray(d[key], dtype=dtype)
    if idx.shape != val.shape or idx.ndim != 1 or np.any((idx < 0) | (idx >= n)) or np.any(val < 0):
        raise MetricsError(f"corrupt curve histogram: bins must lie in [0, {n}), values >= 0")
    out = np.zeros(n, dtype=dtype)
    np.add.at(out, idx, val)
    return out


class OperatingCurve:
    """Histograms of the scores of positive and negative (day, cell) pairs.

    hist: (2, n_bins) int64 counts, row 0 negatives, row 1 positives.
    whist: (2, n_bins) float64 summed per-pair weights (e.g. the naive baseline's
    probability, for the rate-weighted Molchan diagram), or None for an unweighted curve.
    """

    def __init__(self, design: BinDesign = DEFAULT_DESIGN) -> None:
        self.design = design
        self.hist = np.zeros((2, design.n_bins), dtype=np.int64)
        self.whist: np.ndarray | None = None
        self._cache: dict[str, np.ndarray] = {}

    @classmethod
    def empty(cls, design: BinDesign = DEFAULT_DESIGN) -> OperatingCurve:
        """A curve with no pairs yet."""
        return cls(design)

    def __repr__(self) -> str:
        w = ", weighted" if self.weighted else ""
        return f"OperatingCurve(n_pairs={self.n_pairs}, n_positive={self.n_positive}{w})"

    @property
    def n_positive(self) -> int:
        """Number of positive pairs (target events)."""
        return int(self.hist[1].sum())

    @property
    def n_negative(self) -> int:
        """Number of negative pairs."""
        return int(self.hist[0].sum())

    @property
    def n_pairs(self) -> int:
        """Number of (day, cell) pairs seen."""
        return int(self.hist.sum())

    @property
    def weighted(self) -> bool:
        """Whether per-pair weights were accumulated."""
        return self.whist is not None

    @property
    def edges(self) -> np.ndarray:
        """Bin edges in probability, shape (n_bins + 1,)."""
        return self.design.edges

    def update(
        self, y_block: np.ndarray, p_block: np.ndarray, weight_block: np.ndarray | None = None
    ) -> OperatingCurve:
        """Add a block of pairs in place and return self.

        y_block: labels, any shape, bool or 0/1. p_block: probabilities, same size, any float
        dtype. weight_block: optional non-negative per-pair weights, same size; a curve is
        either weighted from its first pair on or never.
        """
        y = np.asarray(y_block).ravel()
        p = np.asarray(p_block).ravel()
        if y.size != p.size:
            raise MetricsError(f"labels ({y.size}) and scores ({p.size}) differ in size")
        if weight_block is None and self.whist is not None:
            raise MetricsError("this curve is weighted; pass weight_block with every block")
        if weight_block is not None and self.whist is None and self.n_pairs:
            raise MetricsError("this curve was started without weights; weight every block or none")
        if y.dtype != np.bool_:
            if np.any((y != 0) & (y != 1)):
                raise MetricsError("labels must be bool or 0/1; pass (event counts > 0) for counts")
            y = y != 0
        n = self.design.n_bins
        k = self.design.bin_index(p)
        k[y] += n
        w = None
        if weight_block is not None:
            w = np.asarray(weight_block, dtype=np.float64).ravel()
            if w.size != p.size:
                raise MetricsError(f"weights ({w.size}) and scores ({p.size}) differ in size")
            if w.size and not (np.isfinite(w).all() and w.min() >= 0):
                raise MetricsError("weights must be finite and non-negative")
        self.hist += np.bincount(k, minlength=2 * n).reshape(2, n)
        if w is not None:
            if self.whist is None:
                self.whist = np.zeros((2, n), dtype=np.float64)
            self.whist += np.bincount(k, weights=w, minlength=2 * n).reshape(2, n)
        self._cache.clear()
        return self

    def copy(self) -> OperatingCurve:
        """An independent copy."""
        out = OperatingCurve(self.design)
        out.hist = self.hist.copy()
        out.whist = None if self.whist is None else self.whist.copy()
        return out

    def merge(self, other: OperatingCurve) -> OperatingCurve:
        """A new curve holding the pairs of both (e.g. two test periods or two workers)."""
        if other.design != self.design:
            raise MetricsError("cannot merge curves with different bin designs")
        if self.weighted != other.weighted and (other if self.weighted else self).n_pairs:
            raise MetricsError("cannot merge a weighted curve with an unweighted one")
        out = self.copy()
        out.hist += other.hist
        if other.whist is not None:
            out.whist = other.whist.copy() if out.whist is None else out.whist + other.whist
        return out

    __add__ = merge

    # ---- operating points -------------------------------------------------------------
    def _points(self) -> dict[str, np.ndarray]:
        """Cached cumulative counts (not copies: callers must not write to them)."""
        if not self._cache:
            rev = np.cumsum(self.hist[:, ::-1], axis=1)[:, ::-1]
            self._cache["threshold"] = self.edges
            self._cache["fp"] = np.append(rev[0], 0)
            self._cache["tp"] = np.append(rev[1], 0)
            if self.whist is not None:
                wsum = self.whist.sum(axis=0)
                self._cache["alarm_weight"] = np.append(np.cumsum(wsum[::-1])[::-1], 0.0)
        return self._cache

    def operating_points(self) -> dict[str, np.ndarray]:
        """Every operating point "alarm = p >= edges[k]", k = 0..n_bins (shape (n_bins + 1,)).

        Keys: threshold, tp, fp (alarmed positives / negatives, non-increasing in k) and,
        for a weighted curve, alarm_weight (summed weight of alarmed pairs).
        """
        return {key: v.copy() for key, v in self._points().items()}

    def counts_at(self, threshold: float | np.ndarray) -> dict[str, Any]:
        """Confusion counts for "alarm = p >= threshold", vectorised over thresholds.

        threshold: scalar or array (any shape). Returns tp, fn, fp, tn (ints for a scalar,
        int64 arrays otherwise) and `edge`, the bin edge actually used (the smallest edge
        >= threshold): exact when threshold is an edge, else within one bin. O(log n_bins).
        """
        t = np.asarray(threshold, dtype=np.float64)
        if np.isnan(t).any():
            raise MetricsError("threshold is NaN")
        pts = self._points()
        k = np.searchsorted(self.edges, t, side="left")
        tp, fp = pts["tp"][k], pts["fp"][k]
        out = {
            "edge": self.edges[k],
            "tp": tp,
            "fn": self.n_positive - tp,
            "fp": fp,
            "tn": self.n_negative - fp,
        }
        if t.ndim == 0:
            return {key: (float(v) if key == "edge" else int(v)) for key, v in out.items()}
        return out

    def threshold_for_tp(self, tp_target: int) -> float:
        """Highest bin edge t whose alarms (p >= t) catch at least tp_target positives.

        That is the sparsest alarm set reaching the target; NaN if tp_target > n_positive.
        """
        if tp_target > self.n_positive:
            return math.nan
        tp = self._points()["tp"]
        r = int(np.searchsorted(tp[::-1], tp_target, side="left"))
        return float(self.edges[len(tp) - 1 - r])

    def best_f1_threshold(self) -> float:
        """Bin edge maximising F1 = 2TP / (2TP + FP + FN) (highest such edge on ties)."""
        if self.n_positive == 0:
            return math.nan
        pts = self._points()
        tp, fp = pts["tp"][:-1], pts["fp"][:-1]
        f1 = 2.0 * tp / (tp + fp + self.n_positive)
        k = len(f1) - 1 - int(np.argmax(f1[::-1]))
        return float(self.edges[k])

    # ---- areas and curves -------------------------------------------------------------
    def roc_auc(self) -> float:
        """Area under the ROC curve, ties within a bin counted half (as sklearn does)."""
        if self.n_positive == 0 or self.n_negative == 0:
            return math.nan
        pts = self._points()
        tpr, fpr = pts["tp"][::-1] / self.n_positive, pts["fp"][::-1] / self.n_negative
        return float(np.trapezoid(tpr, fpr))

    def pr_auc(self) -> float:
        """Average precision, sum_k (R_k - R_{k-1}) P_k over bins (sklearn's definition)."""
        if self.n_positive == 0 or self.n_negative == 0:
            return math.nan
        pts = self._points()
        pos = self.hist[1]
        has = pos > 0
        tp, fp = pts["tp"][:-1][has], pts["fp"][:-1][has]
        return float(np.sum(pos[has] * (tp / (tp + fp))) / self.n_positive)

    def _nonempty_points(self) -> dict[str, np.ndarray]:
        """Operating points at the lower edge of each non-empty bin, then k = n_bins."""
        pts = self._points()
        keep = np.append(self.hist.sum(axis=0) > 0, True)
        return {key: v[keep][::-1] for key, v in pts.items()}  # alarms growing

    def roc_curve(self, max_points: int | None = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fpr, tpr, threshold) arrays from (0, 0) to (1, 1), thinned to <= max_points."""
        if self.n_positive == 0 or self.n_negative == 0:
            return np.array([]), np.array([]), np.array([])
        pts = self._nonempty_points()
        x, y = pts["fp"] / self.n_negative, pts["tp"] / self.n_positive
        i = thin(x, y, max_points)
        return x[i], y[i], pts["threshold"][i]

    def pr_curve(self, max_points: int | None = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(recall, precision, threshold) arrays, recall growing, thinned to <= max_points."""
        if self.n_positive == 0:
            return np.array([]), np.array([]), np.array([])
        pts = self._nonempty_points()
        tp, fp, thr = pts["tp"][1:], pts["fp"][1:], pts["threshold"][1:]  # drop "no alarm"
        x, y = tp / self.n_positive, tp / (tp + fp)
        i = thin(x, y, max_points)
        return x[i], y[i], thr[i]

    # ---- serialisation ----------------------------------------------------------------
    def histograms(self) -> dict[str, np.ndarray | None]:
        """Copies of the raw histograms, each shape (n_bins,)."""
        w = self.whist
        return {
            "negative": self.hist[0].copy(),
            "positive": self.hist[1].copy(),
            "weighted_negative": None if w is None else w[0].copy(),
            "weighted_positive": None if w is None else w[1].copy(),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict holding only the non-empty bins (a few kB)."""
        out: dict[str, Any] = {
            "format": _FORMAT,
            "design": self.design.to_dict(),
            "negative": _sparse(self.hist[0], "count"),
            "positive": _sparse(self.hist[1], "count"),
        }
        if self.whist is not None:
            out["weighted_negative"] = _sparse(self.whist[0], "weight")
            out["weighted_positive"] = _sparse(self.whist[1], "weight")
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OperatingCurve:
        """Inverse of `to_dict`."""
        if d.get("format") != _FORMAT:
            raise MetricsError(f"not a saved curve: format {d.get('format')!r}, want {_FORMAT!r}")
        des = d["design"]
        snap = tuple(map(float, des["snap"]))
        design = BinDesign(float(des["logit_max"]), int(des["n_cells"]), snap)
        if design == DEFAULT_DESIGN:
            design = DEFAULT_DESIGN  # share the cached edge tables
        out = cls(design)
        n = design.n_bins
        out.hist = np.stack(
            [
                _dense(d["negative"], "count", n, np.int64),
                _dense(d["positive"], "count", n, np.int64),
            ]
        )
        if "weighted_negative" in d:
            out.whist = np.stack(
                [
                    _dense(d["weighted_negative"], "weight", n, np.float64),
                    _dense(d["weighted_positive"], "weight", n, np.float64),
                ]
            )
        return out


def thin(x: np.ndarray, y: np.ndarray, max_points: int | None = 500) -> np.ndarray:
    """Indices of <= max_points points spread evenly along the polyline (x, y), ends kept.

    x, y: (n,) coordinates of comparable scale (rates in [0, 1]). For plotting only.
    """
    n = len(x)
    if max_points is None or n <= max_points:
        return np.arange(n)
    s = np.concatenate(([0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))))
    idx = np.searchsorted(s, np.linspace(0.0, s[-1], max_points - 1), side="left")
    return np.unique(np.concatenate((idx.clip(0, n - 1), [0, n - 1])))
