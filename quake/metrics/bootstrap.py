"""Block bootstrap of operating-curve scores from per-block histograms.

Forecast days are not independent (a 40-day target window, aftershock sequences), so the
unit of resampling is a block of consecutive forecast days (50 by default, longer than the
window). Each block keeps the histograms of an `OperatingCurve`: ``hist`` shape
``(n_blocks, 2, n_bins)`` (row 0 negatives, row 1 positives). A resample draws ``n_blocks``
blocks with replacement and sums their histograms; ROC AUC, PR AUC and confusion counts are
computed for all resamples at once (same formulas as `OperatingCurve`: ties within a bin
count half for ROC, PR AUC is average precision). 95 % intervals are (expanded) percentiles.

Paired: `paired_intervals` applies the same resampled blocks to two models' histograms (same
data and period, so block b is the same days for both), giving the interval of a difference.

Few independent pieces make percentile intervals too narrow: a resample strings together
about 22 runs of blocks (64 blocks of the test period in runs of 3), and on simulated days
the plain 95 % percentile intervals held the truth 90-93 % of the time. The intervals are
therefore *expanded percentile* intervals (Hesterberg 2015, "What teachers should know about
the bootstrap", The American Statistician 69): for ``u`` runs per resample the percentiles
are taken at the two-sided level ``2 Phi(sqrt(u / (u - 1)) t_{u-1}((1 + level) / 2)) - 1``
(0.967 instead of 0.95 for 22 runs), the small-sample correction of a t interval carried
over to the percentiles; the bootstrap p-values are mapped the same way, so that an
interval excludes 0 exactly when p < 1 - level (`expanded_level`, `expanded_p`).

The stored block histograms are on coarse bins (to stay small), and AUCs on coarse bins
treat more scores as ties: on the saved models, logit width 0.0625 moves ROC AUC by up to
0.005 and PR AUC by up to 2 %. Given the fine-bin value of the whole period (``point``),
the percentile interval is shifted by (fine - coarse) of the whole period, i.e. the coarse
bootstrap supplies the spread and the fine curve the centre; ``shift`` records it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import norm as normal
from scipy.stats import t as student_t

from quake.errors import MetricsError

N_RESAMPLES = 1000
RUN_BLOCKS = 3
"""Stored blocks drawn together: 3 x 50 = 150 days. Neighbouring 50-day blocks are not
independent (a target window reaches 50 days past its forecast day, and aftershock
sequences last longer), and drawing them one by one lost that covariance: on simulated
days with the protocol's 40-day window, intervals were ~15 % too narrow (coverage 0.84-0.93
for a nominal 0.95; `bench/bootstrap_coverage.py`). With runs of 3 and 30-day bursts they
still cover 0.90-0.93; longer runs cover less (5 blocks: 0.90-0.925, 8: 0.87-0.90;
docs/bench_bootstrap_coverage_runs.json), so what is left is not dependence beyond 150
days but the few independent draws: hence the expanded percentiles (module docstring), which
cover 0.93-0.96 there (docs/bench_bootstrap_coverage_expanded.json)."""
SEED = 12345
LEVEL = 0.95


def roc_auc_rows(hist: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of ``hist`` ``(..., 2, n_bins)``; NaN without a class."""
    h = np.asarray(hist, dtype=np.float64)
    neg, pos = h[..., 0, :], h[..., 1, :]
    above = np.cumsum(pos[..., ::-1], axis=-1)[..., ::-1] - pos  # positives in higher bins
    n_pos, n_neg = pos.sum(axis=-1), neg.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(neg * (above + 0.5 * pos), axis=-1) / (n_pos * n_neg)


def pr_auc_rows(hist: np.ndarray) -> np.ndarray:
    """Average precision of each row of ``hist`` ``(..., 2, n_bins)``; NaN without a class."""
    h = np.asarray(hist, dtype=np.float64)
    neg, pos = h[..., 0, :], h[..., 1, :]
    tp = np.cumsum(pos[..., ::-1], axis=-1)[..., ::-1]
    fp = np.cumsum(neg[..., ::-1], axis=-1)[..., ::-1]
    n_pos, n_neg = pos.sum(axis=-1), neg.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(pos > 0, tp / np.where(tp + fp > 0, tp + fp, 1.0), 0.0)
        out = np.sum(pos * prec, axis=-1) / n_pos
    return np.where((n_pos > 0) & (n_neg > 0), out, np.nan)


