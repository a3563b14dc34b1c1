"""Live in the browser (issue #13): the map as one image, the threshold explorer whose slider
runs in the browser, Play on the Forecast map, and background work under control."""

from __future__ import annotations

import io
import json
import math
import threading
import time

import numpy as np
import pandas as pd
import pytest

from app_pages.ui.nav import PATHS
from app_pages.ui.state import THRESHOLDS
from quake.data.grid import Grid
from quake.metrics.curves import OperatingCurve
from quake.service.background import (
    BoardFull,
    JobBoard,
    cost_text,
    estimate_seconds,
    progress_text,
)
from quake.viz.maps import PROB_RANGE
from quake.viz.raster import cell_image, forecast_rgba, pixel_cells, png_bytes
from quake.viz.threshold_explorer import MapInput, fade_colorscale, threshold_explorer
from tests.helpers import app, goto

SMALL = Grid(lat0=34.0, lon0=-118.0, cell_km=10.0, nx=12, ny=10)


# -- the map as one image -----------------------------------------------------------------
def test_png_decodes_to_the_same_pixels():
    from PIL import Image

    rgba = np.random.default_rng(0).integers(0, 256, (7, 5, 4), dtype=np.uint8)
    img = Image.open(io.BytesIO(png_bytes(rgba)))
    assert img.size == (5, 7) and img.mode == "RGBA"
    assert np.array_equal(np.asarray(img), rgba)


def test_each_pixel_shows_the_cell_under_it():
    px = pixel_cells(SMALL)
    h, w = px.cells.shape
    west, south, east, north = px.bounds
    assert (px.cells >= 0).mean() > 0.8  # the image hugs the grid
    lat, lon = SMALL.cell_centers()
    merc = lambda v: np.log(np.tan(np.pi / 4 + np.radians(v) / 2))  # noqa: E731
    for iy, ix in [(0, 0), (9, 11), (5, 3)]:
        col = int((lon[iy, ix] - west) / (east - west) * w)
        row = int((merc(north) - merc(lat[iy, ix])) / (merc(north) - merc(south)) * h)
        assert px.cells[row, col] == iy * SMALL.nx + ix


def test_rgba_fades_below_the_threshold_and_clears_below_the_floor():
    p = np.array([[1e-7, 1e-5, 1e-3, 0.2]])
    rgba = forecast_rgba(p, None, "probability", 1e-3, PROB_RANGE, (0.01, 100), PROB_RANGE[0])
    assert rgba[:, 3].tolist() == [0, 50, 215, 215]
    url, bounds = cell_image(Grid(nx=2, ny=2), np.zeros((4, 4), np.uint8))
    assert url.startswith("data:image/png;base64,") and len(bounds) == 4


def test_legend_and_slider_agree():
    assert (min(THRESHOLDS), max(THRESHOLDS)) == PROB_RANGE


# -- the threshold explorer ---------------------------------------------------------------
def _curve() -> OperatingCurve:
    rng = np.random.default_rng(1)
    c = OperatingCurve()
    neg = 10.0 ** rng.uniform(-6, -2, 20000)
    pos = 10.0 ** rng.uniform(-4, -1, 300)
    c.update(np.r_[np.zeros(len(neg)), np.ones(len(pos))], np.concatenate([neg, pos]))
    return c


def test_explorer_precomputes_every_step():
    curve = _curve()
    probs = np.full(SMALL.shape, 1e-4)
    probs[2, 3] = 0.05
    lat, lon = SMALL.cell_centers()
    window = pd.DataFrame(
        {
            "latitude": [lat[2, 3], lat[7, 7], 0.0],
            "longitude": [lon[2, 3], lon[7, 7], 0.0],
            "magnitude": [5.5, 5.1, 6.0],
            "cell": [2 * SMALL.nx + 3, 7 * SMALL.nx + 7, -1],  # the last outside the grid
        }
    )
    mapped = MapInput(SMALL, probs, window, [[[-119.0, 34.0], [-117.0, 35.0]]], "a day")
    active = THRESHOLDS.index(1e-4)
    fig = threshold_explorer(curve, THRESHOLDS, active, "m", "#0072B2", mapped)
    (slider,) = fig.layout.sliders
    assert len(slider.steps) == len(THRESHOLDS) and slider.active == active
    hits = {s.label: s.args for s in slider.steps}
    low, high = hits["1.0e-4"], hits["0.01"]
    # counts from the operating curve, in the annotation the step rewrites
    for t, args in ((1e-4, low), (0.01, high)):
        k = curve.counts_at(t)
        (text,) = args[1].values()
        assert f"hits (TP) <b>{k['tp']:,}</b>" in text and f"(FN) <b>{k['fn']:,}</b>" in text
    # quakes: both in-grid ones hit at 1e-4, one at 0.01; the outside one is never drawn
    assert [len(x) for x in low[0]["x"][1:3]] == [2, 0]
    assert [len(x) for x in high[0]["x"][1:3]] == [1, 1]
    assert "2 quakes hit, 0 missed" in next(iter(low[1].values()))
    # the map's colour scale fades below the threshold: a jump at its position
    cs = high[0]["colorscale"][0]
    f = (math.log10(0.01) + 6) / 6
    at_f = [c for x, c in cs if abs(x - f) < 1e-12]
    assert len(at_f) == 2 and at_f[0] != at_f[1]
    json.dumps(fig.to_plotly_json(), default=str)  # serialisable


