"""Hostile catalogs: huge headers, impossible times, the date line, a world-wide region.

Each test writes a small synthetic CSV (bytes or a file in ``tmp_path``); no test needs
the reference catalog or the network.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quake.data.catalog import DROP_REASONS, read_catalog_bytes
from quake.data.catalog.layouts import _iso_fields
from quake.data.catalog.load import MAX_COLUMNS
from quake.data.events import GriddedEvents
from quake.data.grid import JAPAN_GRID, Grid, compact_lon_range, wrap_lon
from quake.data.protocol import grid_for_catalog, protocol_for_catalog
from quake.errors import CatalogError
from quake.settings import MAX_GRID_CELLS
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]
REF_HEADER = "id,time,longitude,latitude,magnitude,x,y\n"
PAPER_HEADER = "year,month,date,hour,minute,seconds,lat,long,depth,class\n"


def utc(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


# --- the header ---------------------------------------------------------------------------


def test_a_million_column_header_is_refused_in_under_a_second() -> None:
    names = ",".join(f"c{i}" for i in range(1_000_000))
    raw = f"time,latitude,longitude,mag,{names}\n2001-01-01T00:00:00Z,35,140,5\n".encode()
    assert len(raw) > 6_000_000
    start = time.perf_counter()
    with pytest.raises(CatalogError) as err:
        read_catalog_bytes(raw, "wide.csv")
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"took {elapsed:.2f} s"
    msg = str(err.value)
    assert msg.startswith("wide.csv: the header row has 1,000,004 columns")
    assert f"at most {MAX_COLUMNS:,}" in msg
    assert len(msg) < 1000  # the message does not echo the header


def test_a_wide_header_just_under_the_limit_is_checked_in_one_pass() -> None:
    # 999 columns, the layout's "mag" twice: still found ambiguous, and quickly.
    extra = ",".join(f"c{i}" for i in range(MAX_COLUMNS - 6))
    raw = f"time,latitude,longitude,mag,MAG,{extra}\n".encode()
    raw += b"2001-01-01T00:00:00Z,35,140,5,5" + b"," * (MAX_COLUMNS - 6) + b"\n"
    start = time.perf_counter()
    with pytest.raises(CatalogError, match="column mag appears more than once"):
        read_catalog_bytes(raw)
    assert time.perf_counter() - start < 1.0


def test_a_row_with_a_million_trailing_separators_is_read_in_linear_time() -> None:
    raw = b"time,lat,lon,mag\n2001-01-01T00:00:00Z,36,140,5" + b", " * 1_000_000 + b"\n"
    raw += b"2001-01-02T00:00:00Z,36,140,5,x" + b"," * 500_000 + b"\n"  # not empty: malformed
    start = time.perf_counter()
    cat = read_catalog_bytes(raw)
    assert time.perf_counter() - start < 1.0
    assert cat.report.n_events == 1 and cat.report.dropped == {"malformed row": 1}


def _peak_mib(fn) -> tuple[object, float]:
    """``fn()``'s result and the peak of memory traced while it ran (numpy included)."""
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


EVENT = b"2011-03-11T05:46:24Z,38.3,142.4,9.1\n"


@pytest.mark.parametrize(
    ("line", "malformed"),
    [(b"\n", 0), (b"  \t\n", 0), (b"1\n", 1), (b'"\n', 1), (b'"",1\n', 1)],
    ids=["blank", "blanks", "one-field", "lone-quote", "quoted-short"],
)
def test_millions_of_junk_lines_cost_memory_bounded_by_the_file(line, malformed) -> None:
    # A 16 MB upload of junk lines took ~1.8 GB and a Python object per line (stop 24's
    # audit: 6.7 GB for 30 MB of blank lines, ~20 GB projected at the 200 MB upload cap).
    n = (16 << 20) // len(line)
    raw = b"time,latitude,longitude,mag\n" + EVENT + line * n + EVENT.replace(b"9.1", b"7.0")
    cat, peak = _peak_mib(lambda: read_catalog_bytes(raw))
    assert cat.report.n_events == 2
    assert cat.report.dropped == ({"malformed row": n} if malformed else {})
    assert cat.report.n_rows == 2 + n * malformed
    assert peak < 12 * len(raw) / 2**20, f"peak {peak:.0f} MiB for {len(raw) / 2**20:.0f} MiB"


