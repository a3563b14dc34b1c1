"""ETAS expected counts per grid cell in the protocol's window, for many forecast days.

For a forecast day T the model sees the events with ``t < T + 1`` (day T inclusive; a day
is [d, d + 1) in days since the catalog's day 0) and forecasts the number of events with
magnitude >= Mc in days ``[T + lead, T + horizon)`` per cell::

    Lambda(T, cell) = 10 ** (-b (Mc - m0)) * [ mu * B * U(cell)
                      + sum_{t_i < T + 1} kappa(m_i) * W(T + 1 - t_i) * S_i(cell) ]

- ``U(cell)``: the background density integrated over the cell (`background_cells`).
- ``S_i(cell)``: event i's truncated spatial kernel integrated over the cell. Cells wholly
  inside the truncation circle, where the kernel is smooth enough, by an n x n Cartesian
  Gauss-Legendre rule of the density (n from 2 to 16 chosen per cell by
  `etas_core.gauss_order` for a relative error < 1e-6; 84 % of the Japan pairs);
  the others (cut by the circle, or a kernel narrow next to its event) by the polar
  quadrature of `etas_core.rect_nodes`: 24 Gauss nodes per arc for cells within 3 kernel
  scales ``sqrt(s(m))`` of the event (relative error < 1e-3 in every case tested, < 1e-5
  unless the event lies within 50 m of a cell side), 4 beyond (< 1e-8, except cells that
  the truncation circle cuts: a few % of their tiny mass). ``fast=False`` uses the polar
  rule for every cell (the previous rule, 10x slower). An event's cells sum to its
  kernel mass within R(m) to < 3e-4 (median 1e-7). Only cells within R(m) are stored (a
  sparse ``events x cells`` matrix): the model's own support, not an extra approximation.
- ``W(a)``: expected events in the window per unit productivity of an event of age ``a``.
  Direct aftershocks: ``G(a + horizon - 1) - G(a + lead - 1)`` (closed-form Omori integral).
  With ``cascade=True`` it adds the later generations born after T + 1 (unobserved events
  that trigger inside the window): the renewal equation ``r = s + n (g * r)`` on
  ``[T + 1, T + horizon)`` is solved on a 0.05-day grid (each generation's offspring of an
  event of random magnitude number ``n`` on average), once per parameter set, and
  tabulated over log-age (1e-6 to 1e6 days, 50 per decade, linear in log-log). Secondary
  events are placed with their ancestor's footprint: each generation adds a spread of about
  sqrt(D) km (9 km for the reference fit, about a cell), which this leaves out.
  ``B`` is the background's equivalent: ``horizon - lead`` days, or more with the cascade.
  ``cascade=False`` gives the direct-aftershock forecast, a lower bound.

`EtasCounts` computes the footprints and weights once for a catalog (a Forecaster keeps it
for the whole test period); `iter_expected_counts` / `expected_counts` wrap it.
Output: float64 ``(n_days, n_cells)`` blocks, cells numbered ``iy * nx + ix`` as in
`quake.data.grid`; probability of at least one event ``1 - exp(-Lambda)`` (`poisson_probability`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular, toeplitz
from scipy.sparse import csr_matrix

from quake.data.grid import Grid
from quake.errors import ModelError
from quake.models.etas_background import EtasBackground
from quake.models.etas_core import (
    EtasParams,
    gauss_order,
    polar_mass,
    rect_mass,
    rect_nodes,
    square_gauss_mass,
)

CASCADE_STEP_DAYS = 0.05
NEAR_NODES, FAR_NODES = 24, 4
NEAR_SCALES = 3.0  # cells closer than 3 sqrt(s(m)) get the finer quadrature
POLAR_SLICE = 1 << 15  # nodes per slice of the polar rule
FAST_TOL = 1e-6  # relative error of the Cartesian rule per cell (`etas_core.gauss_order`)
MAX_FOOTPRINT_PAIRS = 80_000_000
"""Most (event, cell) pairs `cell_footprints` builds: ~1 GB as a sparse matrix. A catalog
with hundreds of thousands of events above the model's Mc could otherwise ask for tens."""