def test_fade_colorscale_is_monotone_in_position():
    for t in (1e-6, 1e-3, 1.0):
        xs = [x for x, _ in fade_colorscale(-6, 0, t)]
        assert xs == sorted(xs) and xs[0] == 0.0 and xs[-1] == 1.0


# -- background work ----------------------------------------------------------------------
def _runner(release: threading.Event):
    def run(on_progress, should_stop):
        from quake.progress import Progress

        for i in range(1000):
            on_progress(Progress("forecast", i, 1000))
            if release.wait(0.01):
                return
            if should_stop():
                return

    return run


def test_board_runs_one_per_key_and_at_most_its_limit():
    board, release = JobBoard(limit=2), threading.Event()
    a = board.start("a", "forecast a", _runner(release), size=900)
    assert board.start("a", "forecast a", _runner(release)) is a  # never twice
    board.start("b", "forecast b", _runner(release))
    with pytest.raises(BoardFull, match="forecast a, forecast b"):
        board.start("c", "forecast c", _runner(release))
    assert board.cancel("a")
    a.wait(5)
    assert a.status == "cancelled" and not board.cancel("a")
    board.start("c", "forecast c", _runner(release))  # room again
    release.set()
    board.wait_all(5)
    assert all(not j.running for _, j in board.jobs.items())


def test_progress_is_told_in_days():
    board, release = JobBoard(), threading.Event()
    job = board.start("k", "forecast x", _runner(release), size=800)
    deadline = time.time() + 5
    while job.step < 50 and time.time() < deadline:
        time.sleep(0.01)
    text = progress_text(job, 800)  # 1000 steps for 800 days: 200 warm-up days first
    assert "warming up" in text and "of 200" in text
    release.set()
    job.wait(5)


def test_cost_estimates_say_minutes_for_slow_models():
    assert cost_text(estimate_seconds("xgb-indicator", 3237)) == "about 5 min"
    assert cost_text(estimate_seconds("convlstm", 3237, pool=1)).endswith("h")
    assert cost_text(estimate_seconds("naive", 3237)) == "about 5 s"


# -- the pages ----------------------------------------------------------------------------
def test_threshold_page_draws_the_explorer(dashboard_env):
    at = goto(app(), PATHS["threshold"])
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    (fig,) = [s for s in specs if s.get("layout", {}).get("sliders")]
    steps = fig["layout"]["sliders"][0]["steps"]
    assert len(steps) == len(THRESHOLDS)
    assert any(t.get("type") == "heatmap" for t in fig["data"]), "the map is in the figure"


def test_forecast_map_is_one_image_with_play(dashboard_env):
    at = goto(app(), PATHS["map"])
    decks = [json.loads(d.proto.json) for d in at.get("deck_gl_json_chart")]
    (deck,) = decks
    (bitmap,) = [la for la in deck["layers"] if la["id"] == "forecast-cells-bitmap"]
    assert bitmap["image"].startswith("data:image/png;base64,")
    assert any("Drawn: every cell" in c.value for c in at.caption)
    day = at.session_state["forecast_day"]
    next(b for b in at.button if "Play" in b.label).click().run()
    assert not at.exception and at.session_state["map_playing"]
    assert (at.session_state["forecast_day"] - day).days == 1  # one frame on
    next(b for b in at.button if "Pause" in b.label).click().run()
    assert not at.session_state["map_playing"]
