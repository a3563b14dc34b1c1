"""Declustering (`quake.data.decluster`): GK windows, ZBZ nearest neighbours, the CLI."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quake.cli import main
from quake.data.catalog import load_catalog
from quake.data.decluster import (
    decluster,
    from_background_probability,
    gk_window,
    sphere_xyz,
)
from quake.data.decluster_zbz import nearest_neighbours
from quake.data.grid import EARTH_RADIUS_KM
from quake.data.synthetic import synthetic_catalog
from quake.errors import CatalogError
from tests.helpers import run_cli

KM_PER_DEG = EARTH_RADIUS_KM * math.pi / 180.0  # along a meridian
T0 = pd.Timestamp("2005-06-01", tz="UTC")


def table(rows: list[tuple[float, float, float, float]]) -> pd.DataFrame:
    """Events from ``(day after T0, latitude, longitude, magnitude)``."""
    day, lat, lon, mag = (np.array(c, dtype=np.float64) for c in zip(*rows, strict=True))
    return pd.DataFrame(
        {
            "time": T0 + pd.to_timedelta(day, unit="D"),
            "latitude": lat,
            "longitude": lon,
            "depth_km": 10.0,
            "magnitude": mag,
        }
    )


# -- Gardner-Knopoff ------------------------------------------------------------------------
def test_gk_windows_follow_the_formula_and_the_original_table() -> None:
    length, duration = gk_window(np.array([5.0, 6.0, 7.0]))
    # 10 ** (0.1238 M + 0.983) and 10 ** (0.5409 M - 0.547) / 10 ** (0.032 M + 2.7389), by hand
    np.testing.assert_allclose(length, [40.01, 53.19, 70.72], rtol=1e-3)
    np.testing.assert_allclose(duration, [143.7, 499.4, 918.2], rtol=1e-3)
    # Gardner & Knopoff's (1974) table: 40 km 155 d, 54 km 510 d, 70 km 915 d.
    np.testing.assert_allclose(length, [40, 54, 70], rtol=0.03)
    np.testing.assert_allclose(duration, [155, 510, 915], rtol=0.08)
    # The branch switches at M 6.5 (the long-time fit above it).
    _, d = gk_window(np.array([6.49, 6.5]))
    assert d[1] == pytest.approx(10 ** (0.032 * 6.5 + 2.7389))
    assert d[0] == pytest.approx(10 ** (0.5409 * 6.49 - 0.547))


def m6_sequence() -> pd.DataFrame:
    """An M6 at day 100 (L 53.2 km, T 499 days) with its sequence and independent events."""
    north = 1.0 / KM_PER_DEG  # degrees of latitude per km
    return table(
        [
            (90.0, 38.0 + 5 * north, 142.0, 4.5),  # 0: foreshock, 10 days before, 5 km
            (100.0, 38.0, 142.0, 6.0),  # 1: the mainshock
            (100.5, 38.0 + 20 * north, 142.0, 5.2),  # 2: aftershock, 20 km
            (130.0, 38.0 - 50 * north, 142.0, 4.1),  # 3: aftershock at 50 km (< 53.2)
            (200.0, 38.0 + 56 * north, 142.0, 4.3),  # 4: 56 km: outside L
            (590.0, 38.0, 142.0 + 0.1, 4.0),  # 5: aftershock, 490 days after
            (610.0, 38.0, 142.0, 4.4),  # 6: 510 days after: outside T
            (150.0, 40.0, 142.0, 5.0),  # 7: 222 km north: independent
        ]
    )


def test_gk_hand_made_sequence() -> None:
    ev = m6_sequence()
    r = decluster(ev, "gk")
    assert r.mainshock.tolist() == [False, True, False, False, True, False, True, True]
    assert r.parent.tolist() == [1, -1, 1, 1, -1, 1, -1, -1]
    assert (r.n_events, r.n_mainshocks, r.n_clustered) == (8, 4, 4)
    assert r.counts()["M>=5"] == {
        "events": 3,
        "mainshocks": 2,
        "clustered": 1,
        "fraction_clustered": pytest.approx(1 / 3, abs=1e-6),
    }
    assert r.mainshocks(ev)["magnitude"].tolist() == [6.0, 4.3, 4.4, 5.0]
    # Without a foreshock window the foreshock stays a mainshock.
    r0 = decluster(ev, "gk", foreshock_fraction=0.0)
    assert r0.mainshock[0] and r0.parent[0] == -1
    assert r0.mainshock.sum() == 5


def test_gk_is_independent_of_row_order_and_selects_by_m_min() -> None:
    ev = m6_sequence()
    perm = np.random.default_rng(3).permutation(len(ev))
    shuffled = ev.iloc[perm].reset_index(drop=True)
    r, rs = decluster(ev, "gk"), decluster(shuffled, "gk")
    assert rs.mainshock.tolist() == r.mainshock[perm].tolist()
    # Parents name rows of the shuffled table: the same events.
    expected = [perm.tolist().index(p) if p >= 0 else -1 for p in r.parent[perm]]
    assert rs.parent.tolist() == expected
    # Only M >= 4.4 is declustered; rows point into the full table.
    rm = decluster(ev, "gk", m_min=4.4)
    assert rm.rows.tolist() == [0, 1, 2, 6, 7]
    assert rm.mainshock.tolist() == [False, True, False, True, True]
    assert rm.parent.tolist() == [1, -1, 1, -1, -1]


def test_gk_sees_across_the_date_line() -> None:
    ev = table([(0.0, -17.0, 179.9, 6.0), (3.0, -17.0, -179.9, 4.5)])  # about 21 km apart
    assert decluster(ev, "gk").mainshock.tolist() == [True, False]


def test_equal_magnitudes_earliest_is_the_mainshock() -> None:
    ev = table([(5.0, 35.0, 140.0, 5.0), (1.0, 35.0, 140.05, 5.0)])
    r = decluster(ev, "gk")
    assert r.mainshock.tolist() == [False, True] and r.parent.tolist() == [1, -1]


# -- Zaliapin & Ben-Zion --------------------------------------------------------------------
def test_nearest_neighbours_match_a_brute_force_search() -> None:
    rng = np.random.default_rng(11)
    n = 160
    t = np.sort(rng.uniform(0, 5, n))
    t[40] = t[39]  # simultaneous events are never each other's parent
    lat, lon = rng.uniform(34, 37, n), rng.uniform(138, 141, n)
    mag = np.round(rng.uniform(3, 6, n), 1)
    xyz = sphere_xyz(lat, lon)
    nn = nearest_neighbours(t, xyz, mag, d_f=1.6, b=1.0, block_cells=500)  # many blocks
    for j in range(n):
        earlier = np.flatnonzero(t < t[j])
        if not len(earlier):
            assert nn.parent[j] == -1 and math.isinf(nn.log_eta[j])
            continue
        r = np.maximum(np.linalg.norm(xyz[earlier] - xyz[j], axis=1), 0.1)
        log_eta = np.log10(t[j] - t[earlier]) + 1.6 * np.log10(r) - mag[earlier]
        k = int(np.argmin(log_eta))
        assert nn.parent[j] == earlier[k], j
        assert nn.log_eta[j] == pytest.approx(log_eta[k], abs=1e-9)
        assert nn.log_t[j] + nn.log_r[j] == pytest.approx(log_eta[k], abs=1e-9)
    assert nn.parent[40] != 39


def test_zbz_eta_by_hand_and_a_given_threshold() -> None:
    north = 1.0 / KM_PER_DEG
    year = 365.25
    ev = table(
        [
            (0.0, 35.0, 140.0, 5.0),  # 0
            (0.01 * year, 35.0 + 10 * north, 140.0, 3.0),  # 1: eta = 0.01 * 10**1.6 * 1e-5
            (2.0 * year, 35.0 + 200 * north, 140.0, 4.0),  # 2: far from both
        ]
    )
    r = decluster(ev, "zbz", eta0=1e-4)
    # Distances are chords: 10 km of arc is 10 km minus 4e-6 km.
    assert r.extra["log_eta"][1] == pytest.approx(math.log10(0.01) + 1.6 - 5.0, abs=1e-5)
    # Event 2's nearest neighbour is event 0 (M5, 200 km, 2 years): log eta = 0.301 + 3.68 - 5.
    assert r.extra["nearest"][2] == 0
    assert r.extra["log_eta"][2] == pytest.approx(
        math.log10(2) + 1.6 * math.log10(200) - 5, abs=1e-3
    )
    assert r.mainshock.tolist() == [True, False, True]
    assert r.parent.tolist() == [-1, 0, -1]
    assert r.extra["eta0_source"] == "given"
    # A larger eta0 takes event 2 in too.
    assert decluster(ev, "zbz", eta0=1.0).mainshock.tolist() == [True, False, False]


def test_zbz_needs_enough_events_for_the_mixture() -> None:
    ev = table([(float(d), 35.0, 140.0 + 0.01 * d, 4.0) for d in range(5)])
    with pytest.raises(CatalogError, match="eta0"):
        decluster(ev, "zbz")


@pytest.mark.parametrize("seed", [3, 5, 7])
def test_zbz_separates_background_from_offspring(seed: int) -> None:
    kw = dict(
        n_background=300,
        n_days=3650,
        lat=(34.0, 37.0),
        lon=(138.0, 141.0),
        productivity=0.8,
        m_ref=4.0,
        seed=seed,
    )
    ev = synthetic_catalog(**kw)
    # The background events are drawn first from the same seed, so the catalog without
    # offspring holds exactly them (same times to the nanosecond): that is the truth.
    background = synthetic_catalog(**{**kw, "productivity": 0.0})
    truth = ev["time"].isin(set(background["time"])).to_numpy()
    assert truth.sum() == 300 and len(ev) > 450
    r = decluster(ev, "zbz")
    accuracy = float((r.mainshock == truth).mean())
    assert accuracy >= 0.85, accuracy  # 0.89, 0.92, 0.91 for seeds 3, 5, 7
    assert r.mainshock[truth].mean() >= 0.8  # background kept
    assert (~r.mainshock[~truth]).mean() >= 0.8  # offspring removed
    assert accuracy > max(truth.mean(), 1 - truth.mean()) + 0.2  # far above a constant guess
    # The fitted threshold sits between the mixture's two modes.
    lo, hi = r.extra["mixture"]["means"]
    assert lo < r.extra["log10_eta0"] < hi


# -- the common result ----------------------------------------------------------------------
def test_from_background_probability() -> None:
    r = from_background_probability(np.array([0.1, 0.5, 0.9, 0.49]))
    assert r.method == "etas"
    assert r.mainshock.tolist() == [False, True, True, False]
    assert r.parent.tolist() == [-1, -1, -1, -1]
    assert (r.n_mainshocks, r.n_clustered, r.fraction_clustered) == (2, 2, 0.5)
    assert from_background_probability(np.array([0.1, 0.5]), threshold=0.05).n_mainshocks == 2
    for bad in ([0.2, math.nan], [1.2], [[0.5]]):
        with pytest.raises(ValueError):
            from_background_probability(np.array(bad))


def test_bad_tables_are_catalog_errors() -> None:
    ev = m6_sequence()
    with pytest.raises(CatalogError, match="magnitude"):
        decluster(ev.drop(columns="magnitude"))
    with pytest.raises(CatalogError, match="M7"):
        decluster(ev, m_min=7.0)
    holed = ev.copy()
    holed.loc[2, "latitude"] = np.nan
    with pytest.raises(CatalogError, match="1 events"):
        decluster(holed)
    with pytest.raises(ValueError, match="gk"):
        decluster(ev, "reasenberg")


# -- the command line -----------------------------------------------------------------------
def test_cli_on_the_reference_catalog(reference_path: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "mainshocks.csv"
    rc = main(["decluster", str(reference_path), "--method", "gk", "--json", "--out", str(out)])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0
    n = report["n_events"]
    assert n == 37581  # the reference catalog loads whole
    assert report["n_mainshocks"] + report["n_clustered"] == n
    assert 0.3 < report["fraction_clustered"] < 0.9  # Tohoku's sequence is in it
    bands = report["by_magnitude"]
    assert bands["M>=5"]["events"] == 4455 and bands["M>=4.5"]["events"] == 18197
    assert bands["M>=7"]["mainshocks"] <= bands["M>=5"]["mainshocks"] <= n
    # The mainshock catalog loads back, event for event.
    back = load_catalog(out)
    assert len(back) == report["n_mainshocks"] and back.report.n_dropped == 0
    ref = load_catalog(reference_path).events
    kept = decluster(ref, "gk").mainshocks(ref)
    np.testing.assert_array_equal(back.events["magnitude"], kept["magnitude"])
    assert (back.events["time"].to_numpy() == kept["time"].to_numpy()).all()
    assert [p.name for p in tmp_path.iterdir()] == ["mainshocks.csv"]  # no temp file left


def test_cli_text_and_errors_in_a_fresh_interpreter(reference_path: Path, tmp_path: Path) -> None:
    proc = run_cli("decluster", str(reference_path), "--method", "zbz", "--m-min", "5")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "events       4455 (M >= 5)" in text
    mains = int(text.split("mainshocks   ")[1].split()[0])
    clustered = int(text.split("clustered    ")[1].split()[0])
    assert mains + clustered == 4455 and 0 < clustered < 4455
    assert "log10_eta0=" in text
    bad = run_cli("decluster", str(reference_path), "--m-min", "9.5")
    assert bad.returncode == 2
    assert (
        bad.stderr.strip() == "error: no events at or above M9.5 to decluster (the largest is M9.1)"
    )
    missing = run_cli("decluster", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "x.csv"))
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")
    assert not (tmp_path / "x.csv").exists()
    pipe = tmp_path / "pipe.csv"  # stands in for /dev/null: never renamed over, checked first
    os.mkfifo(pipe)
    for out, message in ((pipe, "is not a regular file"), (tmp_path, "is not a regular file")):
        bad = run_cli("decluster", str(reference_path), "--out", str(out))
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
        assert repr(str(out)) in bad.stderr
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)
