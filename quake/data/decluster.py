"""Declustering: split a catalog into mainshocks (background) and clustered events.

Three views share one result, `Declustering`:

- ``"gk"``: Gardner & Knopoff (1974) space-time windows, in the fit of their table by van
  Stiphout, Zhuang & Marsan (2012, CORSSA)::

      L(M) = 10 ** (0.1238 M + 0.983) km
      T(M) = 10 ** (0.032 M + 2.7389) days  if M >= 6.5,  else 10 ** (0.5409 M - 0.547) days

  Events are visited largest first (equal magnitudes: earliest first). An event that no
  larger event has claimed is a mainshock; it claims every still unclaimed event within
  ``L(M)`` and within ``T(M)`` after it **and** within ``foreshock_fraction * T(M)`` before
  it (1.0 by default: the classic symmetric window that removes foreshocks too; 0 keeps
  foreshocks). A claimed event opens no window of its own (no secondary clustering, the
  original method) and is never re-assigned; its ``parent`` is the mainshock that claimed it.
- ``"zbz"``: Zaliapin & Ben-Zion (2013) nearest-neighbour distances (`decluster_zbz`):
  each event's parent is the earlier event with the smallest eta; events with
  ``eta < eta0`` are clustered (``parent`` kept), the others are background (``parent``
  -1; their nearest neighbour stays in ``extra["nearest"]``). eta0 comes from a
  two-component Gaussian mixture on log10 eta unless given.
- ``"etas"``: background probabilities of a fitted ETAS model (stochastic declustering,
  Zhuang et al. 2002), given from outside: `from_background_probability`.

Distances are epicentral (depth is ignored: many catalogs lack it or fix it): the
straight-line distance between the epicentres on a sphere of radius `EARTH_RADIUS_KM`,
which is the great-circle distance to within 0.05 % below 700 km and has no projection
origin, no distortion away from it and no date-line seam. Times are UTC, in days (GK) or
years (ZBZ).

References: Gardner, J. K. & Knopoff, L. (1974) BSSA 64, 1363-1367. van Stiphout, T.,
Zhuang, J. & Marsan, D. (2012) Seismicity declustering, CORSSA, doi:10.5078/corssa-52382934.
Zaliapin, I. & Ben-Zion, Y. (2013) JGR 118, 2847-2864. Zhuang, J., Ogata, Y. & Vere-Jones, D.
(2002) JASA 97, 369-380.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quake.data.decluster_zbz import check_parameters, mixture_threshold, nearest_neighbours
from quake.data.grid import EARTH_RADIUS_KM
from quake.errors import CatalogError

METHODS = ("gk", "zbz")
MAGNITUDE_BANDS = (4.0, 4.5, 5.0, 5.5, 6.0, 7.0)
"""Lower edges of the cumulative magnitude bands (M >= x) that `Declustering.counts` reports."""
_REQUIRED = ("time", "latitude", "longitude", "magnitude")
_DAYS_PER_YEAR = 365.25


@dataclass
class Declustering:
    """Which events are mainshocks; arrays of shape ``(n,)`` over the events declustered.

    Attributes:
        method: ``"gk"``, ``"zbz"`` or ``"etas"``.
        mainshock: True for a mainshock (background) event, False for a clustered one.
        parent: for a clustered event, the index (into these arrays) of the event it is
            attributed to; -1 for a mainshock or where unknown.
        extra: method parameters (scalars) and per-event diagnostics (arrays).
        rows: position of each event in the table given to `decluster` (``iloc``);
            ``None`` for a result built from arrays.
        magnitude: the events' magnitudes (for `counts`), or ``None``.
    """

    method: str
    mainshock: np.ndarray
    parent: np.ndarray
    extra: dict = field(default_factory=dict)
    rows: np.ndarray | None = None
    magnitude: np.ndarray | None = None

    @property
    def n_events(self) -> int:
        return int(len(self.mainshock))

    @property
    def n_mainshocks(self) -> int:
        return int(np.count_nonzero(self.mainshock))

    @property
    def n_clustered(self) -> int:
        return self.n_events - self.n_mainshocks

    @property
    def fraction_clustered(self) -> float:
        return self.n_clustered / self.n_events if self.n_events else math.nan

    def counts(self, bands: tuple[float, ...] = MAGNITUDE_BANDS) -> dict:
        """Events, mainshocks and clustered events, overall and for each band M >= x."""
        out = {"all": _count(self.mainshock)}
        if self.magnitude is not None:
            for lo in bands:
                out[f"M>={lo:g}"] = _count(self.mainshock[self.magnitude >= lo - 1e-9])
        return out

    def summary(self) -> dict:
        """A JSON-ready summary: method, counts by band, and the scalar parameters."""
        params = {
            k: v
            for k, v in self.extra.items()
            if v is None or isinstance(v, (bool, int, float, str))
        }
        return {"method": self.method, "counts": self.counts(), "params": params}

    def mainshocks(self, events: pd.DataFrame) -> pd.DataFrame:
        """The mainshock rows of ``events`` (the table given to `decluster`), in its order."""
        if self.rows is None:
            raise ValueError("this result was not built from a table; index it yourself")
        return events.iloc[self.rows[self.mainshock]]


def _count(mainshock: np.ndarray) -> dict:
    n, k = int(len(mainshock)), int(np.count_nonzero(mainshock))
    return {
        "events": n,
        "mainshocks": k,
        "clustered": n - k,
        "fraction_clustered": round((n - k) / n, 6) if n else None,
    }


# -- geometry ---------------------------------------------------------------------------------
def sphere_xyz(lat: np.ndarray, lon: np.ndarray, radius_km: float = EARTH_RADIUS_KM) -> np.ndarray:
    """Epicentres as points on the sphere (km), shape ``(n, 3)``; lat/lon in degrees."""
    la = np.radians(np.asarray(lat, dtype=np.float64))
    lo = np.radians(np.asarray(lon, dtype=np.float64))
    c = np.cos(la)
    return radius_km * np.stack([c * np.cos(lo), c * np.sin(lo), np.sin(la)], axis=-1)


def gk_window(magnitude: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Gardner-Knopoff ``(L in km, T in days)`` for magnitudes (van Stiphout et al. 2012 fit)."""
    m = np.asarray(magnitude, dtype=np.float64)
    length = 10.0 ** (0.1238 * m + 0.983)
    duration = np.where(m >= 6.5, 10.0 ** (0.032 * m + 2.7389), 10.0 ** (0.5409 * m - 0.547))
    return length, duration