def grid_region(grid: Grid) -> tuple[float, float, float, float]:
    """``(x_min, x_max, y_min, y_max)`` km of the grid: the fit's region for that grid."""
    return (
        grid.x0_km,
        grid.x0_km + grid.nx * grid.cell_km,
        grid.y0_km,
        grid.y0_km + grid.ny * grid.cell_km,
    )


def background_cells(background: EtasBackground, grid: Grid) -> np.ndarray:
    """The fitted background density integrated over each cell: ``(n_cells,)``."""
    xe = grid.x0_km + np.arange(grid.nx + 1) * grid.cell_km
    ye = grid.y0_km + np.arange(grid.ny + 1) * grid.cell_km
    return background.cell_mass(xe, ye).ravel()


def _cell_boxes(
    x: np.ndarray, y: np.ndarray, radius: np.ndarray, grid: Grid
) -> tuple[np.ndarray, ...]:
    """``(lo_x, lo_y, nxs, nys)``: the block of grid cells that a disc of ``radius`` around
    each event meets (int64; ``nxs * nys`` cells, 0 when the disc misses the grid)."""
    h = grid.cell_km
    lo_x = np.floor((x - radius - grid.x0_km) / h)
    hi_x = np.floor((x + radius - grid.x0_km) / h)
    lo_y = np.floor((y - radius - grid.y0_km) / h)
    hi_y = np.floor((y + radius - grid.y0_km) / h)
    lo_x, hi_x = np.clip(lo_x, 0, grid.nx - 1), np.clip(hi_x, -1, grid.nx - 1)
    lo_y, hi_y = np.clip(lo_y, 0, grid.ny - 1), np.clip(hi_y, -1, grid.ny - 1)
    nxs = np.maximum(hi_x - lo_x + 1, 0).astype(np.int64)
    nys = np.maximum(hi_y - lo_y + 1, 0).astype(np.int64)
    return lo_x.astype(np.int64), lo_y.astype(np.int64), nxs, nys


