"""Space-time ETAS: parameters, kernels and their integrals over rectangles (pure numpy).

The conditional intensity of events with magnitude >= m0 (Ogata 1998; Zhuang, Ogata &
Vere-Jones 2002), in projected km and days::

    lambda(t, x, y) = mu u(x, y) + sum_{t_i < t} kappa(m_i) g(t - t_i) f(x - x_i, y - y_i | m_i)

    kappa(m) = A * exp(alpha * (m - m0))                          productivity
    g(t)     = (p - 1) / c * (1 + t / c) ** -p                     Omori-Utsu, p > 1
    f(r | m) = (q - 1) / (pi * s(m)) * (1 + r**2 / s(m)) ** -q     power law, q > 1
    s(m)     = D * exp(gamma * (m - m0))                           (km**2)

``u`` is a density that integrates to 1 over the fitted region, so ``mu`` is the number of
background events per day in the region. Magnitudes follow Gutenberg-Richter with
``beta = b ln 10``; the branching ratio (mean number of direct offspring of an event of random
magnitude) is ``n = A beta / (beta - alpha)`` for ``alpha < beta``.

**Truncation (part of the model).** The spatial kernel of an event of magnitude m is cut at
``R(m) = min(r0_km * 10 ** (0.5 (m - m0)), r_max_km)`` (the radius grows like rupture length,
Wells & Coppersmith 1994), without renormalisation: an event puts the mass
``1 - (1 + R**2 / s) ** (1 - q)`` of its offspring within R and none beyond. The fit and the
forecast use this same truncated kernel, so the likelihood is exact for it and the forecast's
sparse footprints lose nothing. With D = 5 km**2 and q = 1.7 the cut drops ~1.2 % of an m0
event's offspring; `EtasParams.truncated_fraction` reports it for fitted parameters.

**Omori cut (optional).** With ``t_max_days`` the time kernel is zero after that delay, again
without renormalisation; the branching ratio then counts offspring within it.

**Mass in a rectangle.** The mass of an isotropic kernel centred at P inside an axis-aligned
rectangle is ``(1 / 2 pi) * integral dtheta [H(r_in(theta)) - H(r_out(theta))]`` where
``H(r) = (1 + r**2 / s) ** (1 - q)`` is the mass beyond r and ``r_in``/``r_out`` are where the ray
from P enters and leaves the rectangle (both clipped at R; ``r_in = 0`` when P is inside).
Between the directions of the rectangle's corners each of ``r_in``/``r_out`` is a single
side's ``d / cos``, a smooth function, so Gauss-Legendre on each corner-to-corner arc is
accurate (`rect_nodes`; tested against 2-D adaptive quadrature). `polar_mass` is the same
rule organised for speed (the points along the contiguous axis).

**Cartesian rule.** For a square wholly inside the truncation circle that the kernel is
smooth over, an n x n Gauss-Legendre rule of the density (`square_gauss_mass`, n from
`gauss_order` for a stated relative error) gives the mass with fewer, cheaper nodes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from quake.errors import ModelError

LN10 = math.log(10.0)
TWO_PI = 2.0 * math.pi
_TINY_DIR = 1e-280  # stands in for a zero direction cosine in the ray/slab test


@dataclass(frozen=True)
class EtasParams:
    """ETAS parameters; units days, km, km**2 (see the module docstring).

    Attributes:
        mu: background events (>= m0) per day in the fitted region.
        A, alpha: productivity ``kappa(m) = A exp(alpha (m - m0))``.
        c, p: Omori-Utsu time kernel (days; p > 1).
        D, q, gamma: spatial kernel, ``s(m) = D exp(gamma (m - m0))`` km**2; q > 1.
        b: Gutenberg-Richter b-value of magnitudes >= m0.
        m0: reference (and smallest modelled) magnitude.
        r0_km, r_max_km: kernel truncation radius ``min(r0 10**(0.5 (m - m0)), r_max)``.
        dm: magnitude bin width of the catalog (0: continuous magnitudes).
        t_max_days: the Omori kernel is cut after this many days (not renormalised: an
            event has ``kappa (1 - (1 + t_max / c) ** (1 - p))`` offspring); None: never.
    """

    mu: float
    A: float
    alpha: float
    c: float
    p: float
    D: float
    q: float
    gamma: float
    b: float
    m0: float
    r0_km: float = 50.0
    r_max_km: float = 1000.0
    dm: float = 0.0
    t_max_days: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "t_max_days" and v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ModelError(f"ETAS parameter {f.name}: must be a finite number, got {v!r}")
            object.__setattr__(self, f.name, float(v))
        for name in ("mu", "A", "c", "D", "b", "r0_km"):
            if getattr(self, name) <= 0:
                raise ModelError(f"ETAS parameter {name}: must be > 0")
        if self.alpha < 0 or self.gamma < 0:
            raise ModelError("ETAS parameters alpha and gamma must be >= 0")
        if not 1.0 < self.p < 2.0:
            raise ModelError(f"ETAS parameter p: must be in (1, 2), got {self.p:g}")
        if self.q <= 1.0:
            raise ModelError(f"ETAS parameter q: must be > 1, got {self.q:g}")
        if self.dm < 0:
            raise ModelError("ETAS parameter dm: must be >= 0")
        if self.r_max_km < self.r0_km:
            raise ModelError("ETAS parameter r_max_km: must be >= r0_km")
        if self.t_max_days is not None and self.t_max_days < 1.0:
            raise ModelError("ETAS parameter t_max_days: must be >= 1 day (or None)")

    @property
    def beta(self) -> float:
        return self.b * LN10

    @property
    def branching_ratio(self) -> float:
        """Mean number of direct offspring of an event with a GR magnitude:
        ``mean_kappa * time_fraction``; the process is subcritical iff it is < 1."""
        return self.mean_kappa * self.time_fraction

    @property
    def mean_kappa(self) -> float:
        """``A E[exp(alpha (m - m0))]``: ``A beta / (beta - alpha)`` for continuous magnitudes,
        ``A (1 - e**(-beta dm)) / (1 - e**((alpha - beta) dm))`` for magnitudes in bins of
        ``dm`` (GR is geometric over the bins); infinite when ``alpha >= beta``."""
        if self.alpha >= self.beta:
            return math.inf
        if self.dm > 0:
            return (
                self.A
                * math.expm1(-self.beta * self.dm)
                / math.expm1((self.alpha - self.beta) * self.dm)
            )
        return self.A * self.beta / (self.beta - self.alpha)

    @property
    def time_fraction(self) -> float:
        """Share of the Omori kernel before ``t_max_days`` (1 when it is not cut)."""
        if self.t_max_days is None:
            return 1.0
        return float(1.0 - omori_tail(self.t_max_days, self.c, self.p))

    def omori_cut_tail(self, tau: np.ndarray) -> np.ndarray:
        """``tail(min(tau, t_max))``: differences of it give the cut kernel's mass."""
        tau = np.asarray(tau, dtype=np.float64)
        if self.t_max_days is not None:
            tau = np.minimum(tau, self.t_max_days)
        return omori_tail(tau, self.c, self.p)

    def kappa(self, m: np.ndarray) -> np.ndarray:
        return self.A * np.exp(self.alpha * (np.asarray(m, dtype=np.float64) - self.m0))

    def sigma(self, m: np.ndarray) -> np.ndarray:
        return self.D * np.exp(self.gamma * (np.asarray(m, dtype=np.float64) - self.m0))

    def radius(self, m: np.ndarray) -> np.ndarray:
        return trigger_radius(m, self.m0, self.r0_km, self.r_max_km)

    @property
    def truncated_fraction(self) -> float:
        """Share of an m0 event's offspring beyond its truncation radius ``r0_km``."""
        return float(spatial_tail(self.r0_km**2, self.D, self.q))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EtasParams:
        if not isinstance(d, dict):
            raise ModelError("ETAS parameters: must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ModelError(f"ETAS parameters: unknown keys {sorted(map(str, unknown))[:5]}")
        try:
            return cls(**d)
        except TypeError as err:  # a missing key
            raise ModelError(f"ETAS parameters: {err}") from None


def saved_params(d: object) -> EtasParams:
    """`EtasParams` from a model.json ``params`` object: the fields plus ``branching_ratio``
    (derived, recorded for readers of the file; it must agree with the fields and be < 1)."""
    if not isinstance(d, dict):
        raise ModelError("ETAS parameters: must be a JSON object")
    fields_only = {k: v for k, v in d.items() if k != "branching_ratio"}
    params = EtasParams.from_dict(fields_only)
    n = params.branching_ratio
    recorded = d.get("branching_ratio", n)
    if not isinstance(recorded, int | float) or not math.isclose(recorded, n, rel_tol=1e-6):
        raise ModelError(f"ETAS parameters: branching_ratio {recorded!r} disagrees with {n:.6g}")
    if not n < 1.0:
        raise ModelError(f"ETAS parameters: branching ratio {n:.3g} >= 1 (supercritical)")
    return params


def aki_utsu_b(mags: np.ndarray, m0: float, dm: float = 0.1) -> float:
    """Aki (1965) maximum-likelihood b-value with Utsu's (1965) binning correction.

    ``b = log10(e) / (mean(M) - (m0 - dm / 2))`` over magnitudes ``>= m0`` (``m0`` a bin
    centre of width ``dm``); ``dm = 0`` for continuous magnitudes. Raises `ModelError` with
    fewer than two such magnitudes or no spread above the bin edge.
    """
    m = np.asarray(mags, dtype=np.float64)
    m = m[np.isfinite(m) & (m >= m0 - 1e-9)]
    denom = float(m.mean()) - (m0 - dm / 2.0) if m.size else 0.0
    if m.size < 2 or denom <= 0:
        raise ModelError(f"b-value: need two or more magnitudes above M{m0:g} with a spread")
    return math.log10(math.e) / denom


def trigger_radius(m: np.ndarray, m0: float, r0_km: float, r_max_km: float) -> np.ndarray:
    """Truncation radius (km) of the spatial kernel of events of magnitude ``m``."""
    r = r0_km * 10.0 ** (0.5 * (np.asarray(m, dtype=np.float64) - m0))
    return np.minimum(r, r_max_km)


def omori_tail(tau: np.ndarray, c: float, p: float) -> np.ndarray:
    """Share of the Omori-Utsu kernel after ``tau`` days: ``(1 + tau / c) ** (1 - p)``."""
    return np.exp((1.0 - p) * np.log1p(np.asarray(tau, dtype=np.float64) / c))


def spatial_tail(r2: np.ndarray, sigma: np.ndarray | float, q: float) -> np.ndarray:
    """Share of the spatial kernel beyond radius ``sqrt(r2)``: ``(1 + r2 / s) ** (1 - q)``."""
    return np.exp((1.0 - q) * np.log1p(np.asarray(r2, dtype=np.float64) / sigma))


def spatial_density(r2: np.ndarray, sigma: np.ndarray | float, q: float) -> np.ndarray:
    """``f(r | m)`` per km**2 at squared distance ``r2`` (km**2), untruncated."""
    return (q - 1.0) / (np.pi * sigma) * np.exp(-q * np.log1p(np.asarray(r2) / sigma))


@functools.cache
def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1] (computed once per ``n``; read-only)."""
    xi, wi = np.polynomial.legendre.leggauss(n)
    xi.flags.writeable = False
    wi.flags.writeable = False
    return xi, wi


def rect_nodes(
    px: np.ndarray,
    py: np.ndarray,
    rect: tuple,
    rmax: np.ndarray | float,
    n_nodes: int = 8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Polar quadrature for the mass of kernels centred at ``(px, py)`` in rectangles.

    ``rect = (x0, x1, y0, y1)``, each a scalar or shaped like ``px`` (one rectangle per
    point); ``rmax`` clips the rays (the kernel's truncation radius). Returns
    ``(r_in, r_out, w)``, each ``(n, 4 * n_nodes)``, such that the mass of a kernel with
    tail function H is ``sum(w * (H(r_in) - H(r_out)), axis=1)``. The four arcs run between
    the corner directions (for a point outside, the span the rectangle subtends, split at
    the two middle corners, plus one empty arc); on each arc ``n_nodes`` Gauss-Legendre points.
    """
    px = np.asarray(px, dtype=np.float64)
    py = np.asarray(py, dtype=np.float64)
    x0, x1, y0, y1 = (np.broadcast_to(np.asarray(v, dtype=np.float64), px.shape) for v in rect)
    rmax = np.broadcast_to(np.asarray(rmax, dtype=np.float64), px.shape)
    inside = (px >= x0) & (px <= x1) & (py >= y0) & (py <= y1)
    cx = np.stack([x0, x1, x1, x0], axis=-1) - px[:, None]
    cy = np.stack([y0, y0, y1, y1], axis=-1) - py[:, None]
    ref = np.where(inside, 0.0, np.arctan2((y0 + y1) / 2 - py, (x0 + x1) / 2 - px))
    phi = np.arctan2(cy, cx) - ref[:, None]
    phi = np.sort(np.mod(phi + np.pi, TWO_PI) - np.pi, axis=1)
    last = np.where(inside, phi[:, 0] + TWO_PI, phi[:, 3])
    lo = phi
    hi = np.concatenate([phi[:, 1:], last[:, None]], axis=1)
    xi, wi = gauss_legendre(n_nodes)
    half = (hi - lo)[:, :, None] / 2.0
    theta = ref[:, None, None] + ((hi + lo)[:, :, None] / 2.0 + half * xi)
    w = (half * wi / TWO_PI).reshape(len(px), -1)
    theta = theta.reshape(len(px), -1)
    dx, dy = np.cos(theta), np.sin(theta)
    dx = np.where(dx == 0.0, _TINY_DIR, dx)
    dy = np.where(dy == 0.0, _TINY_DIR, dy)
    tx0, tx1 = (x0[:, None] - px[:, None]) / dx, (x1[:, None] - px[:, None]) / dx
    ty0, ty1 = (y0[:, None] - py[:, None]) / dy, (y1[:, None] - py[:, None]) / dy
    t_enter = np.maximum(np.minimum(tx0, tx1), np.minimum(ty0, ty1))
    t_leave = np.minimum(np.maximum(tx0, tx1), np.maximum(ty0, ty1))
    r_in = np.clip(t_enter, 0.0, rmax[:, None])
    r_out = np.maximum(np.clip(t_leave, 0.0, rmax[:, None]), r_in)
    return r_in, r_out, w


