"""Catalog CSV layouts: detection from the header and conversion to the canonical table.

Canonical table columns: ``time`` (UTC datetime), ``latitude``, ``longitude``
(degrees), ``depth_km`` (may be NaN), ``magnitude``. A converted table also carries
``time_fault``: why a row's time is unusable (`TIME_FAULTS`), so that impossible dates
and times (month 13, Feb 30, hour 25, second 61, year -5000) are counted, by reason,
in every layout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

CANONICAL = ["time", "latitude", "longitude", "depth_km", "magnitude"]


NOT_EARTHQUAKE_COLUMN = "not_earthquake"
"""Set by a layout with an event type (ComCat's ``type``): the row is a blast, an explosion
or another non-tectonic event, dropped as `load.NOT_EARTHQUAKE`."""


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


TIME_DTYPE = "datetime64[us, UTC]"

# Why a row's time is unusable (``time_fault`` column of the converted table; 0 = fine).
UNPARSEABLE_TIME = "unparseable time"
TIME_OUT_OF_RANGE = "time out of range"
TIME_FAULTS = {1: UNPARSEABLE_TIME, 2: TIME_OUT_OF_RANGE}
_UNPARSEABLE, _OUT_OF_RANGE = 1, 2

TIME_MIN = pd.Timestamp("1800-01-01", tz="UTC")
"""Earliest event time accepted: older entries are typos (and year -5000 would overflow
pandas' nanosecond timestamps further down the line)."""
FUTURE_SLACK = pd.Timedelta(days=1)
"""Latest event time accepted: now plus this (catalogs are UTC; a clock may run ahead)."""

_US_PER_S = 1_000_000
# An ISO 8601 date-time taken apart, for the values pandas refuses: its parts tell an
# impossible value (month 13, Feb 30, hour 25, second 61) from a year out of range, and
# a leap second (23:59:60, kept as the next minute's start) from both.
_ISO_PARTS = (
    r"^(?P<year>[+-]?[0-9]{1,12})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})"
    r"(?:[T ](?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{1,2})"
    r"(?::(?P<second>[0-9]{1,2}(?:[.][0-9]{1,12})?))?)?"
    r"(?:[ ]*(?:Z|(?P<sign>[+-])(?P<zh>[0-9]{2})(?::?(?P<zm>[0-9]{2}))?))?$"
)
_ISO_NUMBERS = ("year", "month", "day", "hour", "minute", "second", "zh", "zm")


def time_max() -> pd.Timestamp:
    """Latest event time accepted now: the current UTC time plus `FUTURE_SLACK`."""
    return pd.Timestamp.now(tz="UTC") + FUTURE_SLACK


def _from_parts(
    year: np.ndarray,
    month: np.ndarray,
    day: np.ndarray,
    hour: np.ndarray,
    minute: np.ndarray,
    second: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """UTC times from float64 parts: ``(datetime64[us] (n,), fault int8 (n,))``.

    A row whose parts are not whole numbers (seconds may be fractional) or not a real
    calendar date and clock time is `_UNPARSEABLE`; a year outside `TIME_MIN` ..
    `time_max()` is `_OUT_OF_RANGE` (checked first: its other parts are not looked at).
    Second 60 is a leap second (counted as the next minute's start); 61 and up are not.
    Faulty rows get NaT. Pure integer arithmetic: no timestamp bounds to overflow.
    """
    n = len(year)
    fault = np.zeros(n, dtype=np.int8)
    parts = np.stack([year, month, day, hour, minute, second]).astype(np.float64)
    finite = np.isfinite(parts).all(axis=0)
    whole = finite & (parts[:5] == np.floor(np.where(finite, parts[:5], 0))).all(axis=0)
    fault[~whole] = _UNPARSEABLE
    y = np.where(whole, year, 2000)
    years_ok = (y >= TIME_MIN.year) & (y <= time_max().year)
    fault[whole & ~years_ok] = _OUT_OF_RANGE
    ok = whole & years_ok
    # 24:00:00 is ISO 8601's end of the day: the next day's start.
    midnight = (hour == 24) & (minute == 0) & (second == 0)
    ok &= (month >= 1) & (month <= 12) & (hour >= 0) & ((hour <= 23) | midnight)
    ok &= (minute >= 0) & (minute <= 59) & (second >= 0) & (second < 61)
    # Days since 1970 of the first of the month, and of the next month: the month's length.
    months = np.where(ok, (y - 1970) * 12 + month - 1, 0).astype(np.int64)
    first = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    after = (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    ok &= (day >= 1) & (day <= after - first)
    fault[whole & years_ok & ~ok] = _UNPARSEABLE
    us = np.zeros(n, dtype=np.int64)
    if ok.any():
        sec = second[ok]
        whole_s = np.floor(sec)
        clock = (hour[ok] * 3600 + minute[ok] * 60 + whole_s).astype(np.int64) * _US_PER_S
        clock += np.round((sec - whole_s) * _US_PER_S).astype(np.int64)
        dayno = first[ok] + day[ok].astype(np.int64) - 1
        us[ok] = dayno * (86400 * _US_PER_S) + clock
    out = us.view("datetime64[us]").copy()
    out[~ok] = np.datetime64("NaT")
    return out, fault


def _utc(t: np.ndarray, index: pd.Index) -> pd.Series:
    """A numpy datetime64[us] array (UTC, naive) as a tz-aware Series."""
    return pd.Series(pd.DatetimeIndex(t).tz_localize("UTC"), index=index)


def _iso_fields(text: pd.Series, arrow: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """`_ISO_PARTS` of each value: ``(numbers (8, n) float64, west of UTC (n,) bool)``.

    ``numbers`` rows follow `_ISO_NUMBERS`; NaN where a group is absent or the value does
    not match (then ``year`` is NaN). With ``arrow`` and pyarrow installed (the dashboard
    needs it) the regex runs in pyarrow's C++ engine: a hostile file may hold millions of
    bad times. Otherwise pandas' ``str.extract``, one value at a time, gives the same.
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:
        arrow = False
    if not arrow:
        got = text.str.extract(_ISO_PARTS)
        nums = [pd.to_numeric(got[c], errors="coerce").to_numpy(np.float64) for c in _ISO_NUMBERS]
        return np.stack(nums), (got["sign"] == "-").to_numpy()
    values = pa.array(text.to_numpy(dtype=object, na_value=None), type=pa.string())
    got = pc.extract_regex(values, _ISO_PARTS)  # null where no match; "" for absent groups

    def field(name: str) -> pa.Array:
        col = got.field(name)
        return pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)

    nums = [pc.cast(field(c), pa.float64()).to_numpy(zero_copy_only=False) for c in _ISO_NUMBERS]
    west = pc.fill_null(pc.equal(field("sign"), "-"), False).to_numpy(zero_copy_only=False)
    return np.stack(nums).astype(np.float64), west.astype(bool)


def _iso_time(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """ISO 8601 times (``'T'`` or ``' '``, optional ``Z``/offset; naive is UTC): ``(time, fault)``.

    pandas parses the ordinary values; the few it refuses are taken apart (`_ISO_PARTS`)
    to tell an impossible or out-of-range time from text that is no time at all.
    """
    text = _text(s)
    time = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    fault = np.zeros(len(s), dtype=np.int8)
    _bad_offsets(text, time, fault)
    nat = np.flatnonzero(time.isna().to_numpy() & (fault == 0))
    if len(nat):  # RFC 3339 allows a lower-case 't' and 'z'
        again = pd.to_datetime(
            text.iloc[nat].str.upper(), utc=True, format="ISO8601", errors="coerce"
        )
        fixed = again.notna().to_numpy()
        if fixed.any():
            time = time.astype(TIME_DTYPE)
            time.iloc[nat[fixed]] = again[fixed].astype(TIME_DTYPE).to_numpy()
            nat = nat[~fixed]
    if not len(nat):
        return time, fault
    fault[nat] = _UNPARSEABLE
    nums, west = _iso_fields(text.iloc[nat])
    shaped = ~np.isnan(nums[0])
    if not shaped.any():
        return time, fault
    year, month, day, hour, minute, second, zh, zm = np.nan_to_num(nums[:, shaped], nan=0.0)
    t, f = _from_parts(year, month, day, hour, minute, second)
    f[(f == 0) & ((zh > MAX_OFFSET_HOURS) | (zm > 59))] = _UNPARSEABLE  # +99:99
    # An offset (+09:00, -0530) moves the local time to UTC; NaT stays NaT.
    shift = np.where(west[shaped], -1, 1) * (zh * 60 + zm).astype(np.int64)
    t = t - shift.astype("timedelta64[m]")
    rows = nat[shaped]
    fault[rows] = f
    time = time.astype(TIME_DTYPE)
    good = rows[f == 0]
    if len(good):
        time.iloc[good] = pd.DatetimeIndex(t[f == 0]).tz_localize("UTC")
    return time, fault


_OFFSET = (
    r"[T ][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.][0-9]*)?)?"
    r"[ ]*(?P<sign>[+-])(?P<zh>[0-9]{2}):?(?P<zm>[0-9]{2})?$"
)
"""The UTC offset at the end of a date-time (after its clock time, never a date's ``-11``)."""
MAX_OFFSET_HOURS = 14  # UTC-12 ... UTC+14 are the offsets in use


def _bad_offsets(text: pd.Series, time: pd.Series, fault: np.ndarray) -> None:
    """Mark times whose UTC offset is impossible (``+99:99``: hours past 14 or minutes past
    59), which pandas would apply, as `_UNPARSEABLE` NaT (``time`` and ``fault`` in place)."""
    maybe = text.str.contains("[+-][0-9]{2}:?[0-9]{0,2}$", regex=True, na=False).to_numpy()
    rows = np.flatnonzero(maybe & time.notna().to_numpy())
    if not len(rows):
        return
    got = text.iloc[rows].str.extract(_OFFSET)
    zh = pd.to_numeric(got["zh"], errors="coerce").to_numpy(np.float64)
    zm = pd.to_numeric(got["zm"], errors="coerce").fillna(0).to_numpy(np.float64)
    bad = rows[(zh > MAX_OFFSET_HOURS) | (zm > 59)]
    if len(bad):
        time.iloc[bad] = pd.NaT
        fault[bad] = _UNPARSEABLE


def _canonical(time: pd.Series, fault: np.ndarray, lat, lon, depth, mag) -> pd.DataFrame:
    """The canonical table plus ``time_fault`` (int8 code of `TIME_FAULTS`, 0 = fine).

    Times outside `TIME_MIN` .. `time_max()` become NaT with a `TIME_OUT_OF_RANGE`
    fault; any other NaT without a fault is an `UNPARSEABLE_TIME`.
    """
    fault = np.asarray(fault, dtype=np.int8).copy()
    # Compared in the parsed unit: the check itself never converts an extreme timestamp.
    out = (time.notna() & ((time < TIME_MIN) | (time > time_max()))).to_numpy()
    fault[out] = _OUT_OF_RANGE
    time = time.where(~out)
    fault[time.isna().to_numpy() & (fault == 0)] = _UNPARSEABLE
    df = pd.DataFrame(
        {"time": time, "latitude": lat, "longitude": lon, "depth_km": depth, "magnitude": mag}
    )
    # One dtype whatever the layout: the parser may infer int64 for whole-number columns
    # and to_datetime picks its unit from the strings.
    df = df.astype({"time": TIME_DTYPE, **{c: np.float64 for c in CANONICAL[1:]}})
    df["time_fault"] = fault
    return df


def _usgs(df: pd.DataFrame) -> pd.DataFrame:
    depth = _num(df["depth"]) if "depth" in df else np.nan
    time, fault = _iso_time(df["time"])
    out = _canonical(
        time, fault, _num(df["latitude"]), _num(df["longitude"]), depth, _num(df["mag"])
    )
    if "type" in df:  # ComCat's event type: quarry blasts, explosions, ... are not quakes
        kind = _text(df["type"]).str.lower()
        out[NOT_EARTHQUAKE_COLUMN] = (kind.notna() & ~kind.isin(["", "earthquake"])).to_numpy()
    return out


def _reference(df: pd.DataFrame) -> pd.DataFrame:
    depth = _num(df["depth"]) if "depth" in df else np.nan
    time, fault = _iso_time(df["time"])
    lat, lon = _num(df["latitude"]), _num(df["longitude"])
    return _canonical(time, fault, lat, lon, depth, _num(df["magnitude"]))


def _paper(df: pd.DataFrame) -> pd.DataFrame:
    t, fault = _from_parts(
        *(_num(df[c]).to_numpy() for c in ("year", "month", "date", "hour", "minute", "seconds"))
    )
    depth = _num(df["depth"]) if "depth" in df else np.nan
    time = _utc(t, df.index)
    return _canonical(time, fault, _num(df["lat"]), _num(df["long"]), depth, _num(df["class"]))


def _generic(df: pd.DataFrame) -> pd.DataFrame:
    cols = set(df.columns)
    lat = "latitude" if "latitude" in cols else "lat"
    lon = next(c for c in ("longitude", "lon", "long", "lng") if c in cols)
    mag = next(c for c in ("magnitude", "mag") if c in cols)
    depth = next((c for c in ("depth_km", "depth") if c in cols), None)
    time, fault = _iso_time(df["time"])
    return _canonical(
        time,
        fault,
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
        frozenset({"depth", "type"}),
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
