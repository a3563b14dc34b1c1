"""Another region, honestly: a Southern-California-like synthetic catalog (ComCat layout).

Maps frame the loaded catalog's grid with the world coastline clipped to the view; Mc is
offered from the catalog's own magnitudes; the Japan models are listed as fitted on another
catalog and never run on it; and a model trained on it goes through the whole dashboard:
catalog -> train ``ri`` -> map -> threshold -> compare.
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app_pages.ui.nav import PATHS
from quake.data.completeness import default_mc, estimate_completeness, mc_choices
from quake.data.grid import JAPAN_GRID, Grid
from quake.data.protocol import JAPAN, derived_protocol
from quake.data.synthetic import synthetic_catalog
from quake.models.store import ModelCard
from quake.service.workspace import catalog_mismatch, split_by_catalog
from quake.viz.maps import fit_zoom, grid_bounds, view_box, view_state
from tests.helpers import app, goto, model_box

SOCAL_LAT, SOCAL_LON = (32.6, 33.6), (-117.4, -116.2)


def socal_events() -> pd.DataFrame:
    """About eight years of clustered M1+ seismicity in a box east of San Diego."""
    return synthetic_catalog(
        n_background=1500,
        start=date(2010, 1, 1),
        n_days=3000,
        lat=SOCAL_LAT,
        lon=SOCAL_LON,
        m_min=1.0,
        productivity=0.6,
        m_ref=2.5,
        seed=3,
    )


def comcat_csv(df: pd.DataFrame) -> bytes:
    """The events as a USGS ComCat CSV (the layout `download_usgs` reads)."""
    out = pd.DataFrame(
        {
            "time": df["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z",
            "latitude": df["latitude"].round(4),
            "longitude": df["longitude"].round(4),
            "depth": df["depth_km"].round(2),
            "mag": df["magnitude"],
            "magType": "ml",
            "id": [f"ci{i:08d}" for i in range(len(df))],
            "type": "earthquake",
        }
    )
    return out.to_csv(index=False).encode()


# -- units ---------------------------------------------------------------------------------
def test_view_fits_the_grid_not_japan() -> None:
    grid = Grid.for_bounds(*SOCAL_LAT, *SOCAL_LON)
    view = view_state(grid)
    assert SOCAL_LAT[0] < view.latitude < SOCAL_LAT[1]
    assert SOCAL_LON[0] < view.longitude < SOCAL_LON[1]
    assert view.zoom > 6.5  # a 120 km grid fills the map (Japan's is ~3.4)
    assert fit_zoom(grid_bounds(JAPAN_GRID)) < 4.5
    # The pages' Japan-tuned zoom keeps its framing on another grid.
    assert view_state(grid, 3.45).zoom == pytest.approx(
        3.45 + view.zoom - fit_zoom(grid_bounds(JAPAN_GRID))
    )
    west, south, east, north = view_box(view)
    assert west < SOCAL_LON[0] and east > SOCAL_LON[1] and east - west < 20


def test_mc_choices_follow_the_catalog() -> None:
    mags = socal_events()["magnitude"].to_numpy()
    comp = estimate_completeness(mags)
    choices = mc_choices(mags, comp)
    assert 5.0 not in choices and min(choices) >= comp.mc
    assert all(np.count_nonzero(mags >= m) >= 30 for m in choices)
    assert choices == sorted(choices, reverse=True)
    assert default_mc(choices) == min(choices)
    # The Japan protocol keeps its two settings whatever the estimate.
    assert {5.0, 4.5} <= set(mc_choices(np.full(100, 5.5), None, also=(5.0, 4.5)))
    assert mc_choices(np.array([]), None) == [5.0]


def test_a_model_of_another_grid_is_not_run_with_the_reason() -> None:
    socal = derived_protocol(
        date(2010, 1, 1), date(2018, 3, 1), Grid.for_bounds(32, 34, -118, -116)
    )
    japan_card = ModelCard(
        "naive-m5.0",
        Path("naive-m5.0"),
        kind="naive",
        mc=5.0,
        protocol=JAPAN.name,
        protocol_spec=JAPAN.to_dict(),
        fingerprint="abc",
    )
    why = catalog_mismatch(japan_card, socal)
    assert why is not None and "japan-usgs-v1" in why and "grid 200 x 250" in why
    assert catalog_mismatch(japan_card, JAPAN) is None
    fitting, others = split_by_catalog([japan_card], socal)
    assert fitting == [] and others == [(japan_card, why)]
    assert split_by_catalog([japan_card], None) == ([japan_card], [])


# -- the dashboard, end to end --------------------------------------------------------------
def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [i.value for i in at.info] + [w.value for w in at.warning]
    return "\n".join(str(p) for p in parts).replace("\\", "")  # markdown escapes


def _decks(at: AppTest) -> list[dict]:
    return [json.loads(d.proto.json) for d in at.get("deck_gl_json_chart")]


def _assert_socal_deck(deck: dict) -> None:
    view = deck["initialViewState"]
    assert SOCAL_LAT[0] - 0.5 < view["latitude"] < SOCAL_LAT[1] + 0.5
    assert SOCAL_LON[0] - 0.5 < view["longitude"] < SOCAL_LON[1] + 0.5
    assert view["zoom"] > 6.5, view
    coast = next(la for la in deck["layers"] if la["id"] == "coastline-path")
    pts = np.array([p for d in coast["data"] for p in d["path"]])
    assert len(pts), "the Californian coast is drawn"
    assert (pts[:, 0] > -130).all() and (pts[:, 0] < -105).all()  # none of Japan's


def _players(at: AppTest) -> list[dict]:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return [s for s in specs if s.get("frames")]


def _assert_socal_player(fig: dict) -> None:
    """The day player is drawn on the loaded catalog's grid (projected km), with the
    Californian coast and none of Japan's."""
    (image,) = fig["layout"]["images"]
    assert image["source"].startswith("data:image/png;base64,")
    coast = fig["data"][0]
    xs = np.array([v for v in coast["x"] if v is not None], dtype=float)
    ys = np.array([v for v in coast["y"] if v is not None], dtype=float)
    assert len(xs) >= 2, "the Californian coast is drawn"
    x0, y0 = image["x"], image["y"] - image["sizey"]
    assert image["sizex"] < 500 and image["sizey"] < 500  # a ~120 km grid, not Japan's
    w, h = image["sizex"], image["sizey"]  # the coast of the grid's lon/lat box: near it
    assert (xs >= x0 - w / 2).all() and (xs <= x0 + 1.5 * w).all()
    assert (ys >= y0 - h / 2).all() and (ys <= y0 + 1.5 * h).all()