def rect_mass(
    r_in: np.ndarray, r_out: np.ndarray, w: np.ndarray, sigma: np.ndarray, q: float
) -> np.ndarray:
    """Kernel mass in each rectangle from `rect_nodes` output; ``sigma`` shape ``(n,)``."""
    s = np.asarray(sigma, dtype=np.float64)[:, None]
    return np.sum(w * (spatial_tail(r_in**2, s, q) - spatial_tail(r_out**2, s, q)), axis=1)


# -- the Cartesian rule for squares the kernel is smooth over ----------------------------
GAUSS_ORDERS = (2, 3, 4, 6, 8, 12, 16)
_SAFETY = 0.5  # the Bernstein ellipse is taken at half the distance to the singularity
_GAIN = 10.0  # and the error estimate multiplied by 10 (both fitted with margin, see below)


def gauss_order(d2: np.ndarray, sigma: np.ndarray, h: float, tol: float) -> np.ndarray:
    """Smallest n in `GAUSS_ORDERS` whose n x n Gauss-Legendre product rule integrates the
    untruncated kernel over an ``h`` km square to a relative error below ``tol``; 0 where
    none does (the polar rule is needed). ``d2``: squared distance from the event to the
    square (0 inside it), ``sigma``: s(m), both per pair.

    The density ``(1 + r**2 / s) ** -q`` is analytic except where ``r**2 = -s``; along a
    side of the square those points lie at least ``delta = sqrt(d2 + s)`` from it, so the
    rule converges like ``rho ** (-2 n)`` with ``rho = v + sqrt(v**2 + 1)``,
    ``v = 2 delta / h`` (Trefethen 2008). The estimate ``10 rho ** (-2 n)`` with ``v`` halved
    bounded the error in every one of 6,000 random squares, kernels and distances
    (sqrt(s) from 0.05 h to 10 h, q from 1.2 to 3, the event inside to 60 h away), and
    `tests/test_etas_core.py` checks the bound itself.
    """
    # n suffices iff rho >= (gain / tol) ** (1 / 2n), i.e. iff d2 + s >= thr[n] below.
    orders = np.asarray(GAUSS_ORDERS[::-1])  # descending; their thresholds ascending
    rho = (_GAIN / tol) ** (1.0 / (2.0 * orders))
    thr = ((rho - 1.0 / rho) / 2.0 * h / (2.0 * _SAFETY)) ** 2
    count = np.searchsorted(thr, np.asarray(d2, dtype=np.float64) + sigma, side="right")
    return np.where(count > 0, orders[np.maximum(count - 1, 0)], 0)