def test_a_line_of_megabytes_is_one_malformed_row() -> None:
    raw = b"time,latitude,longitude,mag\n" + EVENT + b"9," * (3 << 20) + b"\n" + EVENT
    raw = raw.replace(EVENT, EVENT.replace(b"9.1", b"6.5"), 1)
    cat = read_catalog_bytes(raw)
    assert cat.report.n_events == 2 and cat.report.dropped == {"malformed row": 1}


def test_the_row_cap_counts_parsed_rows_and_says_what_to_do() -> None:
    rows = b"".join(f"2011-03-{d:02d}T00:00:00Z,38,142,5\n".encode() for d in range(1, 21))
    raw = b"time,latitude,longitude,mag\n" + rows + b"junk\n" * 50
    cat = read_catalog_bytes(raw, "cap.csv", max_rows=20)  # malformed rows are not parsed
    assert cat.report.n_events == 20 and cat.report.dropped == {"malformed row": 50}
    with pytest.raises(CatalogError) as err:
        read_catalog_bytes(raw, "cap.csv", max_rows=19)
    assert str(err.value).startswith("cap.csv: 20 rows; catalogs of at most 19 rows")
    assert "cut it to the region" in str(err.value)


def test_the_command_line_reads_more_rows_than_the_dashboard(tmp_path, monkeypatch) -> None:
    from quake.data.catalog import load

    monkeypatch.setattr(load, "MAX_CATALOG_ROWS", 5)
    rows = "".join(f"2011-03-{d:02d}T00:00:00Z,38,142,5\n" for d in range(1, 11))
    path = tmp_path / "ten.csv"
    path.write_text("time,latitude,longitude,mag\n" + rows)
    assert load.load_catalog(path).report.n_events == 10
    with pytest.raises(CatalogError, match="at most 5 rows"):
        load.read_catalog_bytes(path.read_bytes(), max_rows=load.MAX_CATALOG_ROWS)


QUOTING = ['a"b', ' "y"', '"a""b"', '"""', '"x" ', '"a",', '"', " ", "", '"a,b"', '""']
FIELDS = ["2011-03-11", "38.1", "142.4", "5.0 ", "\t", "é", "x", "# c", *QUOTING]


def test_the_numpy_scan_agrees_with_parsing_each_line_alone() -> None:
    # `_scan` settles lines with numpy; `_classify` parses one line with the csv module.
    # On random lines of fields, quotes, blanks and trailing separators, both must keep
    # the same lines, cut the same way, and count the same rows and malformed rows.
    from quake.data.catalog.load import _classify, _scan

    rng = random.Random(24)
    for _ in range(3000):
        sep, n_fields = rng.choice([",", ";", "\t"]), rng.choice([3, 4, 5])
        lines = []
        for _ in range(rng.randint(0, 10)):
            k = rng.choice([0, 1, n_fields - 1, n_fields, n_fields + 1, n_fields + 3])
            fields = [rng.choice(FIELDS) for _ in range(k)]
            if k > n_fields and rng.random() < 0.4:
                fields[n_fields:] = [rng.choice(["", " "]) for _ in range(k - n_fields)]
            lines.append(sep.join(fields))
        body = "\n".join(lines) + rng.choice(["", "\n"])
        expect_rows = expect_bad = 0
        kept = []
        for line in lines:
            out, bad = _classify(line, n_fields, sep)
            expect_rows += bool(line.strip()) and not line.startswith("#")  # comments
            expect_bad += bad
            if out is not None:
                kept.append(out)
        got, rows, bad = _scan(body.encode(), n_fields, sep, "x")
        assert (rows, bad) == (expect_rows, expect_bad), repr(body)
        assert got.decode().rstrip("\n").split("\n") == (kept or [""]), repr(body)


