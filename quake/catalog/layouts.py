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
    optional: frozenset[str] = frozenset({"depth"})

    @property
    def columns(self) -> frozenset[str]:
        """Every column `convert` may read: only these are parsed."""
        return self.required | self.optional

    def matches(self, columns: set[str]) -> bool:
        return self.required <= columns


def _text(s: pd.Series) -> pd.Series:
    """A column as stripped text (the parser infers types; a column of blanks is float NaN)."""
    if not (pd.api.types.is_string_dtype(s.dtype) or s.dtype == object):
        s = s.astype(str).where(s.notna())
    return s.str.strip()


def _num(s: pd.Series) -> pd.Series:
    """A column as float64; anything that is not a number becomes NaN."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.astype(np.float64)  # already parsed by the CSV reader: the fast path
    return pd.to_numeric(_text(s), errors="coerce").astype(np.float64)


def _iso_time(s: pd.Series) -> pd.Series:
    # ISO 8601 with 'T' or ' ', optional 'Z'/offset; naive times are taken as UTC.
    return pd.to_datetime(_text(s), utc=True, format="ISO8601", errors="coerce")


TIME_DTYPE = "datetime64[us, UTC]"


def _canonical(time, lat, lon, depth, mag) -> pd.DataFrame:
    df = pd.DataFrame(
        {"time": time, "latitude": lat, "longitude": lon, "depth_km": depth, "magnitude": mag}
    )
    # One dtype whatever the layout: the parser may infer int64 for whole-number columns
    # and to_datetime picks its unit from the strings.
    return df.astype({"time": TIME_DTYPE, **{c: np.float64 for c in CANONICAL[1:]}})


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
    ok = np.isfinite(parts.to_numpy()).all(axis=1)
    time = pd.Series(pd.NaT, index=df.index, dtype=TIME_DTYPE)
    if ok.any():
        t = pd.to_datetime(parts[ok].astype("int64"), errors="coerce", utc=True)
        time[ok] = t.dt.as_unit("us")
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
    frozenset({"latitude", "lat", "longitude", "lon", "long", "lng", "magnitude", "mag"})
    | frozenset({"depth_km", "depth"}),
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