def _wait_for_map(at: AppTest, page: str, timeout: float = 120.0) -> AppTest:
    """Rerun ``page`` until the forecast map is drawn (starting the background forecast
    run when the page offers it)."""
    end = time.monotonic() + timeout
    while True:
        goto(at, page)
        if _players(at):
            return at
        assert time.monotonic() < end, "the map never appeared: " + _texts(at)
        start = [b for b in at.button if b.label.startswith("Compute the forecasts")]
        if start:  # long work starts only when the person asks
            start[0].click().run()
        time.sleep(1.0)


def test_socal_catalog_train_ri_map_threshold_compare(dashboard_env) -> None:
    at = goto(app(), PATHS["catalog"])
    at.radio(key="w_catalog_choice").set_value("Upload a CSV").run()
    at.file_uploader[0].upload("socal_comcat.csv", comcat_csv(socal_events()), "text/csv").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "layout **usgs**" in _texts(at)
    # Mc from this catalog, not Japan's 5.0 ... 3.5; the map is over California.
    mc_box = at.selectbox(key="w_mc")
    est = float(next(m.value for m in at.metric if m.label == "estimated Mc"))
    assert 5.0 not in mc_box.options and min(float(o) for o in mc_box.options) >= est
    mc_chosen = float(mc_box.value)
    assert mc_chosen == min(float(o) for o in mc_box.options)
    at.session_state["catalog_tab"] = "Where the events are"  # the maps are in lazy tabs
    at.run()
    _assert_socal_deck(_decks(at)[0])
    # The declustering counts use this catalog's two lowest Mc, not Japan's 4.5 and 5.
    at.session_state["catalog_tab"] = "Mainshocks and aftershocks"
    at.run()
    assert not at.exception
    low = sorted(float(o) for o in mc_box.options)[:2]
    labels = {m.label for m in at.metric}
    assert {f"mainshocks M ≥ {b:g}" for b in low} <= labels, labels
    assert "mainshocks M ≥ 4.5" not in labels

    # Models: the Japan baselines are fitted on another catalog; train ri on this one.
    goto(at, PATHS["models"])
    assert "Not run on the loaded catalog: fitted on another catalog: protocol japan-usgs-v1" in (
        _texts(at)
    )
    at.selectbox(key="w_train_kind").set_value("ri").run()
    assert float(at.selectbox(key="w_train_mc").value) == mc_chosen
    at.text_input[0].set_value("ri-socal")
    next(b for b in at.button if b.label == "Train").click().run()
    job = at.session_state["train_job"]
    job.wait(120)
    assert job.status == "done", job.error
    at.run()
    assert (dashboard_env / "ri-socal" / "model.json").is_file()
    assert "it has no training curves" in _texts(at)  # not an empty chart

    # Forecast map: only ri-socal is offered; the Japan models are listed apart.
    _wait_for_map(at, PATHS["map"])
    assert model_box(at, "Model").options == ["ri-socal"]
    assert not at.error, [e.value for e in at.error]
    (player,) = _players(at)
    _assert_socal_player(player)
    assert "2 saved model(s) fitted on another catalog" in " ".join(e.label for e in at.expander)

    # Threshold: the curves of ri-socal, its scores said to be of the loaded catalog.
    goto(at, PATHS["threshold"])
    assert not at.error, [e.value for e in at.error]
    assert model_box(at, "Model").options == ["ri-socal"]
    assert "Scores of the loaded catalog (upload (socal_comcat.csv))" in _texts(at)
    for deck in _decks(at):  # the page may draw its map in the browser instead
        _assert_socal_deck(deck)

    # Compare: Table II holds ri-socal only, scored on the loaded catalog.
    goto(at, PATHS["compare"])
    table = at.dataframe[0].value
    assert list(table["model"]) == ["ri-socal"]
    assert list(table["scored on"]) == ["the loaded catalog"]
    assert table["ROC AUC (all)"].iloc[0] > 0.5
    # the page's dates, protocol and how rare targets are: this catalog's, not Japan's
    said = _texts(at)
    assert "japan-usgs-v1" not in said and "(2011" not in said
    assert "test period of the loaded catalog's protocol (" in said
    assert "10,000 cell-days" not in said


def test_a_failed_upload_replaces_the_report(dashboard_env) -> None:
    at = goto(app(), PATHS["catalog"])
    assert any(m.label == "events loaded" for m in at.metric)  # the reference's report
    at.radio(key="w_catalog_choice").set_value("Upload a CSV").run()
    at.file_uploader[0].upload("bad.csv", b"no,columns,here\n1,2,3\n", "text/csv").run()
    assert not at.exception
    assert any("Cannot use this file" in e.value for e in at.error)
    assert not any(m.label == "events loaded" for m in at.metric), "no report of the old file"
    assert any("still" in i.value and "reference" in i.value for i in at.info)
