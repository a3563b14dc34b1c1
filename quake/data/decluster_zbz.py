"""Zaliapin & Ben-Zion (2013) nearest-neighbour distances on arrays (see `quake.data.decluster`).

For an event j and an earlier event i (Baiesi & Paczuski 2004; Zaliapin et al. 2008)::

    eta_ij = t_ij * r_ij ** d_f * 10 ** (-b * m_i)      t_ij = t_j - t_i > 0 (years)
                                                        r_ij epicentral distance (km)

split into a rescaled time ``T = t_ij * 10 ** (-q b m_i)`` and distance
``R = r_ij ** d_f * 10 ** (-(1 - q) b m_i)`` with ``eta = T * R`` (q = 0.5). The nearest
neighbour (parent) of j is the earlier event with the smallest eta. Clustered events have
small eta; the threshold eta0 separates the two modes of log10 eta (here by a two-component
Gaussian mixture, Zaliapin & Ben-Zion 2013, sec. 3).

The search is exact: every earlier event is a candidate, scored blockwise (a block of
children against all events before them) in float32 logarithms, so memory stays
``O(block * N)`` while the work is the ``N^2 / 2`` pairs; the chosen pair is then re-scored
in float64. Float32 coordinates of a few thousand km keep distances to about a metre, and
times are differenced in float64 before the cast, so near-simultaneous events stay apart.

References: Baiesi, M. & Paczuski, M. (2004) Phys. Rev. E 69, 066106. Zaliapin, I., Gabrielov,
A., Keilis-Borok, V. & Wong, H. (2008) Phys. Rev. Lett. 101, 018501. Zaliapin, I. &
Ben-Zion, Y. (2013) J. Geophys. Res. 118, 2847-2864.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from quake.errors import CatalogError

BLOCK_CELLS = 2_000_000
"""Pairs scored at once (a float32 buffer of 8 MB; a few of them live together)."""
MIN_MIXTURE_EVENTS = 20
"""Fewer finite log10 eta than this cannot be split by a mixture: give eta0 instead."""


@dataclass(frozen=True)
class NearestNeighbours:
    """Each event's nearest earlier neighbour; arrays of shape ``(n,)`` in time order.

    Attributes:
        parent: index of the nearest neighbour, -1 for an event with no earlier event.
        log_eta: log10 eta to the parent (+inf without one).
        log_t: log10 rescaled time T (years, +inf without a parent).
        log_r: log10 rescaled distance R (km ** d_f, +inf without a parent).
        distance_km: epicentral distance to the parent (NaN without one).
    """

    parent: np.ndarray
    log_eta: np.ndarray
    log_t: np.ndarray
    log_r: np.ndarray
    distance_km: np.ndarray


def nearest_neighbours(
    t_years: np.ndarray,
    xyz_km: np.ndarray,
    magnitude: np.ndarray,
    d_f: float = 1.6,
    b: float = 1.0,
    min_distance_km: float = 0.1,
    q: float = 0.5,
    block_cells: int = BLOCK_CELLS,
) -> NearestNeighbours:
    """The nearest earlier neighbour of every event.

    Args:
        t_years: event times (years from any origin), shape ``(n,)``, sorted ascending.
        xyz_km: points on the sphere (km), shape ``(n, 3)``; their straight-line distance
            is the epicentral distance (see `quake.data.decluster`).
        magnitude: shape ``(n,)``.
        d_f: fractal dimension of the epicentres; b: Gutenberg-Richter b-value.
        min_distance_km: distances below this count as this (co-located events would
            otherwise give eta = 0 and log10 eta = -inf).
        q: the share of ``b * m_i`` given to the rescaled time.
        block_cells: pairs scored at once (memory, not the result).

    Only strictly earlier events are candidates: events at the same instant are never
    each other's parent.
    """
    t = np.asarray(t_years, dtype=np.float64)
    n = len(t)
    if n > 1 and np.any(np.diff(t) < 0):
        raise ValueError("t_years must be sorted ascending")
    xyz = np.asarray(xyz_km, dtype=np.float64).reshape(n, 3)
    xyz32 = (xyz - xyz.mean(axis=0)).astype(np.float32) if n else xyz.astype(np.float32)
    mag = np.asarray(magnitude, dtype=np.float64)
    lw = (-b * mag).astype(np.float32)
    half_df = np.float32(d_f / 2.0)
    r2_floor = np.float32(min_distance_km**2)
    parent = np.full(n, -1, dtype=np.int64)
    rows = max(1, int(block_cells // max(n, 1)))
    for a in range(0, n, rows):
        e = min(n, a + rows)
        dt = (t[a:e, None] - t[None, :e]).astype(np.float32)
        valid = dt > 0
        score = np.zeros(dt.shape, dtype=np.float32)
        for k in range(3):
            d = xyz32[a:e, k, None] - xyz32[None, :e, k]
            np.multiply(d, d, out=d)
            score += d
        np.maximum(score, r2_floor, out=score)
        np.log10(score, out=score)
        score *= half_df
        np.log10(dt, out=dt, where=valid)
        score += dt
        score += lw[None, :e]
        score[~valid] = np.inf
        best = np.argmin(score, axis=1)
        found = np.isfinite(score[np.arange(e - a), best])
        parent[a:e] = np.where(found, best, -1)
    return _rescore(t, xyz, mag, parent, d_f, b, q, min_distance_km)


def _rescore(t, xyz, mag, parent, d_f, b, q, min_distance_km) -> NearestNeighbours:
    """The chosen pairs in float64."""
    n = len(t)
    log_t = np.full(n, np.inf)
    log_r = np.full(n, np.inf)
    dist = np.full(n, np.nan)
    j = np.flatnonzero(parent >= 0)
    i = parent[j]
    dist[j] = np.linalg.norm(xyz[j] - xyz[i], axis=1)
    bm = b * mag[i]
    log_t[j] = np.log10(t[j] - t[i]) - q * bm
    log_r[j] = d_f * np.log10(np.maximum(dist[j], min_distance_km)) - (1.0 - q) * bm
    return NearestNeighbours(parent, log_t + log_r, log_t, log_r, dist)


def mixture_threshold(log_eta: np.ndarray, seed: int = 0) -> tuple[float, dict]:
    """log10 eta0 from a two-component Gaussian mixture on the finite ``log_eta``.

    The threshold is where the two components are equally probable a posteriori, searched
    between their means; returns ``(log10 eta0, {means, stds, weights})`` with the
    clustered (lower-mean) component first. Raises `CatalogError` when the values cannot
    be split (too few, or one mode only): give eta0 explicitly then.
    """
    from sklearn.mixture import GaussianMixture

    x = np.asarray(log_eta, dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) < MIN_MIXTURE_EVENTS or float(np.ptp(x)) == 0.0:
        raise CatalogError(
            f"{len(x)} nearest-neighbour distances cannot be split into clustered and "
            f"background modes (at least {MIN_MIXTURE_EVENTS} distinct values are needed); "
            "give eta0 explicitly"
        )
    gm = GaussianMixture(2, n_init=3, random_state=seed).fit(x[:, None])
    order = np.argsort(gm.means_.ravel())
    means = gm.means_.ravel()[order]
    stds = np.sqrt(gm.covariances_.reshape(2, -1)[order, 0])
    weights = gm.weights_[order]
    info = {"means": means.tolist(), "stds": stds.tolist(), "weights": weights.tolist()}
    if means[1] - means[0] < 1e-6:
        raise CatalogError("the nearest-neighbour distances show one mode only; give eta0")
    grid = np.linspace(means[0], means[1], 4001)
    p_background = gm.predict_proba(grid[:, None])[:, order[1]]
    above = np.flatnonzero(p_background >= 0.5)
    if not len(above):  # the background component never wins between the means
        raise CatalogError("the mixture gives no threshold between its two modes; give eta0")
    k = int(above[0])
    if k == 0:
        return float(grid[0]), info
    # Linear interpolation between the grid points around the crossing.
    p0, p1 = p_background[k - 1], p_background[k]
    frac = 0.0 if p1 == p0 else (0.5 - p0) / (p1 - p0)
    return float(grid[k - 1] + frac * (grid[k] - grid[k - 1])), info


def check_parameters(d_f: float, b: float, min_distance_km: float, eta0: float | None) -> None:
    for name, v in (("d_f", d_f), ("b", b), ("min_distance_km", min_distance_km)):
        if not (math.isfinite(v) and v > 0):
            raise CatalogError(f"{name} must be a positive number, not {v!r}")
    if eta0 is not None and not (math.isfinite(eta0) and eta0 > 0):
        raise CatalogError(f"eta0 must be a positive number, not {eta0!r}")
