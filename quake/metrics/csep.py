"""CSEP-style scores of binary (alarm-style) forecasts, on plain arrays: no models, no files.

A forecast gives each cell of a window a probability ``p`` that at least one target event
falls in it; the equivalent Poisson rate is ``lambda = -ln(1 - p)`` (pycsep's binary tests
read rates and use ``1 - exp(-lambda)`` as the probability). Probabilities are clipped to
[`P_MIN`, 1 - `P_MIN`] first, so a zero forecast in a target cell costs ``ln P_MIN``
(about -23) instead of minus infinity.

- `binary_log_likelihood`: the Bernoulli joint log-likelihood (pycsep
  ``binomial_evaluations.binary_joint_log_likelihood_ndarray``), also from per-window sums.
- `paired_t_test`, `w_test`: information gain per target of forecast 1 over forecast 2
  (Rhoades et al. 2011, eq. 17-18) with its 95 % interval and p-value, and the Wilcoxon
  signed-rank test of the same differences, as pycsep's ``matrix_binary_t_test`` and
  ``_w_test_ndarray`` define them; targets may be pooled over windows (sum the forecast
  totals of the windows).
- `poisson_binomial_pmf`, `number_test`: the N-test with the exact distribution of the
  number of positive cells (a sum of independent Bernoulli(p_i)), from its generating
  function evaluated on the unit circle and inverted by FFT.
- `brier_score`, `reliability`: calibration (the latter from `OperatingCurve` histograms).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from quake.errors import MetricsError
from quake.metrics.curves import OperatingCurve
from quake.metrics.scores import molchan_area_skill

area_skill_score = molchan_area_skill
"""Zechar & Jordan's (2008) area skill score with the uniform reference (alarm fraction of
pairs): `quake.metrics.scores.molchan_area_skill`, 1 - area under the Molchan trajectory."""

P_MIN = 1e-10
"""Probabilities are clipped to [P_MIN, 1 - P_MIN] before logarithms."""

_SMALL_P = 0.05  # below: generating function by its power series in p (12 terms, < 1e-13)
_SERIES_TERMS = 12


def clip_prob(p: np.ndarray) -> np.ndarray:
    """``p`` as float64, clipped to [P_MIN, 1 - P_MIN]; NaN is an error."""
    a = np.asarray(p, dtype=np.float64)
    if np.isnan(a).any():
        raise MetricsError("probabilities contain NaN")
    return np.clip(a, P_MIN, 1.0 - P_MIN)


def rates(p: np.ndarray) -> np.ndarray:
    """Poisson rates ``-ln(1 - p)`` of probabilities (clipped, `clip_prob`)."""
    return -np.log1p(-clip_prob(p))


# -- log-likelihood -----------------------------------------------------------------------
def binary_log_likelihood(p: np.ndarray, y: np.ndarray) -> float:
    """Bernoulli log-likelihood ``sum y ln p + (1 - y) ln(1 - p)`` over cells.

    p: probabilities, any shape; y: event counts or labels of the same shape (> 0: positive).
    """
    pc = clip_prob(p).ravel()
    pos = np.asarray(y).ravel() > 0
    if pos.size != pc.size:
        raise MetricsError(f"labels ({pos.size}) and probabilities ({pc.size}) differ in size")
    return float(np.sum(np.log(pc[pos])) + np.sum(np.log1p(-pc[~pos])))


def log_likelihood_from_sums(p_targets: np.ndarray, sum_rate: float) -> float:
    """The same log-likelihood from the target cells' probabilities and ``sum_rate``, the sum
    of `rates` over all cells: ``sum_t [ln p_t + lambda_t] - sum_all lambda``."""
    pt = clip_prob(p_targets)
    return float(np.sum(np.log(pt) - np.log1p(-pt)) - sum_rate)


# -- comparing two forecasts ----------------------------------------------------------------
def paired_t_test(
    rates1: np.ndarray, rates2: np.ndarray, n1: float, n2: float, alpha: float = 0.05
) -> dict[str, float]:
    """Information gain per target of forecast 1 over forecast 2 (Rhoades et al. 2011).

    rates1, rates2: (N,) rates of each forecast in the N target cells; n1, n2: each
    forecast's sum of rates over every cell (of every pooled window). Gain
    ``(sum(ln r1 - ln r2) - (n1 - n2)) / N``; its (1 - alpha) interval from the t
    distribution with N - 1 degrees of freedom; ``p_value`` two-sided for gain 0. Two equal
    forecasts give gain 0, interval [0, 0] and p 1 (pycsep divides 0 by 0 there).
    """
    x1, x2 = np.log(np.asarray(rates1, np.float64)), np.log(np.asarray(rates2, np.float64))
    if x1.shape != x2.shape or x1.ndim != 1:
        raise MetricsError(
            f"target rates must be two 1-D arrays of one length ({x1.shape}, {x2.shape})"
        )
    n = len(x1)
    if n < 2:
        raise MetricsError(f"the T-test needs at least 2 target cells, got {n}")
    d = x1 - x2
    gain = (np.sum(d) - (n1 - n2)) / n
    var = np.sum(d**2) / (n - 1) - np.sum(d) ** 2 / (n**2 - n)
    sd = math.sqrt(max(float(var), 0.0))
    t_crit = float(stats.t.ppf(1 - alpha / 2, n - 1))
    half = t_crit * sd / math.sqrt(n)
    if sd == 0.0:
        t_stat, p = (0.0, 1.0) if gain == 0 else (math.copysign(math.inf, gain), 0.0)
    else:
        t_stat = float(gain / (sd / math.sqrt(n)))
        p = float(2 * stats.t.sf(abs(t_stat), n - 1))
    return {
        "gain": float(gain),
        "lower": float(gain - half),
        "upper": float(gain + half),
        "t": t_stat,
        "t_critical": t_crit,
        "p_value": p,
        "n_targets": n,
    }


def w_test(rates1: np.ndarray, rates2: np.ndarray, n1: float, n2: float) -> dict[str, float]:
    """Wilcoxon signed-rank test that ``ln r1 - ln r2`` is symmetric about ``(n1 - n2) / N``.

    As pycsep's ``poisson_evaluations._w_test_ndarray`` (normal approximation with the tie
    correction, no continuity correction, zeros dropped); N is the number of targets.
    Returns z, the two-sided p_value and the median difference minus its null value.
    """
    x1, x2 = np.log(np.asarray(rates1, np.float64)), np.log(np.asarray(rates2, np.float64))
    if x1.shape != x2.shape or x1.ndim != 1 or len(x1) == 0:
        raise MetricsError("target rates must be two non-empty 1-D arrays of one length")
    d = (x1 - x2) - (n1 - n2) / len(x1)
    median = float(np.median(d))
    d = d[d != 0]
    count = len(d)
    if count == 0:
        return {"z": 0.0, "p_value": 1.0, "median": median, "n_nonzero": 0}
    r = stats.rankdata(np.abs(d))
    t = min(np.sum(r[d > 0]), np.sum(r[d < 0]))
    mn = count * (count + 1.0) * 0.25
    se = count * (count + 1.0) * (2.0 * count + 1.0)
    _, reps = np.unique(r, return_counts=True)
    reps = reps[reps > 1].astype(np.float64)
    se -= 0.5 * np.sum(reps * (reps * reps - 1))
    se = math.sqrt(se / 24)
    z = (t - mn) / se
    return {
        "z": float(z),
        "p_value": float(2 * stats.norm.sf(abs(z))),
        "median": median,
        "n_nonzero": count,
    }


# -- number test ----------------------------------------------------------------------------
def poisson_binomial_pmf(p: np.ndarray, size: int | None = None) -> np.ndarray:
    """P(X = k), k = 0..size-1, for X the number of successes of independent Bernoulli(p_i).

    The generating function ``G(z) = prod (1 - p_i + p_i z)`` is evaluated at ``size``
    points of the unit circle and inverted by FFT (exact up to rounding, ~1e-13 absolute,
    and to the mass beyond ``size``, which is folded back: the default size exceeds the
    mean by 12 standard deviations plus 64). Cells with p < 0.05 enter through the power
    series of ``ln(1 + p (z - 1))`` in p (sums of p^j, 12 terms), the others one by one.
    """
    a = np.asarray(p, dtype=np.float64).ravel()
    if a.size and (np.isnan(a).any() or a.min() < 0 or a.max() > 1):
        raise MetricsError("Poisson-binomial probabilities must lie in [0, 1]")
    mean, var = float(a.sum()), float(np.sum(a * (1 - a)))
    if size is None:
        need = int(mean + 12 * math.sqrt(var) + 64)
        size = 1 << max(6, (need - 1).bit_length())
    size = max(1, min(int(size), a.size + 1))  # X <= number of cells: no mass beyond
    z = np.exp(-2j * np.pi * np.arange(size) / size)
    w = z - 1.0
    small = a[a < _SMALL_P]
    big = a[a >= _SMALL_P]
    log_g = np.zeros(size, dtype=np.complex128)
    pj = small.copy()
    wj = w.copy()
    for j in range(1, _SERIES_TERMS + 1):
        log_g += ((-1) ** (j + 1) / j) * float(pj.sum()) * wj
        pj *= small
        wj *= w
    for chunk in np.array_split(big, max(1, big.size // 256)):
        if chunk.size:
            log_g += np.log1p(chunk[:, None] * w[None, :]).sum(axis=0)
    pmf = np.fft.ifft(np.exp(log_g)).real
    return np.clip(pmf, 0.0, 1.0)


def number_test(n_obs: int, p: np.ndarray, alpha: float = 0.05) -> dict[str, float]:
    """N-test of one window: ``n_obs`` positive cells against the forecast's ``sum p``.

    Returns expected (sum p), delta1 = P(X >= n_obs), delta2 = P(X <= n_obs) under the
    Poisson-binomial distribution of X (`poisson_binomial_pmf`), and its alpha/2 and
    1 - alpha/2 quantiles ``q_low``, ``q_high``; CSEP's reading: the forecast is
    inconsistent when delta1 or delta2 < alpha/2.
    """
    pmf = poisson_binomial_pmf(p)
    cdf = np.cumsum(pmf)
    n_obs = int(n_obs)
    delta2 = float(min(cdf[min(n_obs, len(cdf) - 1)], 1.0))
    delta1 = float(max(0.0, 1.0 - (cdf[n_obs - 1] if 0 < n_obs <= len(cdf) else 0.0)))
    if n_obs > len(cdf):
        delta1 = 0.0
    return {
        "n_obs": n_obs,
        "expected": float(np.asarray(p, dtype=np.float64).sum()),
        "delta1": min(delta1, 1.0),
        "delta2": delta2,
        "q_low": int(np.searchsorted(cdf, alpha / 2)),
        "q_high": int(np.searchsorted(cdf, 1 - alpha / 2)),
    }


# -- calibration ---------------------------------------------------------------------------
def brier_score(sum_p2: float, p_targets: np.ndarray, n_cells: int) -> float:
    """Mean ``(p - y)^2`` over ``n_cells`` pairs, from ``sum p^2`` over all of them and the
    positives' probabilities: ``(sum p^2 - 2 sum_t p_t + N_t) / n_cells``."""
    pt = np.asarray(p_targets, dtype=np.float64)
    if n_cells <= 0:
        raise MetricsError("the Brier score needs at least one pair")
    return float((sum_p2 - 2 * pt.sum() + pt.size) / n_cells)


