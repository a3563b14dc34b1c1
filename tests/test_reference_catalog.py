"""The real reference catalog (``../shared/data/japan_usgs_1990_2019.csv``), Japan protocol.

The ``reference_catalog`` fixture fails (never skips) when the file is missing. Counts are
checked against numbers computed here straight from the raw CSV with the ``csv`` module and
numpy (no quake code), and against the reference numbers in ``../shared/docs/NOTES.md``.
"""

from __future__ import annotations

import csv
from datetime import date, datetime

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from quake.data.catalog import Catalog, catalog_summary
from quake.data.forecast_data import ForecastData
from quake.data.protocol import JAPAN

N_EVENTS = 37_581


@pytest.fixture(scope="module")
def raw(reference_path) -> dict[str, np.ndarray]:
    """The raw columns, read with the csv module: day number, lat, lon, magnitude."""
    with open(reference_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    epoch = datetime(1990, 1, 1)
    day = [(datetime.strptime(r["time"][:10], "%Y-%m-%d") - epoch).days for r in rows]
    return {
        "day": np.array(day, dtype=np.int64),
        "lat": np.array([float(r["latitude"]) for r in rows]),
        "lon": np.array([float(r["longitude"]) for r in rows]),
        "mag": np.array([float(r["magnitude"]) for r in rows]),
    }


def own_cells(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """PROTOCOL.md's projection and 10 km cells, written out again: cell or -1."""
    r = 6373.0
    x = (lon - 127.0) * np.pi / 180 * r * np.cos(lat * np.pi / 180)
    y = (lat - 27.0) * np.pi / 180 * r
    inside = (x >= 0) & (x < 2000) & (y >= 0) & (y < 2500)
    ix = np.floor(x / 10).astype(np.int64)
    iy = np.floor(y / 10).astype(np.int64)
    return np.where(inside, iy * 200 + ix, -1)


@pytest.fixture(scope="module")
def data5(reference_catalog) -> ForecastData:
    return ForecastData.build(reference_catalog, 5.0)


@pytest.fixture(scope="module")
def data45(reference_catalog) -> ForecastData:
    return ForecastData.build(reference_catalog, 4.5)


def test_loads_every_event_with_no_drops(reference_catalog, raw) -> None:
    rep = reference_catalog.report
    assert rep.layout == "reference"
    assert rep.n_rows == rep.n_events == len(reference_catalog) == N_EVENTS == len(raw["mag"])
    assert rep.dropped == {} and rep.notes == []
    ev = reference_catalog.events
    assert ev["time"].iloc[0].date() == date(1990, 1, 1)
    assert ev["time"].iloc[-1].date() == date(2019, 12, 31)
    assert ev["time"].is_monotonic_increasing


def test_magnitude_counts_match_an_independent_count(reference_catalog, raw) -> None:
    mag = raw["mag"]
    assert int((mag >= 5).sum()) == 4_455  # data/README.md
    assert int((mag >= 6).sum()) == 447
    summary = catalog_summary(reference_catalog, JAPAN.grid)
    assert summary["n_mag_ge"]["5"] == 4_455 and summary["n_mag_ge"]["6"] == 447
    assert summary["n_mag_ge"]["4.5"] == int((mag >= 4.5).sum())
    assert summary["mag_min"] == mag.min() == 2.7 and summary["mag_max"] == mag.max() == 9.1


def test_events_in_the_grid_match_an_independent_projection(reference_catalog, raw, data5) -> None:
    cells = own_cells(raw["lat"], raw["lon"])
    n_in = int((cells >= 0).sum())
    assert n_in == 31_217
    assert catalog_summary(reference_catalog, JAPAN.grid)["n_in_grid"] == n_in
    assert data5.events.n_events == n_in
    assert data5.events.n_outside == N_EVENTS - n_in
    # The same cell-days, each with its largest magnitude.
    keys = raw["day"][cells >= 0] * JAPAN.grid.n_cells + cells[cells >= 0]
    got = data5.events.day.astype(np.int64) * JAPAN.grid.n_cells + data5.events.cell
    np.testing.assert_array_equal(np.sort(np.unique(keys)), got)
    top = {}
    for k, m in zip(keys.tolist(), raw["mag"][cells >= 0].tolist(), strict=True):
        top[k] = max(top.get(k, -10.0), m)
    np.testing.assert_array_equal(data5.events.mag, np.float32([top[k] for k in got.tolist()]))


def _own_positives(raw, mc: float, start: int, stop: int) -> int:
    cells = own_cells(raw["lat"], raw["lon"])
    big = (cells >= 0) & (raw["mag"] >= mc)
    pairs = set()
    for d, c in zip(raw["day"][big].tolist(), cells[big].tolist(), strict=True):
        for t in range(d - 49, d - 9):  # T + 10 <= d < T + 50
            if start <= t < stop:
                pairs.add((t, c))
    return len(pairs)


@pytest.mark.parametrize(("mc", "want"), [(5.0, 55_291), (4.5, 250_334)])
def test_test_period_positives(raw, data5, data45, mc: float, want: int) -> None:
    data = data5 if mc == 5.0 else data45
    start, stop = data.days("test")
    assert (stop - start) * JAPAN.grid.n_cells == 161_850_000
    assert data.targets.count(start, stop) == want  # NOTES.md
    assert _own_positives(raw, mc, start, stop) == want


def test_naive_prior_scores_reproduce_the_reference_numbers(data5) -> None:
    """NOTES.md: the naive prior fit on 1992 ... 2010-11-11 scores ROC 0.613, PR 0.00133.

    Every test pair (T, cell) of a cell has the same score, so the pairs are weighted per cell:
    k positives and n - k negatives (sklearn's sample weights).
    """
    prior = data5.prior(final=True).ravel()
    start, stop = data5.days("test")
    n = stop - start
    k = data5.targets.positives_per_cell(start, stop)
    y = np.r_[np.ones_like(prior), np.zeros_like(prior)]
    score = np.r_[prior, prior]
    weight = np.r_[k, n - k].astype(np.float64)
    keep = weight > 0
    roc = roc_auc_score(y[keep], score[keep], sample_weight=weight[keep])
    pr = average_precision_score(y[keep], score[keep], sample_weight=weight[keep])
    assert roc == pytest.approx(0.6135, abs=5e-4)
    assert pr == pytest.approx(0.00133, abs=5e-6)


def test_prior_is_fit_before_the_test_period(reference_catalog, data5) -> None:
    """Deleting every event after the validation labels' reach leaves the prior unchanged."""
    ev = reference_catalog.events
    last_day = data5.days("validation")[1] - 1 + 49
    cut = JAPAN.day_to_date(last_day + 1)
    early = ev[ev["time"].dt.date < cut]
    assert len(early) < len(ev)
    other = ForecastData.build(
        Catalog(early.reset_index(drop=True), reference_catalog.report), 5.0, JAPAN
    )
    np.testing.assert_array_equal(other.prior(final=True), data5.prior(final=True))
    np.testing.assert_array_equal(other.prior(final=False), data5.prior(final=False))
