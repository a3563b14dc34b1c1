"""The grid's projection, sparse heat maps, targets at the window edges, the prior, protocols.

Expected values are worked out by hand (or with ``math`` in the test) from PROTOCOL.md:
``x = (lon - 127) * pi/180 * R * cos(lat)``, ``y = (lat - 27) * pi/180 * R``, R = 6373 km,
10 km cells, ``cell = iy * nx + ix``; ``y(T, cell) = 1`` iff an event of M >= Mc falls in the
cell on a day d with ``T + 10 <= d < T + 50``.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from quake.data.catalog import Catalog, LoadReport, read_catalog_bytes
from quake.data.events import GriddedEvents
from quake.data.forecast_data import ForecastData
from quake.data.grid import JAPAN_GRID, Grid
from quake.data.protocol import JAPAN, PERIOD_NAMES, derived_protocol, protocol_for_catalog
from quake.data.synthetic import synthetic_catalog
from quake.data.targets import Targets, active_mask, naive_prior
from quake.errors import CatalogError

KM_PER_DEG = math.pi / 180 * 6373.0  # along a meridian
EPOCH = date(2000, 1, 1)


def north(lat: float, km: float) -> float:
    return lat + km / KM_PER_DEG


def east(lat: float, lon: float, km: float) -> float:
    return lon + km / (KM_PER_DEG * math.cos(math.radians(lat)))


def catalog_of(rows: list[tuple[str, float, float, float]]) -> Catalog:
    """A canonical catalog from ``(time, lat, lon, mag)`` rows."""
    df = pd.DataFrame(rows, columns=["time", "latitude", "longitude", "magnitude"])
    df["time"] = pd.to_datetime(df["time"], utc=True)
    df["depth_km"] = np.nan
    df = df[["time", "latitude", "longitude", "depth_km", "magnitude"]].sort_values("time")
    return Catalog(df.reset_index(drop=True), LoadReport("test", "test", len(df), len(df)))


def gridded(grid: Grid, day, cell, mag) -> GriddedEvents:
    return GriddedEvents.from_arrays(grid, EPOCH, np.array(day), np.array(cell), np.array(mag))


# --- projection and cells ---------------------------------------------------------------------


def test_origin_is_cell_zero() -> None:
    x, y = JAPAN_GRID.project(27.0, 127.0)
    assert (float(x), float(y)) == (0.0, 0.0)
    assert JAPAN_GRID.cell_index(np.array([27.0]), np.array([127.0])).tolist() == [0]


def test_projection_against_hand_computation() -> None:
    # (36 N, 140 E): x = 13 * pi/180 * 6373 * cos(36 deg), y = 9 * pi/180 * 6373.
    x, y = JAPAN_GRID.project(36.0, 140.0)
    assert float(x) == pytest.approx(1169.828729735, abs=1e-6)
    assert float(y) == pytest.approx(1001.068499066, abs=1e-6)
    # ix = floor(116.98) = 116, iy = floor(100.1) = 100 -> cell 100 * 200 + 116.
    assert JAPAN_GRID.cell_index(np.array([36.0]), np.array([140.0])).tolist() == [20116]
    lat, lon = JAPAN_GRID.unproject(x, y)
    assert (float(lat), float(lon)) == pytest.approx((36.0, 140.0), abs=1e-9)


def test_km_steps_land_in_the_next_row_and_column() -> None:
    g = JAPAN_GRID
    lats = np.array([north(27, 5), north(27, 15), north(27, 10.01), 27.0, 27.0])
    lons = np.array([127.0, 127.0, 127.0, east(27, 127, 15), east(27, 127, 9.99)])
    # 5 km north: row 0; 15 km north: row 1 (cell 200); 10 km east-ish: column 1 (cell 1).
    assert g.cell_index(lats, lons).tolist() == [0, 200, 200, 1, 0]


def test_cell_numbering_is_row_major_from_the_south_west() -> None:
    g = Grid(lat0=35.0, lon0=139.0, cell_km=10.0, nx=12, ny=10)
    lat_c, lon_c = g.cell_centers()
    assert lat_c.shape == lon_c.shape == (10, 12)
    cells = g.cell_index(lat_c.ravel(), lon_c.ravel())
    assert cells.tolist() == list(range(120))  # iy * nx + ix, row 0 in the south
    assert lat_c[1, 0] > lat_c[0, 0] and lon_c[0, 1] > lon_c[0, 0]
    corners = g.cell_corners(np.array([3 * 12 + 7]))  # iy = 3, ix = 7
    lon_sw, lat_sw = corners[0, 0]
    x, y = g.project(lat_sw, lon_sw)
    assert (float(x), float(y)) == pytest.approx((70.0, 30.0), abs=1e-6)


def test_points_outside_the_grid() -> None:
    g = JAPAN_GRID
    lat = np.array([26.99, 27.0, north(27, 2500.5), north(27, 2499.5), 36.0, 30.0, 45.0])
    lon = np.array([130.0, 126.99, 127.0, 127.0, east(36, 127, 2000.5), 148.0, 150.0])
    # (30 N, 148 E): x = 21 deg * 111.2 km * cos 30 = 2023 km, outside; (45 N, 150 E): x =
    # 23 * 111.2 * cos 45 = 1809 km, inside: the grid is a band in x, not in longitude.
    inside = [False, False, False, True, False, False, True]
    assert (g.cell_index(lat, lon) >= 0).tolist() == inside


def test_gridded_events_count_the_events_outside() -> None:
    grid = Grid(lat0=35.0, lon0=139.0, cell_km=10.0, nx=12, ny=10)
    cat = catalog_of(
        [
            ("1999-12-31 23:59", 35.05, 139.05, 4.0),  # inside, but before the epoch
            ("2000-01-01 00:00", 35.05, 139.05, 4.0),  # day 0, cell 0
            ("2000-01-02 12:00", 34.9, 139.05, 4.0),  # south of the grid
            ("2000-01-03 12:00", 35.05, 138.9, 4.0),  # west of the grid
            ("2000-01-04 12:00", north(35, 105), 139.05, 4.0),  # 105 km north: row 10 of 10
            ("2000-01-05 12:00", north(35, 95), east(35, 139, 115), 5.0),  # row 9, column 11
        ]
    )
    ev = GriddedEvents.from_catalog(cat.events, grid, EPOCH)
    assert ev.n_outside == 4 and ev.n_events == 2
    assert ev.day.tolist() == [0, 4] and ev.cell.tolist() == [0, 9 * 12 + 11]
    assert ev.day.dtype == np.int32 and ev.cell.dtype == np.int32 and ev.mag.dtype == np.float32


# --- heat maps --------------------------------------------------------------------------------


def test_heat_map_keeps_the_largest_magnitude_of_a_cell_day_not_the_last() -> None:
    grid = Grid(lat0=35.0, lon0=139.0, cell_km=10.0, nx=12, ny=10)
    cat = catalog_of(
        [
            ("2000-01-02 01:00", 35.01, 139.01, 4.0),
            ("2000-01-02 02:00", 35.02, 139.02, 5.5),  # the largest of day 1, cell 0
            ("2000-01-02 23:00", 35.03, 139.03, 4.2),  # the last of day 1, cell 0
            ("2000-01-03 00:30", 35.03, 139.03, 3.0),  # the next day
        ]
    )
    ev = GriddedEvents.from_catalog(cat.events, grid, EPOCH)
    assert ev.day.tolist() == [1, 2]
    assert ev.mag.tolist() == [5.5, 3.0]
    maps = ev.dense(0, 3)
    assert maps.shape == (3, 10, 12) and maps.dtype == np.float32
    assert maps[1, 0, 0] == np.float32(5.5)
    assert maps[2, 0, 0] == np.float32(3.0)
    assert np.count_nonzero(maps) == 2


def test_dense_blocks_match_hand_made_arrays() -> None:
    grid = Grid(lat0=35.0, lon0=139.0, cell_km=10.0, nx=4, ny=3)
    #          day  cell (iy, ix)  mag
    events = [(0, 0, 3.0), (0, 5, 4.0), (2, 11, 6.0), (2, 5, 4.5), (5, 4, 3.5), (2, 11, 5.0)]
    ev = gridded(grid, *zip(*events, strict=True))
    want = np.zeros((6, 3, 4), dtype=np.float32)
    want[0, 0, 0] = 3.0
    want[0, 1, 1] = 4.0
    want[2, 2, 3] = 6.0  # larger than the 5.0 in the same cell-day
    want[2, 1, 1] = 4.5
    want[5, 1, 0] = 3.5
    np.testing.assert_array_equal(ev.dense(0, 6), want)
    np.testing.assert_array_equal(ev.dense(2, 5), want[2:5])
    np.testing.assert_array_equal(ev.dense(4, 9)[:2], want[4:6])
    assert ev.dense(6, 9).sum() == 0 and ev.dense(3, 3).shape == (0, 3, 4)
    big = ev.dense(0, 6, min_mag=4.5)
    np.testing.assert_array_equal(big, np.where(want >= 4.5, want, 0))
    assert ev.counts_per_cell(0, 6).tolist() == [1, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 1]
    assert ev.counts_per_cell(1, 6, min_mag=4.5).tolist() == [0] * 5 + [1] + [0] * 5 + [1]


def test_coarsen_keeps_the_largest_and_the_partial_edge_cells() -> None:
    grid = Grid(lat0=35.0, lon0=139.0, cell_km=10.0, nx=5, ny=3)
    # cells: (iy, ix) -> iy * 5 + ix
    ev = gridded(grid, [0, 0, 0, 1], [0, 6, 4, 14], [4.0, 5.0, 3.0, 2.5])
    coarse = ev.coarsen(2)
    assert (coarse.grid.nx, coarse.grid.ny, coarse.grid.cell_km) == (3, 2, 20.0)
    want = np.zeros((2, 2, 3), dtype=np.float32)
    want[0, 0, 0] = 5.0  # (0,0) and (1,1) merge; the larger wins
    want[0, 0, 2] = 3.0  # (0,4) -> column 2, the partial edge column
    want[1, 1, 2] = 2.5  # (2,4) -> row 1, column 2
    np.testing.assert_array_equal(coarse.dense(0, 2), want)
    assert coarse.n_events == ev.n_events == 4
    # The coarse grid's cells line up with the fine one's.
    lat, lon = grid.cell_centers()
    assert coarse.grid.cell_index(lat[1, 1], lon[1, 1]) == 0


# --- targets ----------------------------------------------------------------------------------


def test_target_window_edges_are_exact() -> None:
    grid = Grid(lat0=35.0, lon0=139.0, cell_km=10.0, nx=3, ny=2)
    d, cell = 100, 4
    ev = gridded(grid, [d], [cell], [5.0])
    tg = Targets.from_events(ev, mc=5.0)
    labels = tg.dense(0, 200)
    assert labels.dtype == np.uint8 and labels.shape == (200, 2, 3)
    positive = np.flatnonzero(labels.reshape(200, -1)[:, cell]).tolist()
    assert positive == list(range(d - 49, d - 10 + 1))  # T = d-49 ... d-10
    assert labels[d - 50].sum() == 0 and labels[d - 9].sum() == 0
    assert tg.count(0, 200) == 40 and labels.sum() == 40
    assert tg.count(d - 49, d - 48) == 1 and tg.count(d - 9, 200) == 0
    t, c = tg.pairs(0, 200)
    assert t.tolist() == positive and set(c.tolist()) == {cell}


def test_targets_never_go_before_day_zero() -> None:
    grid = Grid(nx=2, ny=1)
    tg = Targets.from_events(gridded(grid, [20], [1], [6.0]), mc=5.0)
    assert tg.keys.min() >= 0
    assert tg.pairs(0, 100)[0].tolist() == list(range(0, 11))  # T = -29 ... 10, kept from 0


def test_overlapping_windows_give_each_pair_once() -> None:
    grid = Grid(nx=2, ny=1)
    tg = Targets.from_events(gridded(grid, [100, 101, 101], [0, 0, 1], [5.0, 5.0, 5.5]), mc=5.0)
    assert np.all(np.diff(tg.keys) > 0)  # sorted, unique
    assert tg.count(0, 200) == 41 + 40  # cell 0: T = 51 ... 91; cell 1: T = 52 ... 91
    assert tg.positives_per_cell(0, 200).tolist() == [41, 40]


def test_mc_is_compared_in_float32() -> None:
    grid = Grid(nx=3, ny=1)
    ev = gridded(grid, [100, 100, 100], [0, 1, 2], [4.6, 4.5999, 4.7])
    assert ev.mag.dtype == np.float32
    per_cell = Targets.from_events(ev, mc=4.6).positives_per_cell(0, 200)
    assert per_cell.tolist() == [40, 0, 40]
    # The same through a CSV: "4.6" in the file counts at Mc 4.6 (and 4.5 at 4.5).
    cat = read_catalog_bytes(
        b"time,lat,lon,mag\n2000-04-10,35.01,139.01,4.6\n2000-04-11,35.01,139.21,4.5\n"
    )
    g = Grid(lat0=35.0, lon0=139.0, cell_km=10.0, nx=3, ny=1)
    ev = GriddedEvents.from_catalog(cat.events, g, EPOCH)
    # 139.21 E at 35 N is 0.21 * 111.2 * cos 35 = 19.1 km east: column 1.
    assert Targets.from_events(ev, mc=4.6).positives_per_cell(0, 200).tolist() == [40, 0, 0]
    assert Targets.from_events(ev, mc=4.5).positives_per_cell(0, 200).tolist() == [40, 40, 0]


# --- the naive prior ----------------------------------------------------------------------


def test_naive_prior_values_and_fitting_period_only() -> None:
    grid = Grid(nx=3, ny=1)
    start, stop = 100, 300  # fitting period: forecast days T in [100, 300)
    base = ([150, 160, 400], [0, 0, 2], [5.0, 5.0, 5.0])
    prior = naive_prior(Targets.from_events(gridded(grid, *base), 5.0), start, stop)
    assert prior.shape == (1, 3)
    # cell 0: events on days 150 and 160 make T = 101 ... 150 positive = 50 of 200 days.
    k = np.array([50, 0, 0])
    np.testing.assert_allclose(prior.ravel(), (k + 0.5) / (200 + 1.0))
    assert np.all((prior > 0) & (prior < 1))

    def prior_with(day: int) -> np.ndarray:
        day_, cell, mag = base
        ev = gridded(grid, [*day_, day], [*cell, 1], [*mag, 7.0])
        return naive_prior(Targets.from_events(ev, 5.0), start, stop)

    # The last fitting day T = 299 sees events up to day 299 + 49 = 348.
    np.testing.assert_array_equal(prior_with(349), prior)  # after the window: no change
    np.testing.assert_array_equal(prior_with(5000), prior)
    assert prior_with(348)[0, 1] > prior[0, 1]  # inside it: counted


def test_forecast_data_prior_uses_train_or_train_plus_validation(
    aftershock_catalog, tiny_protocol
) -> None:
    data = ForecastData.build(aftershock_catalog, 4.0, tiny_protocol)
    for final, (start, stop) in (
        (False, tiny_protocol.days("train")),
        (True, (tiny_protocol.days("train")[0], tiny_protocol.days("validation")[1])),
    ):
        np.testing.assert_array_equal(
            data.prior(final=final), naive_prior(data.targets, start, stop)
        )
    # Moving every event after the validation labels' reach does not change the final prior.
    last_seen = tiny_protocol.days("validation")[1] - 1 + 49
    events = aftershock_catalog.events
    day = (events["time"] - pd.Timestamp(tiny_protocol.epoch, tz="UTC")).dt.days
    late = events[day > last_seen].copy()
    late["magnitude"] = 9.0
    changed = pd.concat([events[day <= last_seen], late], ignore_index=True)
    other = ForecastData.build(Catalog(changed, aftershock_catalog.report), 4.0, tiny_protocol)
    np.testing.assert_array_equal(other.prior(final=True), data.prior(final=True))
    assert not np.array_equal(other.targets.keys, data.targets.keys)


def test_active_mask() -> None:
    grid = Grid(nx=3, ny=2)
    ev = gridded(grid, [5, 10, 20], [0, 4, 5], [2.0, 3.0, 9.0])
    assert active_mask(ev, 11).tolist() == [[True, False, False], [False, True, False]]


# --- protocols --------------------------------------------------------------------------------


@pytest.mark.parametrize("span_days", [400, 401, 1000, 3653, 10957])
def test_derived_periods_do_not_overlap_and_leave_the_horizon(span_days: int) -> None:
    first = date(2001, 3, 7)
    last = first + timedelta(days=span_days - 1)
    p = derived_protocol(first, last, JAPAN_GRID)
    assert tuple(q.name for q in p.periods) == PERIOD_NAMES
    assert p.periods[0].start == first and p.epoch == first
    for q in p.periods:
        assert q.start <= q.end, q
    for prev, nxt in zip(p.periods, p.periods[1:], strict=False):
        assert nxt.start > prev.end
        if prev.name != "history":  # history has no labels
            # the last label window [end + 10, end + 50) closes before the next period
            assert (nxt.start - prev.end).days >= p.horizon_days
    assert p.periods[-1].end + timedelta(days=p.horizon_days - 1) <= last
    assert p.active_before == p.period("test").start
    starts, stops = zip(*(p.days(n) for n in PERIOD_NAMES), strict=True)
    assert list(starts) == sorted(starts) and all(a < b for a, b in zip(starts, stops, strict=True))


def test_japan_protocol_splits_follow_the_same_rules() -> None:
    for prev, nxt in zip(JAPAN.periods[1:], JAPAN.periods[2:], strict=False):
        assert (nxt.start - prev.end).days >= JAPAN.horizon_days
    assert JAPAN.period("train").end + timedelta(days=49) == date(2006, 12, 30)


def test_a_catalog_too_short_to_split_is_a_catalog_error() -> None:
    with pytest.raises(CatalogError, match="spans 399 days"):
        derived_protocol(date(2000, 1, 1), date(2001, 2, 2), JAPAN_GRID)


def test_protocol_for_the_reference_catalog_is_japan(reference_catalog) -> None:
    assert protocol_for_catalog(reference_catalog.events) is JAPAN


def test_short_japan_catalog_gets_the_japan_grid_with_its_own_dates() -> None:
    df = synthetic_catalog(n_background=300, n_days=800, start=date(2005, 1, 1), seed=2)
    p = protocol_for_catalog(df)
    assert p.name != JAPAN.name and p.grid == JAPAN_GRID
    assert p.epoch == df["time"].iloc[0].date()


def test_california_gets_a_grid_from_its_bounds_that_covers_every_event() -> None:
    df = synthetic_catalog(
        n_background=2000, n_days=3000, lat=(32.0, 42.0), lon=(-125.0, -114.0), seed=5
    )
    assert df["longitude"].max() < -114 and df["longitude"].min() > -125
    p = protocol_for_catalog(df)
    g = p.grid
    assert p.name == "derived" and g != JAPAN_GRID
    assert g.lat0 == pytest.approx(df["latitude"].min())
    assert g.lon0 == pytest.approx(df["longitude"].min())
    cells = g.cell_index(df["latitude"].to_numpy(), df["longitude"].to_numpy())
    assert (cells >= 0).all()
    # 11 degrees of longitude at 32 N = 11 * 111.2 * cos 32 = 1,037 km; 10 of latitude = 1,112 km.
    assert 103 <= g.nx <= 105 and 111 <= g.ny <= 112
    ev = GriddedEvents.from_catalog(df, g, p.epoch)
    assert ev.n_outside == 0 and ev.n_events == len(df)
    # The corners of the box are inside too (for_bounds samples the whole box).
    lat = np.array([32.0, 32.0, 42.0, 42.0])
    lon = np.array([-125.0, -114.0, -125.0, -114.0])
    box = Grid.for_bounds(32.0, 42.0, -125.0, -114.0)
    assert (box.cell_index(lat, lon) >= 0).all()


def test_mainshock_targets_ignore_clustered_events(tiny_grid, tiny_protocol) -> None:
    """An aftershock >= Mc in its own cell makes positives under every-event targets and none
    under mainshock targets; the events (inputs) and the active mask keep it."""
    lat, lon = 35.05, 139.05
    rows = [
        ("2001-06-01 00:00:00", lat, lon, 6.0),  # mainshock, cell 0
        ("2001-06-05 00:00:00", lat, east(lat, lon, 12.0), 5.2),  # its aftershock, cell 1
        ("2002-08-01 00:00:00", north(lat, 75.0), east(lat, lon, 75.0), 5.0),  # far: a mainshock
    ]
    cat = catalog_of(rows)
    every = ForecastData.build(cat, 5.0, tiny_protocol)
    main = ForecastData.build(cat, 5.0, tiny_protocol, targets="mainshocks", method="gk")
    assert (every.targets.kind, main.targets.kind) == ("all", "mainshocks-gk")
    n = tiny_protocol.days("test")[1]
    per_cell_all = every.targets.positives_per_cell(0, n)
    per_cell_main = main.targets.positives_per_cell(0, n)
    aftershock_cell = tiny_grid.cell_index(np.array([lat]), np.array([east(lat, lon, 12.0)]))[0]
    assert aftershock_cell == 1
    assert per_cell_all[1] == 40 and per_cell_main[1] == 0  # 40 = horizon - lead days
    assert per_cell_main[0] == per_cell_all[0] == 40
    assert per_cell_main.sum() == 80 and per_cell_all.sum() == 120
    # Inputs and the active mask are the same; the prior follows the targets.
    np.testing.assert_array_equal(main.events.cell, every.events.cell)
    np.testing.assert_array_equal(main.mask("active"), every.mask("active"))
    assert main.prior(final=True).ravel()[1] < every.prior(final=True).ravel()[1]
    with pytest.raises(ValueError, match="targets must be one of"):
        ForecastData.build(cat, 5.0, tiny_protocol, targets="aftershocks")
