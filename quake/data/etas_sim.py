"""Seeded ETAS catalogs: the branching process of Ogata (1998) / Zhuang et al. (2002).

Plain floats in, arrays out (the data layer knows nothing of `quake.models`); units days,
km, km**2, as in `quake.models.etas_core`:

- background: ``Poisson(mu * (t_end - t_start))`` events, uniform in time, uniform in the
  rectangle ``region_km = (x_min, x_max, y_min, y_max)`` or drawn from a density raster;
- magnitudes: Gutenberg-Richter above ``m0`` (exponential with rate ``b ln 10``), optionally
  truncated at ``m_max``;
- every event of magnitude m has ``Poisson(A exp(alpha (m - m0)))`` direct offspring, delayed
  by the Omori-Utsu law (inverse CDF ``c ((1 - U) ** (1 / (1 - p)) - 1)``) and displaced by
  the isotropic power law ``r = sqrt(s(m) ((1 - U) ** (1 / (1 - q)) - 1))``,
  ``s(m) = D exp(gamma (m - m0))``, uniform angle (untruncated); generation after generation
  until none falls before ``t_end``.

Offspring of events outside the region still cascade; only events inside the region are
returned unless ``keep_outside``.
"""

from __future__ import annotations

import math
from datetime import date
from typing import NamedTuple

import numpy as np
import pandas as pd

from quake.data.grid import Grid


