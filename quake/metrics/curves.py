"""Streaming operating curves: a forecast's score distribution kept as histograms.

A test period has ~10^8 (day, cell) pairs. `OperatingCurve` reads them block by block
and keeps, per class, the number of scores in each of ~4000 fine bins, so that ROC and
PR curves, confusion counts at any threshold and Molchan (1990) error diagrams come out
of a few kilobytes instead of the raw scores.

The bins (`quake.metrics.bins.BinDesign`) are ~4000 equal cells on the logit axis, with
the protocol thresholds moved onto bin edges. Hence "alarm = p >= t" is counted exactly
when t is a bin edge; for any other t the count is the one at the nearest edge at or
above t, i.e. it may leave out the scores of one bin. ROC AUC and average precision
treat scores within a bin as ties (as sklearn treats equal scores). On 2 million
lognormal scores, ROC AUC agrees with sklearn on the raw scores to ~1e-5; average
precision is ~0.4 % lower (relative), because a bin is one threshold and all its positives
get the bin's precision (stop 27's audit; the coarse bins of the block histograms: ~2 %,
shifted back by `quake.metrics.bootstrap`). Table II's PR AUC carries that ~0.4 %.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from quake.errors import MetricsError
from quake.metrics.bins import DEFAULT_DESIGN, BinDesign

_FORMAT = "quake.OperatingCurve/1"


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
        if y.dtype != np.bool_:
            if np.any((y != 0) & (y != 1)):
                raise MetricsError("labels must be bool or 0/1; pass (event counts > 0) for counts")
            y = y != 0
        w = None
        if weight_block is not None:
            w = np.asarray(weight_block, dtype=np.float64).ravel()
            if w.size != p.size:
                raise MetricsError(f"weights ({w.size}) and scores ({p.size}) differ in size")
            if w.size and not (np.isfinite(w).all() and w.min() >= 0):
                raise MetricsError("weights must be finite and non-negative")
        n = self.design.n_bins
        k = self.design.bin_index(p)
        k[y] += n
        hist = np.bincount(k, minlength=2 * n).reshape(2, n)
        whist = None if w is None else np.bincount(k, weights=w, minlength=2 * n).reshape(2, n)
        return self.add_counts(hist, whist)

    def add_counts(self, hist: np.ndarray, whist: np.ndarray | None = None) -> OperatingCurve:
        """Add pairs counted elsewhere in this curve's design: ``hist`` int (2, n_bins) and,
        for a weighted curve, their summed weights ``whist`` (2, n_bins). What `update`
        does after binning; `quake.scoring.evaluate` bins a block once and counts it for
        every mask (`quake.metrics.groups.CellGroups`)."""
        if whist is None and self.whist is not None:
            raise MetricsError("this curve is weighted; pass weight_block with every block")
        if whist is not None and self.whist is None and self.n_pairs:
            raise MetricsError("this curve was started without weights; weight every block or none")
        self.hist += hist
        if whist is not None:
            if self.whist is None:
                self.whist = np.zeros((2, self.design.n_bins), dtype=np.float64)
            self.whist += whist
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
