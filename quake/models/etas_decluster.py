"""ETAS stochastic declustering: the third view of `quake.data.decluster` (method ``"etas"``).

The data layer cannot fit ETAS (it sits below the models), so this glue lives here: it fits
ETAS (`quake.models.etas_fit.fit_etas`) to a catalog and hands each fitted event's
background probability ``phi_i = mu u(x_i) / lambda(t_i, x_i)`` (Zhuang, Ogata &
Vere-Jones 2002) to `quake.data.decluster.from_background_probability`.

The fit is the ``etas`` forecaster's ``final`` one: the events ``>= m0`` of the protocol's
train + validation period inside the grid's rectangle (history years and events outside
the grid trigger only). A fit over the whole reference catalog, 2011-2019 included, is
supercritical (branching ratio 1.41, the Tohoku sequence), which the fitter refuses; so
the probabilities of later events come from the same parameters and background
(`quake.models.etas_fit.background_probability`), every earlier event triggering.

What is declustered: the events ``>= m0`` inside the grid from the first train day to the
catalog's end. The history years, the events outside the grid and those below ``m0`` get
no probability and are left out of the result (its ``rows`` say which events are in it).
``m0`` defaults to the fitting period's completeness rounded up
(`quake.models.etas.default_m0`). A mainshock is an event with ``phi >= threshold`` (0.5),
or, with a ``seed``, one stochastic draw ``U < phi`` (see `from_background_probability`).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from quake.data.decluster import Declustering, from_background_probability
from quake.data.protocol import Protocol
from quake.errors import CatalogError, ModelError
from quake.models.etas import default_m0
from quake.models.etas_fit import background_probability, fit_etas
from quake.models.etas_forecast import grid_region

__all__ = ["etas_declustering"]


def etas_declustering(
    events: pd.DataFrame,
    protocol: Protocol,
    m0: float | None = None,
    threshold: float = 0.5,
    seed: int | None = None,
    t_max_days: float | None = None,
) -> Declustering:
    """Decluster the canonical ``events`` table by an ETAS fit on ``protocol``'s grid.

    Returns a `Declustering` (method ``"etas"``) over the fitted events, with ``rows`` their
    positions in ``events``; ``extra`` holds the fitted parameters, the branching ratio and
    ``probability`` per event. A `CatalogError` when the table lacks columns or has too
    few events to fit; the fit's own `ModelError` (no convergence, supercritical) otherwise.
    """
    missing = [c for c in ("time", "latitude", "longitude", "magnitude") if c not in events]
    if missing:
        raise CatalogError(f"the events table lacks {', '.join(missing)}")
    if not len(events):
        raise CatalogError("the catalog has no events to decluster")
    t0 = time.perf_counter()
    t = (
        events["time"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]")
        - np.datetime64(protocol.epoch, "ns")
    ) / np.timedelta64(1, "D")
    x, y = protocol.grid.project(events["latitude"].to_numpy(), events["longitude"].to_numpy())
    mag = events["magnitude"].to_numpy(np.float64)
    start, stop = protocol.fit_days(True)
    end = float(max(protocol.n_days, np.nanmax(t) + 1.0))
    fitted_period = (t >= start) & (t < stop)
    if m0 is None:
        m0 = default_m0(mag[fitted_period], float(np.nanmax(mag)))
    try:
        fit = fit_etas(
            t,
            x,
            y,
            mag,
            m0=m0,
            t_start=float(start),
            t_end=float(stop),
            region=grid_region(protocol.grid),
            t_max_days=t_max_days,
        )
    except ModelError as err:
        if "target events" in str(err):
            raise CatalogError(f"too few events >= M{m0:g} to fit ETAS: {err}") from None
        raise
    index, phi = background_probability(
        fit.params, fit.background, t, x, y, mag, t_start=float(start), t_end=end
    )
    rows = np.asarray(index, dtype=np.int64)
    order = np.argsort(rows, kind="stable")  # the table's order
    p = fit.params
    extra = {
        "m_min": float(m0),
        "mu": p.mu,
        "alpha": p.alpha,
        "p": p.p,
        "b": p.b,
        "branching_ratio": p.branching_ratio,
        "fitted_until_day": int(stop),
        "fit_seconds": round(time.perf_counter() - t0, 2),
    }
    return from_background_probability(
        phi[order],
        threshold,
        seed=seed,
        rows=rows[order],
        magnitude=mag[rows[order]],
        extra=extra,
    )