class EtasSimulation(NamedTuple):
    """Simulated events sorted by time: days, km, km, magnitude, and the index of each
    event's parent in these arrays (-1: background; -2: a parent not returned, i.e. a
    history event or one outside the region)."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    m: np.ndarray
    parent: np.ndarray


def branching_ratio(
    A: float,
    alpha: float,
    b: float,
    m0: float,
    m_max: float | None = None,
    c: float = 1.0,
    p: float = 1.5,
    t_max_days: float | None = None,
) -> float:
    """Mean number of direct offspring of an event with a GR magnitude (inf if unbounded);
    with ``t_max_days``, only those within that delay (Omori ``c``, ``p``) count."""
    beta = b * math.log(10.0)
    frac = 1.0 if t_max_days is None else -math.expm1((1 - p) * math.log1p(t_max_days / c))
    if m_max is None:
        return math.inf if alpha >= beta else A * beta / (beta - alpha) * frac
    span = m_max - m0
    if abs(alpha - beta) < 1e-12:
        return A * beta * span / -math.expm1(-beta * span) * frac
    mean = math.expm1((alpha - beta) * span) / ((alpha - beta) * -math.expm1(-beta * span))
    return A * beta * mean * frac


def _magnitudes(rng, n: int, b: float, m0: float, m_max: float | None) -> np.ndarray:
    beta = b * math.log(10.0)
    u = rng.random(n)
    if m_max is None:
        return m0 - np.log1p(-u) / beta
    return m0 - np.log1p(-u * -math.expm1(-beta * (m_max - m0))) / beta


def simulate_etas(
    mu: float,
    A: float,
    alpha: float,
    c: float,
    p: float,
    D: float,
    q: float,
    gamma: float,
    b: float,
    m0: float,
    t_end_days: float,
    region_km: tuple[float, float, float, float],
    *,
    background: np.ndarray | None = None,
    t_start_days: float = 0.0,
    history: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
    m_max: float | None = None,
    t_max_days: float | None = None,
    keep_outside: bool = False,
    seed: int = 0,
    max_events: int = 2_000_000,
) -> EtasSimulation:
    """Simulate ETAS events in ``[t_start_days, t_end_days)``.

    ``background``: ``None`` (uniform) or a non-negative ``(ny, nx)`` raster of relative
    density over ``region_km`` (row 0 in the south). ``t_max_days``: offspring only within
    that delay (the Omori law cut there, not renormalised). ``history``: ``(t, x, y, m)`` of given
    earlier events whose offspring are simulated too (they are not returned). Raises
    ``ValueError`` for supercritical parameters (branching ratio >= 1) or a run that
    exceeds ``max_events``.
    """
    n_ratio = branching_ratio(A, alpha, b, m0, m_max, c, p, t_max_days)
    if not n_ratio < 1.0:
        raise ValueError(f"supercritical ETAS: branching ratio {n_ratio:.3g} >= 1")
    if not (p > 1 and q > 1 and c > 0 and D > 0 and mu >= 0 and A >= 0):
        raise ValueError("ETAS parameters need p > 1, q > 1, c > 0, D > 0, mu >= 0, A >= 0")
    rng = np.random.default_rng(seed)
    x0, x1, y0, y1 = (float(v) for v in region_km)
    n_bg = rng.poisson(mu * (t_end_days - t_start_days))
    t = rng.uniform(t_start_days, t_end_days, n_bg)
    if background is None:
        x, y = rng.uniform(x0, x1, n_bg), rng.uniform(y0, y1, n_bg)
    else:
        dens = np.asarray(background, dtype=np.float64)
        if dens.ndim != 2 or np.any(dens < 0) or not dens.sum() > 0:
            raise ValueError("background must be a non-negative 2-D raster with some mass")
        ny, nx = dens.shape
        cell = rng.choice(dens.size, n_bg, p=(dens / dens.sum()).ravel())
        iy, ix = np.divmod(cell, nx)
        x = x0 + (ix + rng.random(n_bg)) * (x1 - x0) / nx
        y = y0 + (iy + rng.random(n_bg)) * (y1 - y0) / ny
    m = _magnitudes(rng, n_bg, b, m0, m_max)
    out = [(t, x, y, m, np.full(n_bg, -1, dtype=np.int64))]
    total = n_bg
    gen_ids = np.arange(n_bg)
    gen = (t, x, y, m)
    if history is not None:
        ht, hx, hy, hm = (np.asarray(a, dtype=np.float64) for a in history)
        keep = hm >= m0
        gen = tuple(
            np.concatenate([a, h[keep]]) for a, h in zip(gen, (ht, hx, hy, hm), strict=True)
        )
        gen_ids = np.concatenate([gen_ids, np.full(int(keep.sum()), -2)])
    # Share of the Omori law before the cut: delays are drawn from the law conditioned on it.
    within = 1.0 if t_max_days is None else -math.expm1((1 - p) * math.log1p(t_max_days / c))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        while len(gen[0]):
            pt, px, py, pm = gen
            k = rng.poisson(A * np.exp(alpha * (pm - m0)) * within)
            if k.sum() == 0:
                break
            parent = np.repeat(gen_ids, k)
            u = rng.random(k.sum()) * within
            ct = np.repeat(pt, k) + c * ((1.0 - u) ** (1 / (1 - p)) - 1)
            sig = D * np.exp(gamma * (np.repeat(pm, k) - m0))
            r = np.sqrt(sig * ((1.0 - rng.random(k.sum())) ** (1 / (1 - q)) - 1))
            ang = rng.uniform(0, 2 * np.pi, k.sum())
            cx, cy = np.repeat(px, k) + r * np.cos(ang), np.repeat(py, k) + r * np.sin(ang)
            cm = _magnitudes(rng, int(k.sum()), b, m0, m_max)
            keep = np.isfinite(ct) & (ct < t_end_days) & np.isfinite(cx) & np.isfinite(cy)
            gen = (ct[keep], cx[keep], cy[keep], cm[keep])
            gen_ids = total + np.arange(int(keep.sum()))
            out.append((*gen, parent[keep]))
            total += int(keep.sum())
            if total > max_events:
                raise ValueError(f"ETAS simulation exceeded {max_events:,} events")
    t, x, y, m, parent = (np.concatenate(a) for a in zip(*out, strict=True))
    keep = t >= t_start_days
    if not keep_outside:
        keep &= (x >= x0) & (x < x1) & (y >= y0) & (y < y1)
    order = np.flatnonzero(keep)[np.argsort(t[keep], kind="stable")]
    new_index = np.full(len(t) + 2, -2, dtype=np.int64)  # slots for parent codes -2, -1
    new_index[order] = np.arange(len(order))
    new_index[-1] = -1  # parent -1 (background) stays -1
    return EtasSimulation(t[order], x[order], y[order], m[order], new_index[parent[order]])


def etas_catalog(
    sim: EtasSimulation,
    grid: Grid,
    start: date = date(1990, 1, 1),
    depth_km: float = 10.0,
    mag_decimals: int | None = 1,
) -> pd.DataFrame:
    """The simulation as a canonical catalog (time UTC, latitude, longitude, depth_km,
    magnitude), placed with ``grid.unproject``; day 0 is ``start``. Simulate with ``m0``
    half a bin below the intended completeness (4.45 for M4.5) when rounding magnitudes."""
    lat, lon = grid.unproject(sim.x, sim.y)
    mag = sim.m if mag_decimals is None else np.round(sim.m, mag_decimals)
    return pd.DataFrame(
        {
            "time": pd.Timestamp(start, tz="UTC") + pd.to_timedelta(sim.t, unit="D"),
            "latitude": lat,
            "longitude": lon,
            "depth_km": np.full(len(sim.t), float(depth_km)),
            "magnitude": mag,
        }
    )