def counts_rows(hist: np.ndarray, edges: np.ndarray, thresholds: Sequence[float]) -> dict:
    """tp, fp (alarm = p >= the smallest edge >= t) per row and threshold: ``(..., n_t)``."""
    h = np.asarray(hist)
    k = np.searchsorted(edges, np.asarray(thresholds, dtype=np.float64), side="left")
    tp = np.cumsum(h[..., 1, ::-1], axis=-1)[..., ::-1]
    fp = np.cumsum(h[..., 0, ::-1], axis=-1)[..., ::-1]
    pad = [(0, 0)] * (tp.ndim - 1) + [(0, 1)]
    tp, fp = np.pad(tp, pad), np.pad(fp, pad)
    return {"tp": tp[..., k], "fp": fp[..., k]}


def run_length(n_blocks: int, run: int = RUN_BLOCKS) -> int:
    """Blocks per run: ``run``, fewer when the period has under 4 runs of them (a short
    catalog's 6 blocks are drawn in runs of 1, so that resamples still differ)."""
    return max(1, min(run, n_blocks // 4))


def resample_weights(
    n_blocks: int, n: int = N_RESAMPLES, seed: int = SEED, run: int = RUN_BLOCKS
) -> np.ndarray:
    """How often each block is drawn in each resample: ``(n, n_blocks)`` int64, rows sum to
    ``n_blocks``. A circular block bootstrap over the stored blocks (Politis & Romano 1992):
    each resample strings together runs of `run_length` consecutive blocks from random
    starts (wrapping at the end), cut to ``n_blocks``. The same seed gives the same draws
    (and pairs two models)."""
    if n_blocks < 2:
        raise MetricsError(f"a block bootstrap needs at least 2 blocks, got {n_blocks}")
    if n < 1000:
        raise MetricsError(f"use at least 1,000 resamples, got {n}")
    k = run_length(n_blocks, run)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n_blocks, size=(n, -(-n_blocks // k)))
    draws = (starts[:, :, None] + np.arange(k)).reshape(n, -1)[:, :n_blocks] % n_blocks
    out = np.zeros((n, n_blocks), dtype=np.int64)
    np.add.at(out, (np.arange(n)[:, None], draws), 1)
    return out


def resampled(block_hist: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Summed histograms of each resample: ``(n, 2, n_bins)`` from ``(n_blocks, 2, n_bins)``."""
    b = np.asarray(block_hist)
    if b.ndim != 3 or b.shape[1] != 2 or b.shape[0] != weights.shape[1]:
        raise MetricsError(
            f"block histograms of shape {b.shape} do not fit {weights.shape[1]} blocks"
        )
    flat = weights.astype(np.float64) @ b.reshape(b.shape[0], -1).astype(np.float64)
    return flat.reshape(len(weights), 2, b.shape[2])


def runs_per_resample(n_blocks: int, run: int = RUN_BLOCKS) -> int:
    """Independent draws in a resample: runs of `run_length` blocks covering ``n_blocks``."""
    return -(-n_blocks // run_length(n_blocks, run))


def expanded_level(level: float, units: int) -> float:
    """The percentile level that gives a ``level`` interval from ``units`` independent draws
    (expanded percentile interval, Hesterberg 2015; ``level`` itself below 2 draws)."""
    if units < 2:
        return level
    z = math.sqrt(units / (units - 1)) * student_t.ppf(0.5 + level / 2, units - 1)
    return float(2 * normal.cdf(z) - 1)


def expanded_p(p: float, units: int) -> float:
    """A two-sided bootstrap p-value mapped as `expanded_level` maps levels: the expanded
    interval of level ``1 - alpha`` excludes 0 exactly when this is below ``alpha``."""
    if units < 2 or not 0 < p < 1:
        return p
    t = normal.ppf(1 - p / 2) / math.sqrt(units / (units - 1))
    return float(min(1.0, 2 * student_t.sf(t, units - 1)))


def _interval(x: np.ndarray, level: float, units: int = 0) -> list[float]:
    """Percentile interval of ``x`` at ``level``, expanded for ``units`` independent draws."""
    x = x[np.isfinite(x)]
    if not x.size:
        return [float("nan"), float("nan")]
    a = (1 - expanded_level(level, units)) / 2
    return [float(np.quantile(x, a)), float(np.quantile(x, 1 - a))]


def intervals(
    block_hist: np.ndarray,
    edges: np.ndarray | None = None,
    thresholds: Sequence[float] = (),
    n: int = N_RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
    point: Mapping[str, float | None] | None = None,
    run: int = RUN_BLOCKS,
    expand: bool = True,
) -> dict[str, Any]:
    """Point values (all blocks summed) and ``level`` intervals of ROC AUC, PR AUC and, given
    the bin ``edges``, tp/fp at each threshold (``{"thresholds": [{threshold, tp, fp, tp_ci,
    fp_ci}]}``): expanded percentile intervals, plain percentiles with ``expand=False``
    (module docstring). ``point``: fine-bin ``roc_auc``/``pr_auc`` of the whole period;
    they become the point values and shift the intervals."""
    b = np.asarray(block_hist)
    units = runs_per_resample(b.shape[0], run) if expand else 0
    w = _weights(b.shape[0], n, seed, run)
    r = resampled(b, w)
    total = b.sum(axis=0)
    out: dict[str, Any] = {"shift": {}, **_about(w, b.shape[0], run, seed)}
    for key, fn in (("roc_auc", roc_auc_rows), ("pr_auc", pr_auc_rows)):
        coarse = float(fn(total))
        fine = (point or {}).get(key)
        shift = fine - coarse if fine is not None and np.isfinite([fine, coarse]).all() else 0.0
        out[key] = coarse + shift
        out[f"{key}_ci"] = [x + shift for x in _interval(fn(r), level, units)]
        out["shift"][key] = shift
    out["level"] = level
    out["percentile_level"] = expanded_level(level, units)
    if edges is not None and len(thresholds):
        c, c0 = counts_rows(r, edges, thresholds), counts_rows(total, edges, thresholds)
        out["thresholds"] = [
            {
                "threshold": float(t),
                "tp": int(c0["tp"][i]),
                "fp": int(c0["fp"][i]),
                "tp_ci": _interval(c["tp"][:, i], level, units),
                "fp_ci": _interval(c["fp"][:, i], level, units),
            }
            for i, t in enumerate(thresholds)
        ]
    return out


ONE_BLOCK = (
    "the period is shorter than two blocks of forecast days: no bootstrap interval "
    "(scores are point values)"
)


def _weights(n_blocks: int, n: int, seed: int, run: int) -> np.ndarray:
    """`resample_weights`, or none at all for a period of one block (a derived protocol's
    short period): every interval computed from no resample is then undefined (NaN)."""
    if n_blocks == 1:
        return np.zeros((0, 1), dtype=np.int64)
    return resample_weights(n_blocks, n, seed, run)


def _about(w: np.ndarray, n_blocks: int, run: int, seed: int) -> dict[str, Any]:
    """What a result says of its resampling (and, with none, why)."""
    out = {
        "n_blocks": int(n_blocks),
        "run_blocks": run_length(n_blocks, run),
        "n_resamples": len(w),
        "seed": int(seed),
    }
    return out | ({} if len(w) else {"note": ONE_BLOCK})


def paired_intervals(
    block_hist_a: np.ndarray,
    block_hist_b: np.ndarray,
    n: int = N_RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
    point_diff: Mapping[str, float | None] | None = None,
    run: int = RUN_BLOCKS,
    expand: bool = True,
) -> dict[str, Any]:
    """Differences A - B of ROC AUC and PR AUC with ``level`` intervals from the same
    resampled blocks (``point_diff``: the fine-bin differences, which centre them as in
    `intervals`; expanded as there unless ``expand=False``); ``p_*``: the share of
    resamples where the difference has the other sign than the point value, doubled (a
    two-sided bootstrap p, at most 1; 0 when no resample did, i.e. p < 2 / n), then
    mapped by `expanded_p`."""
    a, b = np.asarray(block_hist_a), np.asarray(block_hist_b)
    if a.shape[0] != b.shape[0]:
        raise MetricsError(f"paired bootstrap needs the same blocks: {a.shape[0]} vs {b.shape[0]}")
    units = runs_per_resample(a.shape[0], run) if expand else 0
    w = _weights(a.shape[0], n, seed, run)
    ra, rb = resampled(a, w), resampled(b, w)
    out: dict[str, Any] = _about(w, a.shape[0], run, seed)
    out["percentile_level"] = expanded_level(level, units)
    for key, fn in (("roc_auc", roc_auc_rows), ("pr_auc", pr_auc_rows)):
        point = float(fn(a.sum(axis=0)) - fn(b.sum(axis=0)))
        fine = (point_diff or {}).get(key)
        shift = fine - point if fine is not None and np.isfinite([fine, point]).all() else 0.0
        d = fn(ra) - fn(rb) + shift
        d = d[np.isfinite(d)]
        point += shift
        if not len(w):  # no resample: no p-value
            p = math.nan
        elif point == 0 and not np.any(d):
            p = 1.0
        else:
            other = np.mean(d <= 0) if point > 0 else np.mean(d >= 0)
            p = expanded_p(float(min(1.0, 2 * other)), units)
        out[f"{key}_diff"] = point
        out[f"{key}_diff_ci"] = _interval(d, level, units)
        out[f"{key}_p"] = p
    return out
