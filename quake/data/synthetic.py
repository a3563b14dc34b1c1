"""Seeded synthetic catalogs for tests and benchmarks (never for claims about real data).

`synthetic_catalog` draws background events uniformly in a box and, optionally,
aftershock-like offspring: each event of magnitude m triggers on average
``productivity * 10 ** (0.8 * (m - m_ref))`` later events near it (a crude ETAS-like
cascade), so "events follow events" is a signal a model can learn.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd


def synthetic_catalog(
    n_background: int = 500,
    start: date = date(2000, 1, 1),
    n_days: int = 1000,
    lat: tuple[float, float] = (35.0, 36.0),
    lon: tuple[float, float] = (139.0, 140.0),
    b_value: float = 1.0,
    m_min: float = 3.0,
    productivity: float = 0.0,
    m_ref: float = 4.0,
    delay_days: float = 20.0,
    spread_km: float = 5.0,
    seed: int = 0,
) -> pd.DataFrame:
    """A canonical event table (time UTC, latitude, longitude, depth_km, magnitude), sorted.

    Magnitudes follow Gutenberg-Richter with ``b_value`` above ``m_min``. With
    ``productivity > 0`` each event spawns Poisson offspring after an exponential
    delay (mean ``delay_days``) within about ``spread_km`` of it.
    """
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, n_days, n_background)
    la = rng.uniform(*lat, n_background)
    lo = rng.uniform(*lon, n_background)
    m = m_min + rng.exponential(1 / (b_value * np.log(10)), n_background)
    ts, las, los, ms = [t], [la], [lo], [m]
    parents = (t, la, lo, m)
    for _ in range(20):
        if productivity <= 0 or len(parents[0]) == 0:
            break
        # alpha = 0.8 < b keeps the mean number of offspring finite.
        k = rng.poisson(productivity * 10 ** (0.8 * (parents[3] - m_ref)))
        if k.sum() == 0:
            break
        pt, pla, plo = (np.repeat(a, k) for a in parents[:3])
        ct = pt + rng.exponential(delay_days, len(pt))
        cla = pla + rng.normal(0, spread_km / 111.0, len(pt))
        clo = plo + rng.normal(0, spread_km / 111.0, len(pt)) / np.cos(np.radians(pla))
        cm = m_min + rng.exponential(1 / (b_value * np.log(10)), len(pt))
        keep = ct < n_days
        parents = (ct[keep], cla[keep], clo[keep], cm[keep])
        for acc, new in zip((ts, las, los, ms), parents, strict=True):
            acc.append(new)
    t, la, lo, m = (np.concatenate(a) for a in (ts, las, los, ms))
    time = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(t, unit="D")
    df = pd.DataFrame(
        {
            "time": time,
            "latitude": la,
            "longitude": lo,
            "depth_km": rng.uniform(0, 60, len(t)),
            "magnitude": np.round(m, 1),
        }
    )
    return df.sort_values("time", kind="stable").reset_index(drop=True)


def to_reference_csv(df: pd.DataFrame) -> str:
    """The table in the reference layout (id,time,longitude,latitude,magnitude,x,y)."""
    out = pd.DataFrame(
        {
            "id": np.arange(len(df)),
            "time": df["time"].dt.strftime("%Y-%m-%d %H:%M:%S.%f").str[:-3],
            "longitude": df["longitude"].round(4),
            "latitude": df["latitude"].round(4),
            "magnitude": df["magnitude"],
            "x": 0.0,
            "y": 0.0,
        }
    )
    return out.to_csv(index=False)