# -- the methods on arrays (sorted by time) ----------------------------------------------------
def gardner_knopoff(
    t_days: np.ndarray,
    xyz_km: np.ndarray,
    magnitude: np.ndarray,
    foreshock_fraction: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(mainshock, parent)`` by Gardner-Knopoff windows; inputs sorted by time.

    Each window is searched in the time-sorted slice it spans (`numpy.searchsorted`), so the
    work is the sum of the window populations, not ``N^2``.
    """
    t = np.asarray(t_days, dtype=np.float64)
    mag = np.asarray(magnitude, dtype=np.float64)
    n = len(t)
    length, duration = gk_window(mag)
    # Compare chords with the chord of each window's arc: the same test as arc <= L.
    chord = 2.0 * EARTH_RADIUS_KM * np.sin(np.minimum(length / (2.0 * EARTH_RADIUS_KM), np.pi / 2))
    lo = np.searchsorted(t, t - foreshock_fraction * duration, side="left")
    hi = np.searchsorted(t, t + duration, side="right")
    parent = np.full(n, -1, dtype=np.int64)
    mainshock = np.zeros(n, dtype=bool)
    free = np.ones(n, dtype=bool)  # neither a mainshock nor claimed yet
    for i in np.lexsort((t, -mag)).tolist():  # largest first, earliest first on ties
        if not free[i]:
            continue
        free[i] = False
        mainshock[i] = True
        a, e = int(lo[i]), int(hi[i])
        cand = a + np.flatnonzero(free[a:e])
        if not len(cand):
            continue
        d2 = ((xyz_km[cand] - xyz_km[i]) ** 2).sum(axis=1)
        took = cand[d2 <= chord[i] ** 2]
        free[took] = False
        parent[took] = i
    return mainshock, parent


# -- the table API ------------------------------------------------------------------------------
def _prepared(events: pd.DataFrame, m_min: float | None) -> tuple[np.ndarray, pd.DataFrame]:
    """``(rows, table)``: the events at or above ``m_min`` (positions in ``events``), valid."""
    missing = [c for c in _REQUIRED if c not in events.columns]
    if missing:
        raise CatalogError(
            f"the events table lacks {', '.join(missing)}; expected the canonical table "
            "(time, latitude, longitude, depth_km, magnitude) of quake.data.catalog"
        )
    mag = events["magnitude"].to_numpy(dtype=np.float64)
    keep = np.ones(len(events), dtype=bool) if m_min is None else mag >= m_min - 1e-9
    rows = np.flatnonzero(keep)
    table = events.iloc[rows]
    if not len(rows):
        raise CatalogError(
            f"no events at or above M{m_min:g} to decluster (the largest is M{np.max(mag):g})"
            if m_min is not None and len(mag)
            else "the catalog has no events to decluster"
        )
    bad = table[list(_REQUIRED)].isna().any(axis=1).to_numpy()
    if bad.any():
        raise CatalogError(
            f"{int(bad.sum())} events lack a time, position or magnitude; load the catalog "
            "with quake.data.catalog.load_catalog, which drops such rows"
        )
    return rows, table


def decluster(
    events: pd.DataFrame,
    method: str = "gk",
    m_min: float | None = None,
    *,
    foreshock_fraction: float = 1.0,
    d_f: float = 1.6,
    b: float | None = 1.0,
    eta0: float | None = None,
    min_distance_km: float = 0.1,
) -> Declustering:
    """Decluster the canonical events table (any row order) by ``method``.

    Args:
        events: columns time (UTC), latitude, longitude, magnitude (depth_km unused).
        method: ``"gk"`` (Gardner-Knopoff windows) or ``"zbz"`` (nearest neighbours).
        m_min: decluster only the events with magnitude >= ``m_min`` (None: all).
        foreshock_fraction: GK: the window before an event as a fraction of T(M).
        d_f, b: ZBZ: fractal dimension and b-value; ``b=None`` estimates b from these
            events (`quake.data.completeness.estimate_completeness`).
        eta0: ZBZ threshold on eta (years * km ** d_f); None fits it (Gaussian mixture).
        min_distance_km: ZBZ: distance floor for co-located events.

    The result's arrays follow the selected events in the table's order; ``rows`` gives
    their positions in ``events``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    rows, table = _prepared(events, m_min)
    ns = _nanoseconds(table["time"])
    order = np.argsort(ns, kind="stable")
    t_days = (ns[order] - ns[order[0]]) / 86_400e9
    xyz = sphere_xyz(table["latitude"].to_numpy()[order], table["longitude"].to_numpy()[order])
    mag = table["magnitude"].to_numpy(dtype=np.float64)[order]
    extra: dict = {"m_min": m_min}
    if method == "gk":
        if not (math.isfinite(foreshock_fraction) and foreshock_fraction >= 0):
            raise CatalogError(f"foreshock_fraction must be >= 0, not {foreshock_fraction!r}")
        main, parent = gardner_knopoff(t_days, xyz, mag, foreshock_fraction)
        extra["foreshock_fraction"] = foreshock_fraction
    else:
        main, parent, more = _zbz(t_days / _DAYS_PER_YEAR, xyz, mag, d_f, b, eta0, min_distance_km)
        extra.update(more)
    # Back from time order to the table's order (parents renumbered alike).
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    parent = np.where(parent >= 0, order[np.maximum(parent, 0)], -1)
    for key, value in list(extra.items()):
        if isinstance(value, np.ndarray) and value.shape == (len(order),):
            if key == "nearest":
                value = np.where(value >= 0, order[np.maximum(value, 0)], -1)
            extra[key] = value[rank]
    return Declustering(
        method,
        main[rank],
        parent[rank],
        extra,
        rows=rows,
        magnitude=table["magnitude"].to_numpy(dtype=np.float64),
    )


def _nanoseconds(time: pd.Series) -> np.ndarray:
    """UTC nanoseconds of a time column (naive times are taken as UTC)."""
    try:
        idx = pd.DatetimeIndex(time)
    except (TypeError, ValueError) as err:
        raise CatalogError(f"the time column is not a date-time column ({err})") from None
    if idx.tz is not None:
        idx = idx.tz_convert(None)
    return idx.as_unit("ns").asi8


def _zbz(t_years, xyz, mag, d_f, b, eta0, min_distance_km):
    if b is None:
        from quake.data.completeness import estimate_completeness

        b = float(estimate_completeness(mag).b_value)
    check_parameters(d_f, b, min_distance_km, eta0)
    nn = nearest_neighbours(t_years, xyz, mag, d_f=d_f, b=b, min_distance_km=min_distance_km)
    extra: dict = {"d_f": d_f, "b": b, "min_distance_km": min_distance_km}
    if eta0 is None:
        log_eta0, mixture = mixture_threshold(nn.log_eta)
        extra["eta0_source"] = "gaussian mixture"
        extra["mixture"] = mixture
    else:
        log_eta0 = math.log10(eta0)
        extra["eta0_source"] = "given"
    extra["log10_eta0"] = log_eta0
    clustered = nn.log_eta < log_eta0  # +inf (no earlier event) is never clustered
    parent = np.where(clustered, nn.parent, -1)
    extra.update(nearest=nn.parent, log_eta=nn.log_eta, log_t=nn.log_t, log_r=nn.log_r)
    extra["distance_km"] = nn.distance_km
    return ~clustered, parent, extra


def from_background_probability(
    probability: np.ndarray,
    threshold: float = 0.5,
    method: str = "etas",
    *,
    seed: int | None = None,
    rows: np.ndarray | None = None,
    magnitude: np.ndarray | None = None,
    extra: dict | None = None,
) -> Declustering:
    """A declustering from per-event background probabilities (e.g. ETAS stochastic
    declustering, Zhuang, Ogata & Vere-Jones 2002). Parents are unknown (-1).

    Which events are mainshocks:

    - ``seed`` None (default): the deterministic rule ``probability >= threshold`` (0.5:
      an event is a mainshock when it more likely came from the background than from any
      earlier event), the same catalog every time.
    - ``seed`` an int: one stochastic declustering, each event a mainshock with its own
      probability (``U < probability``, U uniform from ``numpy.random.default_rng(seed)``),
      so the expected number of mainshocks is ``sum(probability)``; ``threshold`` is unused.

    ``probability``: shape ``(n,)``, values in [0, 1], in the order of the events table;
    ``rows`` (positions in that table) and ``magnitude`` (for `Declustering.counts`), shape
    ``(n,)``, if known; ``extra``: more scalar parameters to report.
    """
    p = np.asarray(probability, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"probability must be one-dimensional, not of shape {p.shape}")
    if not np.all((p >= 0) & (p <= 1)):  # NaN fails too
        raise ValueError("background probabilities must lie in [0, 1]")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], not {threshold!r}")
    for name, a in (("rows", rows), ("magnitude", magnitude)):
        if a is not None and np.shape(a) != p.shape:
            raise ValueError(f"{name} must have the shape of probability {p.shape}")
    if seed is None:
        main = p >= threshold
        info: dict = {"rule": f"probability >= {threshold:g}", "threshold": threshold}
    else:
        main = np.random.default_rng(seed).random(len(p)) < p
        info = {"rule": "stochastic draw", "seed": int(seed)}
    info["expected_mainshocks"] = round(float(p.sum()), 3)
    return Declustering(
        method,
        main,
        np.full(len(p), -1, dtype=np.int64),
        {**info, **(extra or {}), "probability": p},
        rows=None if rows is None else np.asarray(rows, dtype=np.int64),
        magnitude=None if magnitude is None else np.asarray(magnitude, dtype=np.float64),
    )