def test_too_many_irregularly_quoted_rows_are_refused(monkeypatch) -> None:
    from quake.data.catalog import load

    monkeypatch.setattr(load, "_MAX_SLOW_LINES", 100)
    irregular = b'2011-03-11T00:00:00Z,38,142,5 "x"\n'  # a quote inside a bare field
    raw = b"time,latitude,longitude,mag\n" + EVENT + irregular * 99
    cat = read_catalog_bytes(raw)
    assert cat.report.dropped == {"unparseable magnitude": 99}  # parsed, then counted
    with pytest.raises(CatalogError, match="more than 100 rows with irregular quoting"):
        read_catalog_bytes(raw + irregular * 2, "q.csv")


def test_a_megabyte_column_name_is_not_echoed_back() -> None:
    raw = ("x" * 1_000_000 + ",foo\n1,2\n").encode()
    with pytest.raises(CatalogError, match="columns not recognised") as err:
        read_catalog_bytes(raw)
    assert len(str(err.value)) < 2000


# --- impossible times, every layout ----------------------------------------------------------

# (time text, reason or None for a valid row, the UTC time kept for a valid row)
ISO_CASES = [
    ("2001-01-01T00:00:00", None, "2001-01-01 00:00:00"),
    ("2024-02-29T12:00:00", None, "2024-02-29 12:00:00"),  # a leap day
    ("2016-12-31T23:59:60", None, "2017-01-01 00:00:00"),  # a leap second
    ("1800-01-01T00:00:00", None, "1800-01-01 00:00:00"),  # the earliest accepted
    ("2001-13-01T00:00:00", "unparseable time", None),
    ("2001-01-32T00:00:00", "unparseable time", None),
    ("2001-02-30T00:00:00", "unparseable time", None),
    ("2023-02-29T00:00:00", "unparseable time", None),  # not a leap year
    ("2001-01-01T25:00:00", "unparseable time", None),
    ("2001-01-01T23:61:00", "unparseable time", None),
    ("2001-01-01T23:59:61", "unparseable time", None),
    ("NaT", "unparseable time", None),
    ("", "unparseable time", None),
    ("1799-12-31T23:59:59", "time out of range", None),
    ("1500-06-01T00:00:00", "time out of range", None),
    ("-5000-01-01T00:00:00", "time out of range", None),
    ("99999-01-01T00:00:00", "time out of range", None),
    ("2262-05-01T00:00:00", "time out of range", None),  # beyond pandas' nanoseconds
    ("2001-01-01t05:00:00z", None, "2001-01-01 05:00:00"),  # RFC 3339: lower case
    ("2001-01-01T24:00:00", None, "2001-01-02 00:00:00"),  # ISO 8601: the day's end
    ("2001-01-01T24:00:01", "unparseable time", None),
    ("2001-01-01T05:00:00-05:30", None, "2001-01-01 10:30:00"),
    ("2001-01-01T05:00:00+99:99", "unparseable time", None),  # once 4 days earlier
    ("2001-01-01T05:00:00+15:00", "unparseable time", None),  # no such offset
    ("2001-01-01T05:00:00+09:60", "unparseable time", None),
]