def _cell_pairs(
    x: np.ndarray, y: np.ndarray, radius: np.ndarray, grid: Grid
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(event, ix, iy)`` for every cell that a disc of ``radius`` around an event meets."""
    lo_x, lo_y, nxs, nys = _cell_boxes(x, y, radius, grid)
    cnt = nxs * nys
    ev = np.repeat(np.arange(len(x)), cnt)
    local = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    ix = lo_x[ev] + local % nxs[ev]
    iy = lo_y[ev] + local // nxs[ev]
    return ev, ix, iy


def _chunks(cnt: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Consecutive ``[a, b)`` ranges of events with about ``budget`` pairs each (an event
    with more pairs than that is a range of its own)."""
    ends = np.cumsum(cnt)
    out, a, done = [], 0, 0
    while a < len(cnt):
        b = max(int(np.searchsorted(ends, done + budget, side="right")), a + 1)
        out.append((a, b))
        a, done = b, int(ends[b - 1])
    return out


def _polar_mass(
    x: np.ndarray,
    y: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    h: float,
    rad: np.ndarray,
    sig: np.ndarray,
    q: float,
    n_nodes: int,
    fast: bool,
) -> np.ndarray:
    """The polar rule over ``h`` km squares at ``(x0, y0)``, in slices of about `POLAR_SLICE`
    nodes (their temporaries then stay in the CPU cache): `etas_core.polar_mass`, or with
    ``fast=False`` `rect_nodes` + `rect_mass` (the previous code, bit for bit)."""
    out = np.empty(len(x))
    step = max(64, POLAR_SLICE // (4 * n_nodes))
    for a in range(0, len(x), step):
        sl = slice(a, a + step)
        rect = (x0[sl], x0[sl] + h, y0[sl], y0[sl] + h)
        if fast:
            out[sl] = polar_mass(x[sl], y[sl], rect, rad[sl], sig[sl], q, n_nodes)
        else:
            r_in, r_out, w = rect_nodes(x[sl], y[sl], rect, rad[sl], n_nodes)
            out[sl] = rect_mass(r_in, r_out, w, sig[sl], q)
    return out


def _chunk_footprints(
    params: EtasParams,
    x: np.ndarray,
    y: np.ndarray,
    sig: np.ndarray,
    rad: np.ndarray,
    grid: Grid,
    fast: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(event, cell, mass)`` of the events ``x, y`` (one chunk; see `cell_footprints`)."""
    h = grid.cell_km
    ev, ix, iy = _cell_pairs(x, y, rad, grid)
    rel_x = grid.x0_km + ix * h - x[ev]  # the cell's low corner from the event
    rel_y = grid.y0_km + iy * h - y[ev]
    dx = np.maximum(np.maximum(rel_x, -rel_x - h), 0.0)
    dy = np.maximum(np.maximum(rel_y, -rel_y - h), 0.0)
    d2 = dx * dx + dy * dy
    r2 = rad[ev] ** 2
    keep = d2 < r2
    ev, ix, iy, rel_x, rel_y, d2, r2 = (a[keep] for a in (ev, ix, iy, rel_x, rel_y, d2, r2))
    s = sig[ev]
    # The rule of each pair: n > 0, the n x n Cartesian rule; -n, the polar rule, n per arc.
    rule = np.where(d2 < NEAR_SCALES**2 * s, -NEAR_NODES, -FAR_NODES).astype(np.int8)
    if fast:
        far2 = np.maximum(rel_x**2, (rel_x + h) ** 2) + np.maximum(rel_y**2, (rel_y + h) ** 2)
        inside = np.flatnonzero(far2 <= r2)  # the whole cell within the truncation radius
        order = gauss_order(d2[inside], s[inside], h, FAST_TOL)
        rule[inside[order > 0]] = order[order > 0]
    mass = np.empty(len(ev))
    by_rule = np.argsort(rule, kind="stable")  # a radix sort of int8: groups of one rule
    keys = rule[by_rule]
    edges = np.flatnonzero(np.diff(keys)) + 1
    for sel in np.split(by_rule, edges):
        n = int(rule[sel[0]]) if len(sel) else 0
        if n > 0:
            mass[sel] = square_gauss_mass(rel_x[sel], rel_y[sel], h, s[sel], params.q, n)
        elif n < 0:
            e = ev[sel]
            cx0, cy0 = grid.x0_km + ix[sel] * h, grid.y0_km + iy[sel] * h
            mass[sel] = _polar_mass(x[e], y[e], cx0, cy0, h, rad[e], s[sel], params.q, -n, fast)
    return ev, iy * grid.nx + ix, mass


def cell_footprints(
    params: EtasParams,
    x_km: np.ndarray,
    y_km: np.ndarray,
    mags: np.ndarray,
    grid: Grid,
    chunk_pairs: int = 1 << 16,
    fast: bool = True,
) -> csr_matrix:
    """``S[i, cell]``: event i's truncated spatial kernel integrated over each cell.

    Sparse ``(n_events, n_cells)``; only cells within the truncation radius are stored.
    ``fast`` (default): cells wholly inside the truncation circle get the Cartesian Gauss
    rule of `etas_core.gauss_order` (relative error < ``FAST_TOL``) where it converges fast
    enough, every other cell the polar rule; ``fast=False``: the polar rule everywhere
    (24 / 4 nodes per arc, see the module docstring), the reference the fast path is tested
    on. Events are taken in chunks of about ``chunk_pairs`` (event, cell) pairs.
    """
    x, y, m = (np.asarray(a, dtype=np.float64) for a in (x_km, y_km, mags))
    sig, rad = params.sigma(m), params.radius(m)
    _, _, nxs, nys = _cell_boxes(x, y, rad, grid)
    n_pairs = int(np.sum(nxs * nys, dtype=np.int64))
    if n_pairs > MAX_FOOTPRINT_PAIRS:
        raise ModelError(
            f"ETAS: the {len(x):,} events' kernels reach {n_pairs:,} (event, cell) pairs (at "
            f"most {MAX_FOOTPRINT_PAIRS:,}; the Japan catalog makes ~6.5 million): too many "
            "events at or above the model's magnitude of completeness for this grid"
        )
    rows, cols, vals = [], [], []
    for a, b in _chunks(nxs * nys, chunk_pairs):
        sl = slice(a, b)
        ev, cell, mass = _chunk_footprints(params, x[sl], y[sl], sig[sl], rad[sl], grid, fast)
        rows.append(ev + a)
        cols.append(cell)
        vals.append(mass)
    cat = (np.concatenate(a) if a else np.zeros(0) for a in (vals, rows, cols))
    vals_, rows_, cols_ = cat
    return csr_matrix((vals_, (rows_, cols_)), shape=(len(x), grid.n_cells))


@dataclass(frozen=True)
class WindowWeights:
    """``W(age)`` per unit productivity and the background's equivalent days ``B``."""

    params: EtasParams
    lead_days: float
    horizon_days: float
    log_ages: np.ndarray | None  # None: no cascade
    log_secondary: np.ndarray | None
    background_days: float

    def __call__(self, age: np.ndarray) -> np.ndarray:
        """Expected events >= m0 in the window per unit kappa, for ages > 0 (days)."""
        p = self.params
        age = np.asarray(age, dtype=np.float64)
        direct = p.omori_cut_tail(age + self.lead_days - 1) - p.omori_cut_tail(
            age + self.horizon_days - 1
        )
        if self.log_ages is None:
            return direct
        la = np.clip(np.log(np.maximum(age, 1e-300)), self.log_ages[0], self.log_ages[-1])
        return direct + np.exp(np.interp(la, self.log_ages, self.log_secondary))


def window_weights(
    params: EtasParams,
    lead_days: float = 10.0,
    horizon_days: float = 50.0,
    cascade: bool = True,
    step_days: float = CASCADE_STEP_DAYS,
) -> WindowWeights:
    """Tabulate `WindowWeights` (the cascade by the renewal equation on a time grid)."""
    if not 1.0 <= lead_days < horizon_days:
        raise ModelError("ETAS forecast: need 1 <= lead_days < horizon_days")
    span = horizon_days - lead_days
    if not cascade:
        return WindowWeights(params, lead_days, horizon_days, None, None, span)
    # Offspring per event within the horizon: the kernel's cut (if any) lies beyond it.
    n = params.mean_kappa
    if not (np.isfinite(n) and params.branching_ratio < 1):
        raise ModelError(
            f"ETAS forecast: supercritical parameters (n = {params.branching_ratio:.3g})"
        )
    if params.t_max_days is not None and params.t_max_days < horizon_days:
        raise ModelError("ETAS forecast: the Omori cut t_max_days must be >= horizon_days")
    c, p = params.c, params.p
    k_all = int(round((horizon_days - 1) / step_days))
    k_lead = int(round((lead_days - 1) / step_days))
    edges = np.arange(k_all + 2) * step_days

    def jfun(v):  # integral of (1 + w / c) ** (1 - p) from 0 to v
        return c / (2 - p) * np.expm1((2 - p) * np.log1p(v / c))

    jv = jfun(edges)
    m_lag = np.empty(k_all)
    m_lag[0] = (step_days - jv[1]) / step_days
    m_lag[1:] = -(jv[2 : k_all + 1] - 2 * jv[1:k_all] + jv[0 : k_all - 1]) / step_days
    lower = np.eye(k_all) - n * toeplitz(m_lag, np.zeros(k_all))
    window = np.zeros(k_all)
    window[k_lead:] = 1.0
    z = solve_triangular(lower, window, trans="T", lower=True)
    ages = np.geomspace(1e-6, 1e6, 601)  # 50 per decade; beyond 1e6 days it stays flat
    tails = params.omori_cut_tail(ages[:, None] + edges[None, : k_all + 1])
    secondary = -np.diff(tails, axis=1) @ (z - window)
    return WindowWeights(
        params,
        lead_days,
        horizon_days,
        np.log(ages),
        np.log(np.maximum(secondary, 1e-300)),
        float(step_days * z.sum()),
    )


class EtasCounts:
    """Expected counts for one catalog on one grid: the footprints (the costly part, ~3 s
    for the Japan catalog; ~30 s with ``fast=False``, see `cell_footprints`) and the window
    weights are computed once, for the events >= m0 with ``t_days < last_day + 1``;
    `counts` then answers any forecast days <= ``last_day``. ``background``: ``(n_cells,)``
    from `background_cells`."""

    def __init__(
        self,
        params: EtasParams,
        t_days: np.ndarray,
        x_km: np.ndarray,
        y_km: np.ndarray,
        mags: np.ndarray,
        grid: Grid,
        background: np.ndarray,
        *,
        mc: float,
        last_day: int,
        lead_days: float = 10.0,
        horizon_days: float = 50.0,
        cascade: bool = True,
        fast: bool = True,
    ) -> None:
        if mc < params.m0 - 1e-9:
            raise ModelError(f"ETAS forecast: Mc {mc:g} is below the model's m0 {params.m0:g}")
        background = np.asarray(background, dtype=np.float64)
        if background.shape != (grid.n_cells,):
            raise ModelError(f"ETAS forecast: background must have shape ({grid.n_cells},)")
        t, x, y, m = (np.asarray(a, dtype=np.float64) for a in (t_days, x_km, y_km, mags))
        keep = np.isfinite(t) & (m >= params.m0 - 1e-9) & (t < last_day + 1)
        order = np.argsort(t[keep], kind="stable")
        self.t, x, y, m = (a[keep][order] for a in (t, x, y, m))
        self.grid, self.last_day = grid, int(last_day)
        self.footprints = cell_footprints(params, x, y, m, grid, fast=fast)
        self.weights = window_weights(params, lead_days, horizon_days, cascade)
        self.kappa = params.kappa(m)
        self.scale = 10.0 ** (-params.b * (mc - params.m0))
        self.base = params.mu * self.weights.background_days * background

    def counts(self, days: np.ndarray) -> np.ndarray:
        """float64 ``(len(days), n_cells)`` for integer forecast days (one sparse product)."""
        days = np.asarray(days, dtype=np.int64)
        if len(days) and days.max() > self.last_day:
            raise ModelError(f"ETAS forecast: day {days.max()} is after last_day {self.last_day}")
        n_seen = int(np.searchsorted(self.t, days.max() + 1, side="left")) if len(days) else 0
        age = (days[:, None] + 1.0) - self.t[None, :n_seen]
        w = np.where(age > 0, self.weights(np.maximum(age, 1e-9)) * self.kappa[:n_seen], 0.0)
        if n_seen:
            counts = (self.footprints[:n_seen].T @ w.T).T
        else:
            counts = np.zeros((len(days), self.grid.n_cells))
        return self.scale * (counts + self.base)


def iter_expected_counts(
    params: EtasParams,
    t_days: np.ndarray,
    x_km: np.ndarray,
    y_km: np.ndarray,
    mags: np.ndarray,
    days: np.ndarray,
    grid: Grid,
    background: np.ndarray,
    *,
    mc: float,
    lead_days: float = 10.0,
    horizon_days: float = 50.0,
    cascade: bool = True,
    block_days: int = 32,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first, counts)``: float64 ``(n, n_cells)`` expected counts of events >= ``mc``
    for ``days[first : first + n]`` (integer forecast days), from the events >= m0 with
    ``t_days < day + 1`` only (`EtasCounts` with ``last_day = max(days)``)."""
    days = np.asarray(days, dtype=np.int64)
    if len(days) == 0:
        return
    model = EtasCounts(
        params,
        t_days,
        x_km,
        y_km,
        mags,
        grid,
        background,
        mc=mc,
        last_day=int(days.max()),
        lead_days=lead_days,
        horizon_days=horizon_days,
        cascade=cascade,
    )
    for first in range(0, len(days), block_days):
        yield first, model.counts(days[first : first + block_days])


def expected_counts(*args, dtype: type = np.float32, **kwargs) -> np.ndarray:
    """All of `iter_expected_counts` (same arguments) at once: ``(len(days), n_cells)`` of
    ``dtype`` (float32: 200 kB per day on the Japan grid)."""
    blocks = list(iter_expected_counts(*args, **kwargs))
    n_cells = blocks[0][1].shape[1] if blocks else 0
    out = np.zeros((sum(len(b) for _, b in blocks), n_cells), dtype=dtype)
    for first, block in blocks:
        out[first : first + len(block)] = block
    return out


def poisson_probability(counts: np.ndarray) -> np.ndarray:
    """``P(at least one event) = 1 - exp(-Lambda)``, same shape and dtype."""
    return -np.expm1(-counts)