def reliability(curve: OperatingCurve, edges: np.ndarray | None = None) -> dict[str, Any]:
    """Reliability diagram from a curve's histograms: per probability bin, the mean
    predicted probability, the observed frequency of positives and the pair count.

    edges: probability bin edges (default: decades 1e-8 ... 1e-1 then 0.2 ... 1). The mean
    prediction of a bin weights each fine bin of the curve by its count at the fine bin's
    logit midpoint (the fine bins are 1.25 % wide in the odds, so this is that close).
    Bins without pairs are left out.
    """
    if edges is None:
        edges = np.concatenate(([0.0], 10.0 ** np.arange(-8, 0), [0.2, 0.4, 0.6, 0.8, 1.0 + 1e-12]))
    edges = np.asarray(edges, dtype=np.float64)
    fine = curve.edges
    lo, hi = fine[:-1], np.minimum(fine[1:], 1.0)
    with np.errstate(divide="ignore"):
        llo = np.log(lo / (1 - lo))
        lhi = np.log(hi / np.maximum(1 - hi, 1e-300))
    mid = np.where(
        np.isfinite(llo) & np.isfinite(lhi),
        1 / (1 + np.exp(-(llo + lhi) / 2)),
        np.where(np.isfinite(llo), hi, lo),
    )
    mid = np.where(np.isfinite(mid), mid, lo)
    which = np.clip(np.searchsorted(edges, mid, side="right") - 1, 0, len(edges) - 2)
    n = len(edges) - 1
    neg, pos = curve.hist[0].astype(np.float64), curve.hist[1].astype(np.float64)
    count = np.bincount(which, weights=neg + pos, minlength=n)
    npos = np.bincount(which, weights=pos, minlength=n)
    psum = np.bincount(which, weights=(neg + pos) * mid, minlength=n)
    keep = count > 0
    return {
        "bin_low": edges[:-1][keep].tolist(),
        "bin_high": np.minimum(edges[1:], 1.0)[keep].tolist(),
        "predicted": (psum[keep] / count[keep]).tolist(),
        "observed": (npos[keep] / count[keep]).tolist(),
        "count": count[keep].astype(np.int64).tolist(),
        "positives": npos[keep].astype(np.int64).tolist(),
    }