def _future() -> str:
    return (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S")


def _expected(cases) -> tuple[dict[str, int], list[pd.Timestamp]]:
    dropped: dict[str, int] = {}
    for _, reason, _ in cases:
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
    kept = sorted(utc(t) for _, reason, t in cases if reason is None)
    return dropped, kept


def _iso_cases() -> list[tuple[str, str | None, str | None]]:
    return [*ISO_CASES, (_future(), "time out of range", None)]


def test_reason_names_are_listed() -> None:
    assert {"unparseable time", "time out of range"} <= set(DROP_REASONS)


def test_both_regex_engines_take_iso_times_apart_alike() -> None:
    values = [t for t, _, _ in _iso_cases()]
    values += ["2011-03-11T14:46:24+0900", "2011-03-11 14:46:24 -05", "٢٠٠١-01-01", None]
    text = pd.Series(values, dtype="str")
    fast_nums, fast_west = _iso_fields(text, arrow=True)
    slow_nums, slow_west = _iso_fields(text, arrow=False)
    np.testing.assert_array_equal(fast_nums, slow_nums)
    np.testing.assert_array_equal(fast_west, slow_west)
    assert np.isnan(fast_nums[0, -2:]).all()  # other digits and missing values: no match
    assert fast_nums[:, values.index("99999-01-01T00:00:00")][:3].tolist() == [99999, 1, 1]
    assert fast_west.tolist().count(True) == 2  # "-05:30" and "-05"


def test_reference_layout_impossible_times_are_counted_by_reason() -> None:
    cases = _iso_cases()
    rows = [f"{i},{t},140.0,36.0,5.0,0,0" for i, (t, _, _) in enumerate(cases)]
    cat = read_catalog_bytes((REF_HEADER + "\n".join(rows) + "\n").encode())
    dropped, kept = _expected(cases)
    assert cat.report.layout == "reference"
    assert cat.report.dropped == dropped
    assert cat.events["time"].tolist() == kept
    assert cat.report.n_events + cat.report.n_dropped == cat.report.n_rows == len(cases)


def test_usgs_layout_with_zulu_and_offsets() -> None:
    header = "time,latitude,longitude,depth,mag,magType,id\n"
    cases = [
        ("2011-03-11T05:46:24.120Z", None, "2011-03-11 05:46:24.120"),
        ("2011-03-11T14:46:24+09:00", None, "2011-03-11 05:46:24"),
        ("2016-12-31T23:59:60.500Z", None, "2017-01-01 00:00:00.500"),
        ("2011-03-11T24:46:24Z", "unparseable time", None),
        ("2011-02-29T05:46:24Z", "unparseable time", None),
        ("-5000-03-11T05:46:24Z", "time out of range", None),
        ("1700-03-11T05:46:24Z", "time out of range", None),
        ("yesterday", "unparseable time", None),
    ]
    rows = [f"{t},38.1,142.8,24,5.0,mww,us{i}" for i, (t, _, _) in enumerate(cases)]
    cat = read_catalog_bytes((header + "\n".join(rows) + "\n").encode())
    dropped, kept = _expected(cases)
    assert cat.report.layout == "usgs"
    assert cat.report.dropped == dropped
    assert cat.events["time"].tolist() == kept


def test_generic_layout_impossible_times_are_counted_by_reason() -> None:
    cases = _iso_cases()
    rows = [f"{t};36.0;140.0;5.0" for t, _, _ in cases]
    cat = read_catalog_bytes(("time;lat;lon;mag\n" + "\n".join(rows) + "\n").encode())
    dropped, kept = _expected(cases)
    assert cat.report.layout == "generic"
    assert cat.report.dropped == dropped
    assert cat.events["time"].tolist() == kept


PAPER_CASES = [
    ("1995,1,16,20,46,52.25", None, "1995-01-16 20:46:52.250"),
    ("2016,12,31,23,59,60.5", None, "2017-01-01 00:00:00.500"),  # a leap second
    ("2000,2,29,0,0,0", None, "2000-02-29 00:00:00"),
    ("1995,1,16,25,46,52", "unparseable time", None),
    ("1995,1,16,20,61,52", "unparseable time", None),
    ("1995,1,16,20,46,61", "unparseable time", None),
    ("1995,1,16,20,46,-1", "unparseable time", None),
    ("1995,13,16,20,46,52", "unparseable time", None),
    ("1995,0,16,20,46,52", "unparseable time", None),
    ("1995,1,32,20,46,52", "unparseable time", None),
    ("1900,2,29,20,46,52", "unparseable time", None),  # 1900 is not a leap year
    ("1995,1.5,16,20,46,52", "unparseable time", None),
    ("1995,1,16,NaT,46,52", "unparseable time", None),
    ("-5000,1,16,20,46,52", "time out of range", None),
    ("99999,1,16,20,46,52", "time out of range", None),
    ("1e300,1,16,20,46,52", "time out of range", None),
    ("1799,12,31,23,59,59", "time out of range", None),
]


def test_paper_layout_impossible_dates_and_times_are_counted_by_reason() -> None:
    future = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=3)
    ahead = f"{future.year},{future.month},{future.day},{future.hour},{future.minute},0"
    cases = [*PAPER_CASES, (ahead, "time out of range", None)]
    rows = [f"{t},34.59,135.07,16.1,5.0" for t, _, _ in cases]
    cat = read_catalog_bytes((PAPER_HEADER + "\n".join(rows) + "\n").encode())
    dropped, kept = _expected(cases)
    assert cat.report.layout == "paper"
    assert cat.report.dropped == dropped
    assert cat.events["time"].tolist() == kept