def square_gauss_mass(
    rel_x: np.ndarray,
    rel_y: np.ndarray,
    h: float,
    sigma: np.ndarray,
    q: float,
    n_nodes: int,
    max_nodes: int = 1 << 18,
) -> np.ndarray:
    """Mass of the untruncated kernel in the squares ``[rel_x, rel_x + h] x [rel_y, rel_y + h]``
    (km from the kernel's centre; ``sigma`` s(m), all shape ``(k,)``) by the ``n_nodes`` x
    ``n_nodes`` Gauss-Legendre product rule of the density: the truncated kernel's mass where
    the square lies inside the truncation circle, accurate where `gauss_order` says so.
    Works in slices of ``max_nodes`` nodes (their temporaries then stay in the CPU cache)."""
    xi, wi = gauss_legendre(n_nodes)
    offs = (h / 2.0 * (1.0 + xi))[:, None]
    w2 = (np.outer(wi, wi) * (h / 2.0) ** 2).ravel()
    k = len(rel_x)
    out = np.empty(k)
    step = max(1, max_nodes // (n_nodes * n_nodes))
    for a in range(0, k, step):  # the pairs run along the last (contiguous) axis
        sl = slice(a, min(a + step, k))
        inv = 1.0 / np.asarray(sigma[sl], dtype=np.float64)
        root = np.sqrt(inv)
        ux = (rel_x[sl] + offs) * root  # (n, k) node offsets in units of sqrt(s)
        uy = (rel_y[sl] + offs) * root
        ux *= ux
        uy *= uy
        r2 = ux[:, None, :] + uy[None, :, :]  # r**2 / s at the n x n nodes
        np.log1p(r2, out=r2)
        r2 *= -q
        np.exp(r2, out=r2)
        out[sl] = (w2 @ r2.reshape(n_nodes * n_nodes, -1)) * inv
    return out * ((q - 1.0) / np.pi)


def _sort4(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, ...]:
    """Element-wise ascending sort of four arrays (a five-comparator sorting network)."""
    a, b = np.minimum(a, b), np.maximum(a, b)
    c, d = np.minimum(c, d), np.maximum(c, d)
    a, c = np.minimum(a, c), np.maximum(a, c)
    b, d = np.minimum(b, d), np.maximum(b, d)
    b, c = np.minimum(b, c), np.maximum(b, c)
    return a, b, c, d


def polar_mass(
    px: np.ndarray,
    py: np.ndarray,
    rect: tuple,
    rmax: np.ndarray,
    sigma: np.ndarray,
    q: float,
    n_nodes: int,
) -> np.ndarray:
    """``rect_mass(*rect_nodes(px, py, rect, rmax, n_nodes), sigma, q)`` for one rectangle
    per point (``rect``, ``rmax``, ``sigma`` shaped like ``px``): the same nodes and weights,
    computed with the points along the contiguous axis, and without the empty fourth arc
    when no point lies inside its rectangle (equal to `rect_mass` up to rounding)."""
    px = np.asarray(px, dtype=np.float64)
    py = np.asarray(py, dtype=np.float64)
    x0, x1, y0, y1 = (np.asarray(v, dtype=np.float64) for v in rect)
    inside = (px >= x0) & (px <= x1) & (py >= y0) & (py <= y1)
    ref = np.where(inside, 0.0, np.arctan2((y0 + y1) / 2 - py, (x0 + x1) / 2 - px))
    corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    phi = [np.mod(np.arctan2(cy - py, cx - px) - ref + np.pi, TWO_PI) - np.pi for cx, cy in corners]
    phi = _sort4(*phi)
    last = np.where(inside, phi[0] + TWO_PI, phi[3])
    arcs = 4 if inside.any() else 3
    lo = np.stack(phi[:arcs])  # (arcs, k)
    hi = np.stack([*phi[1:], last][:arcs])
    xi, wi = gauss_legendre(n_nodes)
    half = ((hi - lo) / 2.0)[:, None, :]  # (arcs, 1, k)
    theta = ref + (((hi + lo) / 2.0)[:, None, :] + half * xi[:, None])  # (arcs, n, k)
    w = half * (wi / TWO_PI)[:, None]
    dx, dy = np.cos(theta), np.sin(theta)
    dx[dx == 0.0] = _TINY_DIR
    dy[dy == 0.0] = _TINY_DIR
    tx0, tx1 = (x0 - px) / dx, (x1 - px) / dx
    ty0, ty1 = (y0 - py) / dy, (y1 - py) / dy
    t_enter = np.maximum(np.minimum(tx0, tx1), np.minimum(ty0, ty1))
    t_leave = np.minimum(np.maximum(tx0, tx1), np.maximum(ty0, ty1))
    r_in = np.clip(t_enter, 0.0, rmax)
    r_out = np.maximum(np.clip(t_leave, 0.0, rmax), r_in)
    s = np.asarray(sigma, dtype=np.float64)
    mass = w * (spatial_tail(r_in * r_in, s, q) - spatial_tail(r_out * r_out, s, q))
    return mass.reshape(-1, len(px)).sum(axis=0)
