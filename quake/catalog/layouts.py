"""Catalog CSV layouts: detection from the header and conversion to the canonical table.

Canonical table columns: ``time`` (UTC datetime), ``latitude``, ``longitude``
(degrees), ``depth_km`` (may be NaN), ``magnitude``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

CANONICAL = ["time", "latitude", "longitude", "depth_km", "magnitude"]


@dataclass(frozen=True)
class Layout:
    """One known CSV layout: the columns that identify it and how to read it."""

    name: str
    description: str
    required: frozenset[str]
    convert: Callable[[pd.DataFrame], pd.DataFrame]

    def matches(self, columns: set[str]) -> bool:
        return self.required <= columns


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.str.strip(), errors="coerce")


def _iso_time(s: pd.Series) -> pd.Series:
    s = s.str.strip()
    # ISO 8601 with 'T' or ' ', optional 'Z'/offset; naive times are taken as UTC.
    return pd.to_datetime(s, utc=True, format="ISO8601", errors="coerce")


def _canonical(time, lat, lon, depth, mag) -> pd.DataFrame:
    return pd.DataFrame(
        {"time": time, "latitude": lat, "longitude": lon, "depth_km": depth, "magnitude": mag}
    )


def _usgs(df: pd.DataFrame) -> pd.DataFrame:
    depth = _num(df["depth"]) if "depth" in df else np.nan
    return _canonical(
        _iso_time(df["time"]), _num(df["latitude"]), _num(df["longitude"]), depth, _num(df["mag"])
    )


def _reference(df: pd.DataFrame) -> pd.DataFrame:
    depth = _num(df["depth"]) if "depth" in df else np.nan
    return _canonical(
        _iso_time(df["time"]),
        _num(df["latitude"]),
        _num(df["longitude"]),
        depth,
        _num(df["magnitude"]),
    )


def _paper(df: pd.DataFrame) -> pd.DataFrame:
    sec = _num(df["seconds"])
    whole = np.floor(sec)
    parts = pd.DataFrame(
        {
            "year": _num(df["year"]),
            "month": _num(df["month"]),
            "day": _num(df["date"]),
            "hour": _num(df["hour"]),
            "minute": _num(df["minute"]),
            "second": whole,
            "us": np.round((sec - whole) * 1e6),
        }
    )
    ok = parts.notna().all(axis=1)
    time = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns, UTC]")
    if ok.any():
        t = pd.to_datetime(parts[ok].astype("int64"), errors="coerce", utc=True)
        time[ok] = t
    depth = _num(df["depth"]) if "depth" in df else np.nan
    return _canonical(time, _num(df["lat"]), _num(df["long"]), depth, _num(df["class"]))


def _generic(df: pd.DataFrame) -> pd.DataFrame:
    cols = set(df.columns)
    lat = "latitude" if "latitude" in cols else "lat"
    lon = next(c for c in ("longitude", "lon", "long", "lng") if c in cols)
    mag = next(c for c in ("magnitude", "mag") if c in cols)
    depth = next((c for c in ("depth_km", "depth") if c in cols), None)
    return _canonical(
        _iso_time(df["time"]),
        _num(df[lat]),
        _num(df[lon]),
        _num(df[depth]) if depth else np.nan,
        _num(df[mag]),
    )


LAYOUTS: list[Layout] = [
    Layout(
        "usgs",
        "USGS ComCat CSV (time,latitude,longitude,depth,mag,magType,...,id,...)",
        frozenset({"time", "latitude", "longitude", "mag", "magtype"}),
        _usgs,
    ),
    Layout(
        "reference",
        "reference layout (id,time,longitude,latitude,magnitude,x,y)",
        frozenset({"id", "time", "longitude", "latitude", "magnitude"}),
        _reference,
    ),
    Layout(
        "paper",
        "the paper's layout (year,month,date,hour,minute,seconds,lat,long,depth,class)",
        frozenset({"year", "month", "date", "hour", "minute", "seconds", "lat", "long", "class"}),
        _paper,
    ),
]


def _generic_matches(columns: set[str]) -> bool:
    return (
        "time" in columns
        and bool({"latitude", "lat"} & columns)
        and bool({"longitude", "lon", "long", "lng"} & columns)
        and bool({"magnitude", "mag"} & columns)
    )


GENERIC = Layout(
    "generic",
    "any CSV with time, latitude/lat, longitude/lon, magnitude/mag (depth optional)",
    frozenset({"time"}),
    _generic,
)


def detect_layout(columns: list[str]) -> Layout | None:
    """The first layout whose identifying columns are all present (names lower-cased)."""
    cols = set(columns)
    for layout in LAYOUTS:
        if layout.matches(cols):
            return layout
    return GENERIC if _generic_matches(cols) else None


def expected_layouts() -> str:
    """One line per accepted layout, for error messages."""
    return "; ".join(layout.description for layout in [*LAYOUTS, GENERIC])