def test_far_years_never_crash_what_comes_after_loading() -> None:
    """Year -5000 and 99999 once overflowed nanosecond timestamps on every page."""
    t0 = date(2001, 1, 1)
    rows = [f"{t0 + timedelta(days=3 * i)},36.0,140.0,5.0" for i in range(200)]
    rows += ["-5000-01-01,36.0,140.0,5.0", "99999-12-31,36.0,140.0,5.0"]
    paper = PAPER_HEADER + "-5000,1,1,0,0,0,36,140,10,5\n99999,1,1,0,0,0,36,140,10,5\n"
    paper += "".join(f"{d.year},{d.month},{d.day},0,0,0,36,140,10,5\n" for d in (t0, t0))
    for raw in (("time,lat,lon,mag\n" + "\n".join(rows) + "\n").encode(), paper.encode()):
        cat = read_catalog_bytes(raw)
        assert cat.report.dropped.get("time out of range") == 2
        assert len(cat.fingerprint) == 16
        assert cat.events["time"].min() >= utc("1800-01-01")
    # The generic catalog is long enough for a protocol: its maps build without overflow.
    cat = read_catalog_bytes(("time,lat,lon,mag\n" + "\n".join(rows) + "\n").encode())
    protocol = protocol_for_catalog(cat.events)
    ev = GriddedEvents.from_catalog(cat.events, protocol.grid, protocol.epoch)
    assert ev.n_events == 200 and ev.n_outside == 0


# --- the date line ------------------------------------------------------------------------


def tonga(n: int = 2000, east_branch: bool = False, seed: int = 7) -> pd.DataFrame:
    """Events around Tonga (15-25 S, 177 E .. 177 W), across the date line."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(177.0, 183.0, n)
    if not east_branch:
        lon = np.where(lon >= 180.0, lon - 360.0, lon)
    days = np.sort(rng.integers(0, 3000, n))
    return pd.DataFrame(
        {
            "time": pd.Timestamp("2000-01-01", tz="UTC") + pd.to_timedelta(days, unit="D"),
            "latitude": rng.uniform(-25.0, -15.0, n),
            "longitude": lon,
            "magnitude": np.round(rng.uniform(4.0, 6.5, n), 1),
        }
    )


def _csv(df: pd.DataFrame) -> bytes:
    out = df.assign(time=df["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return out[["time", "latitude", "longitude", "magnitude"]].to_csv(index=False).encode()


def test_longitudes_wrap_about_the_origin() -> None:
    assert wrap_lon(np.array([-181.0, 179.0, 180.0, 359.0, -540.0])).tolist() == [
        179.0,
        179.0,
        -180.0,
        -1.0,
        -180.0,
    ]
    inside = np.array([-179.999, -12.345678901234, 0.1, 23.456789012345, 179.999])
    assert np.array_equal(wrap_lon(inside), inside)  # untouched to the bit
    assert compact_lon_range(np.array([179.5, -179.5, 178.0])) == (178.0, 180.5)
    assert compact_lon_range(np.array([-10.0, 10.0])) == (-10.0, 10.0)
    assert compact_lon_range(np.array([-100.0, 100.0, 0.0])) == (-100.0, 100.0)
    assert compact_lon_range(np.array([170.0, -170.0, 0.0])) == (0.0, 190.0)  # 190 < 340


def test_a_catalog_across_the_date_line_gets_a_compact_grid() -> None:
    cat = read_catalog_bytes(_csv(tonga()))
    events = cat.events
    assert events["longitude"].min() < -177 and events["longitude"].max() > 177
    grid = grid_for_catalog(events)
    # 6 degrees of longitude at 15 S = 645 km, 10 of latitude = 1,112 km: not 3,868 x 112.
    assert 60 <= grid.nx <= 70 and 111 <= grid.ny <= 113
    protocol = protocol_for_catalog(events)
    assert protocol.grid == grid
    ev = GriddedEvents.from_catalog(events, grid, protocol.epoch)
    assert ev.n_outside == 0 and ev.n_events == len(events)
    cells = grid.cell_index(events["latitude"].to_numpy(), events["longitude"].to_numpy())
    assert (cells >= 0).all()
    # Both sides of the date line are used: columns near the west and the east edge.
    ix = cells % grid.nx
    assert ix.min() < 5 and ix.max() > grid.nx - 6


def test_either_way_of_writing_longitudes_gives_the_same_cells() -> None:
    west = tonga(east_branch=False)
    east = tonga(east_branch=True)  # 180.5 instead of -179.5
    assert (east["longitude"] > 180).any()
    grid = grid_for_catalog(west)
    assert grid_for_catalog(east).shape == grid.shape
    a = grid.cell_index(west["latitude"].to_numpy(), west["longitude"].to_numpy())
    b = grid.cell_index(east["latitude"].to_numpy(), east["longitude"].to_numpy())
    assert np.array_equal(a, b) and (a >= 0).all()
    # Neighbours across the line are neighbours on the grid: 0.2 degrees apart in x.
    x, _ = grid.project(np.array([-20.0, -20.0]), np.array([179.9, -179.9]))
    assert x[1] - x[0] == pytest.approx(0.2 * np.pi / 180 * 6373 * np.cos(np.radians(20)))


def test_every_event_falls_inside_the_grid_cut_from_its_own_bounds() -> None:
    # Stop 24's audit: a Californian catalog lost its westernmost event (x = -1.3e-12 km):
    # the west edge was computed as (lon mod 360) - 360, a rounding error off the event.
    rng = np.random.default_rng(24)
    checked = 0
    for _ in range(300):
        centre = rng.uniform(-180, 180)
        n = int(rng.integers(2, 60))
        lon = centre + rng.uniform(-8, 8, n) * rng.random()
        lon = np.round(np.where(lon >= 180, lon - 360, np.where(lon < -180, lon + 360, lon)), 4)
        lat = np.round(rng.uniform(-60, 60) + rng.uniform(-5, 5, n), 4)
        events = pd.DataFrame({"latitude": lat, "longitude": lon})
        grid = grid_for_catalog(events)
        if grid == JAPAN_GRID:
            continue  # a catalog in Japan gets the protocol's fixed grid
        checked += 1
        assert (grid.cell_index(lat, lon) >= 0).all(), (lon.min(), lon.max(), grid)
    assert checked > 250


def test_the_japan_grid_is_untouched_by_wrapping() -> None:
    rng = np.random.default_rng(11)
    lat = rng.uniform(20.0, 55.0, 20_000)
    lon = rng.uniform(-180.0, 180.0, 20_000)
    # PROTOCOL.md's projection written out, without any wrapping.
    x = (lon - 127.0) * np.pi / 180 * 6373.0 * np.cos(lat * np.pi / 180)
    y = (lat - 27.0) * np.pi / 180 * 6373.0
    ix, iy = np.floor(x / 10.0), np.floor(y / 10.0)
    inside = (ix >= 0) & (ix < 200) & (iy >= 0) & (iy < 250)
    want = np.where(inside, iy * 200 + ix, -1).astype(np.int64)
    assert np.array_equal(JAPAN_GRID.cell_index(lat, lon), want)


def test_a_box_wider_than_half_the_globe_still_covers_its_events() -> None:
    # An equatorial band from 100 E to 60 W (200 degrees) on a grid within the budget.
    rng = np.random.default_rng(3)
    lat = rng.uniform(-1.0, 1.0, 5000)
    lon = wrap_lon(rng.uniform(100.0, 300.0, 5000))
    west, east = compact_lon_range(lon)
    grid = Grid.for_bounds(float(lat.min()), float(lat.max()), west, east, 10.0)
    assert grid.n_cells < MAX_GRID_CELLS
    assert (grid.cell_index(lat, lon) >= 0).all()
    assert grid.nx < 2300  # 200 degrees at the equator: about 2,225 km x 10


# --- the cell budget -----------------------------------------------------------------------


def world(n: int = 3000, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = np.sort(rng.integers(0, 3000, n))
    return pd.DataFrame(
        {
            "time": pd.Timestamp("2000-01-01", tz="UTC") + pd.to_timedelta(days, unit="D"),
            "latitude": rng.uniform(-60.0, 70.0, n),
            "longitude": rng.uniform(-180.0, 180.0, n),
            "magnitude": np.round(rng.uniform(5.0, 7.0, n), 1),
        }
    )


BUDGET = re.compile(
    r"this catalog spans ([\d,]+) km × ([\d,]+) km: ([\d,]+) cells of 10 km exceed the limit "
    r"of 2,000,000; cut the catalog to a smaller region or use cells of at least (\d+) km"
)


def test_a_world_catalog_is_refused_with_the_budget_message() -> None:
    events = read_catalog_bytes(_csv(world())).events
    with pytest.raises(CatalogError) as err:
        grid_for_catalog(events)
    m = BUDGET.search(str(err.value))
    assert m, str(err.value)
    width, height, cells, km = (int(g.replace(",", "")) for g in m.groups())
    assert width > 35_000 and height > 14_000 and cells > MAX_GRID_CELLS
    # The advice is exact: the cell size it names fits, one km less does not.
    assert grid_for_catalog(events, cell_km=km).n_cells <= MAX_GRID_CELLS
    with pytest.raises(CatalogError):
        grid_for_catalog(events, cell_km=km - 1)
    with pytest.raises(CatalogError, match="exceed the limit"):
        protocol_for_catalog(events)


def test_tiny_cells_on_the_japan_grid_are_refused_too() -> None:
    rng = np.random.default_rng(1)
    events = pd.DataFrame(
        {"latitude": rng.uniform(34, 38, 50), "longitude": rng.uniform(138, 142, 50)}
    )
    with pytest.raises(CatalogError, match="cells of 1 km exceed the limit"):
        grid_for_catalog(events, cell_km=1.0)
    with pytest.raises(CatalogError, match="positive number of km"):
        grid_for_catalog(events, cell_km=0.0)


# --- the CLI ------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return run_cli("catalog", *args)


def test_cli_json_reports_the_grid(tmp_path: Path) -> None:
    path = tmp_path / "tonga.csv"
    path.write_bytes(_csv(tonga()))
    proc = _cli(str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    s = json.loads(proc.stdout)
    grid = grid_for_catalog(read_catalog_bytes(path.read_bytes()).events)
    assert s["grid"]["nx"] == grid.nx and s["grid"]["ny"] == grid.ny
    assert s["grid"]["cell_km"] == 10.0 and s["grid"]["n_cells"] == grid.n_cells
    assert type(s["grid"]["nx"]) is int and type(s["grid"]["cell_km"]) is float
    assert s["n_in_grid"] == s["n_events"] == 2000


def test_cli_refused_grid_reports_why_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "world.csv"
    path.write_bytes(_csv(world()))
    proc = _cli(str(path), "--json")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    s = json.loads(proc.stdout)  # the catalog itself loaded: its report is still printed
    assert s["n_events"] == 3000 and s["grid"] is None and s["n_in_grid"] is None
    assert BUDGET.search(s["grid_error"])
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: this catalog spans")
    text = _cli(str(path))
    assert text.returncode == 2 and "in grid     no grid: this catalog spans" in text.stdout
    assert text.stderr.startswith("error: ") and "Traceback" not in text.stderr


def test_the_command_line_never_reads_a_device_pipe_or_runaway_file(tmp_path) -> None:
    """``load_catalog`` (the CLI's reader): /dev/zero and a FIFO are refused without a byte
    read (before: /dev/zero was read until the process was killed), a file over the cap too."""
    import os

    from quake.data.catalog import load_catalog

    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    for path in (Path("/dev/zero"), pipe):
        with pytest.raises(CatalogError, match="is not a regular file"):
            load_catalog(path)
    big = tmp_path / "big.csv"
    rows = "".join(f"2000-01-01T{i // 60:02d}:{i % 60:02d}:00,35,139,5\n" for i in range(100))
    big.write_text("time,latitude,longitude,mag\n" + rows)
    with pytest.raises(CatalogError, match="larger than"):
        load_catalog(big, max_bytes=1000)
    assert len(load_catalog(big).events) == 100
    t0 = time.perf_counter()
    proc = run_cli("catalog", "/dev/zero")
    assert proc.returncode == 2 and proc.stderr.startswith("error: /dev/zero: is not a regular")
    assert "Traceback" not in proc.stderr and time.perf_counter() - t0 < 60


def test_catalog_path_messages_escape_control_characters_and_name_link_loops(tmp_path) -> None:
    from quake.data.catalog.load import load_catalog

    with pytest.raises(CatalogError) as err:
        load_catalog(tmp_path / "\x1b[31mRED\x1b[0m.csv")
    assert "\x1b" not in str(err.value) and "\\x1b[31mRED" in str(err.value)
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(CatalogError, match="a link to nothing \\(or a loop of links\\)"):
        load_catalog(tmp_path / "a")


def test_a_quake_catalog_that_is_no_file_is_said_not_replaced(tmp_path, monkeypatch) -> None:
    # A typo in QUAKE_CATALOG silently scored the models on ../shared/data's catalog.
    from quake.data.forecast_data import load_reference

    for value in (str(tmp_path), str(tmp_path / "nonexistent.csv")):
        monkeypatch.setenv("QUAKE_CATALOG", value)
        with pytest.raises(CatalogError, match="QUAKE_CATALOG=.* is not a file"):
            load_reference()


def test_the_events_map_draws_both_sides_of_the_date_line_in_the_grids_frame() -> None:
    """Stop 27's audit: the Catalog page's event circles kept raw longitudes (-180..180)
    while the view and the grid outline run 177..183: the half west of the line was lost."""
    import json

    from quake.viz.maps import events_deck

    events = read_catalog_bytes(_csv(tonga())).events
    grid = grid_for_catalog(events)
    deck = json.loads(events_deck(events, grid).to_json())
    layer = next(x for x in deck["layers"] if x["id"] == "catalog-events-scatter")
    lons = np.array([d["lon"] for d in layer["data"]])
    assert lons.min() >= 177.0 and lons.max() <= 183.0, (lons.min(), lons.max())
    assert lons.max() > 180.0 and lons.min() < 180.0  # both sides, in one frame
    assert abs(deck["initialViewState"]["longitude"] - 180.0) < 1.0
    # deck.gl draws longitudes past 180 only with copies of the world (seen in Chromium:
    # without them the map of this grid was blank)
    assert deck["views"][0].get("repeat") is True
