"""Live in the browser (issue #13): the map as one image, the threshold explorer whose slider
runs in the browser, Play on the Forecast map, and background work under control."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
import zlib

import numpy as np
import pandas as pd
import plotly.graph_objects as go
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
from quake.viz.day_player import (
    PanelDay,
    PlayerFrame,
    day_player,
    narrow_height,
    quake_points,
)
from quake.viz.maps import PROB_RANGE
from quake.viz.raster import (
    COLOUR_LEVELS,
    forecast_rgba,
    grid_image,
    png_bytes,
    png_indexed,
    png_palette,
)
from quake.viz.style import RDBU, YLORRD, ramp_colors
from quake.viz.threshold_explorer import (
    MapInput,
    fade_colorscale,
    mark_scale,
    threshold_explorer,
    wrap,
)
from tests.helpers import app, goto, player_spec

SMALL = Grid(lat0=34.0, lon0=-118.0, cell_km=10.0, nx=12, ny=10)


# -- the map as one image -----------------------------------------------------------------
def test_png_decodes_to_the_same_pixels():
    from PIL import Image

    rgba = np.random.default_rng(0).integers(0, 256, (7, 5, 4), dtype=np.uint8)
    img = Image.open(io.BytesIO(png_bytes(rgba)))
    assert img.size == (5, 7) and img.mode == "RGBA"
    assert np.array_equal(np.asarray(img), rgba)


def test_an_indexed_png_decodes_to_the_same_pixels_and_is_smaller():
    from PIL import Image

    rng = np.random.default_rng(0)
    palette = rng.integers(0, 256, (40, 4), dtype=np.uint8)
    rgba = palette[rng.integers(0, 40, (30, 20))]
    small = png_indexed(rgba, level=1)
    img = Image.open(io.BytesIO(small))
    assert img.mode == "P" and np.array_equal(np.asarray(img.convert("RGBA")), rgba)
    assert len(small) < len(png_bytes(rgba))
    many = rng.integers(0, 256, (30, 20, 4), dtype=np.uint8)  # > 256 colours: plain RGBA
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png_indexed(many)))), many)


def test_the_cell_image_is_north_up_one_block_per_cell():
    from PIL import Image

    rgba = np.zeros((SMALL.n_cells, 4), np.uint8)
    rgba[0] = (255, 0, 0, 255)  # cell (iy 0, ix 0): the south-west corner
    rgba[SMALL.n_cells - 1] = (0, 0, 255, 255)  # the north-east corner
    url = grid_image(SMALL, rgba, scale=2)
    img = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))
    assert img.shape == (2 * SMALL.ny, 2 * SMALL.nx, 4)
    assert tuple(img[-1, 0]) == (255, 0, 0, 255) and tuple(img[-2, 1]) == (255, 0, 0, 255)
    assert tuple(img[0, -1]) == (0, 0, 255, 255)
    assert img[..., 3].sum() == 2 * 4 * 255


def test_quakes_split_into_hit_and_missed_at_the_threshold():
    lat, lon = SMALL.cell_centers()
    window = pd.DataFrame(
        {
            "time": pd.to_datetime(["2011-03-11", "2011-03-12", "2011-03-13"], utc=True),
            "latitude": [lat[1, 1], lat[2, 3], 10.0],
            "longitude": [lon[1, 1], lon[2, 3], 10.0],
            "magnitude": [7.0, 5.5, 6.0],
            "cell": [1 * SMALL.nx + 1, 2 * SMALL.nx + 3, -1],
        }
    )
    probs = np.zeros((SMALL.ny, SMALL.nx))
    probs[1, 1], probs[2, 3] = 0.2, 1e-5
    hit, missed = quake_points(SMALL, window, probs, 1e-3)
    assert len(hit[0]) == 1 and len(missed[0]) == 1  # the quake outside the grid: neither
    assert "M7.0 2011-03-11" in hit[2][0] and "M5.5" in missed[2][0]
    x, y = SMALL.project(np.array([lat[1, 1]]), np.array([lon[1, 1]]))
    assert hit[0][0] == pytest.approx(x[0], abs=0.1) and hit[1][0] == pytest.approx(y[0], abs=0.1)


def test_the_player_holds_every_day_and_plays_in_the_browser():
    img = grid_image(SMALL, np.zeros((SMALL.n_cells, 4), np.uint8))
    day = PanelDay(img, ([1.0], [2.0], ["a"]), ([], [], []), 3)
    frames = [PlayerFrame(f"2011-03-{d:02d}", f"day {d}", (day, day)) for d in range(1, 6)]
    d = day_player(SMALL, ["a", "b"], frames, [[(140.0, 36.0), (140.5, 36.5)]], start=2)
    json.dumps(d)  # plain data
    assert go.Figure(d).layout.sliders[0].active == 2  # a valid plotly figure
    assert len(d["frames"]) == 5 and d["layout"]["sliders"][0]["active"] == 2
    assert d["layout"]["title"]["text"] == "day 3"
    assert len(d["layout"]["images"]) == 2 and d["layout"]["images"][1]["xref"] == "x2"
    assert all(len(f["data"]) == 4 for f in d["frames"])  # hit and missed of both maps
    play = d["layout"]["updatemenus"][0]["buttons"][0]
    assert play["args"][1]["frame"]["duration"] <= 250
    with pytest.raises(ValueError):
        day_player(SMALL, ["a"], frames, [])  # two panels per frame, one name
    with pytest.raises(ValueError):
        day_player(SMALL, ["a"], [], [])


def test_rgba_fades_below_the_threshold_and_clears_below_the_floor():
    p = np.array([[1e-7, 1e-5, 1e-3, 0.2]])
    rgba = forecast_rgba(p, None, "probability", 1e-3, PROB_RANGE, (0.01, 100), PROB_RANGE[0])
    assert rgba[:, 3].tolist() == [0, 50, 215, 215]


@pytest.mark.parametrize("mode", ["probability", "gain"])
def test_a_forecast_map_is_a_palette_png_of_its_colours(mode):
    """The map's colours come in COLOUR_LEVELS steps (a palette PNG, rows "Up"-filtered where
    that is smaller) that are within a step of the continuous ramp."""
    from PIL import Image

    grid = Grid(lat0=30.0, lon0=130.0, cell_km=10.0, nx=80, ny=60)
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0 : grid.ny, 0 : grid.nx]
    p = 10.0 ** (-5.9 + 5.5 * np.exp(-((xx - 40.0) ** 2 + (yy - 25.0) ** 2) / 900.0))
    p = (p * rng.uniform(0.8, 1.2, p.shape)).ravel()
    prior = np.full(p.shape, 1e-4)
    rgba = forecast_rgba(p, prior, mode, 1e-3, PROB_RANGE, (0.01, 100), PROB_RANGE[0])
    assert len(np.unique(rgba.view(np.uint32))) <= 2 * COLOUR_LEVELS + 1
    assert (rgba[rgba[:, 3] == 0] == 0).all()  # one clear colour
    url = grid_image(grid, rgba)
    png = base64.b64decode(url.split(",", 1)[1])
    img = Image.open(io.BytesIO(png))
    assert img.mode == "P"
    north_up = rgba.reshape(grid.ny, grid.nx, 4)[::-1]
    assert np.array_equal(np.asarray(img.convert("RGBA")), north_up)
    ramp, span = (YLORRD, PROB_RANGE) if mode == "probability" else (RDBU, (0.01, 100))
    smooth = ramp_colors(p if mode == "probability" else p / prior, *span, ramp=ramp)
    drawn = rgba[:, 3] > 0
    gap = np.abs(rgba[drawn, :3].astype(int) - smooth[drawn, :3].astype(int)).max()
    stops = np.asarray(ramp, dtype=float)
    half_step = np.abs(np.diff(stops, axis=0)).max() * (len(stops) - 1) / (COLOUR_LEVELS - 1) / 2
    assert gap <= half_step + 1  # at most half a colour step off the continuous ramp
    smooth[:, 3] = rgba[:, 3]
    continuous = png_bytes(smooth.reshape(grid.ny, grid.nx, 4)[::-1], level=6)
    assert drawn.mean() > 0.9 and len(png) < len(continuous) / 2


def _row_filters(png: bytes, width: int) -> set[int]:
    """The filter types of an 8-bit indexed PNG's rows."""
    at, idat = 8, b""
    while at < len(png):
        n = int.from_bytes(png[at : at + 4], "big")
        if png[at + 4 : at + 8] == b"IDAT":
            idat += png[at + 8 : at + 8 + n]
        at += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(-1, 1 + width)
    return set(raw[:, 0].tolist())


def test_the_up_filter_decodes_and_is_kept_only_where_smaller():
    from PIL import Image

    rng = np.random.default_rng(0)  # a smooth field, each row a little off the one above
    smooth = np.arange(200)[None, :] // 2 + rng.integers(0, 2, (50, 200)).cumsum(axis=0) // 4
    noise = rng.integers(0, 256, (50, 200))
    palette = np.zeros((256, 4), np.uint8)
    palette[:, 0] = np.arange(256)
    palette[:, 3] = 255
    for index, filters in ((smooth, {2}), (noise, {0})):
        index = index.astype(np.uint8)
        png = png_palette(index, palette)
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), index)
        assert _row_filters(png, 200) == filters


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
    assert {s.method for s in slider.steps} == {"relayout"}  # layout only: no trace recomputed
    steps = {s.label: s.args[0] for s in slider.steps}
    low, high = steps["1.0e-4"], steps["0.01"]
    # counts from the operating curve, in the annotation the step rewrites
    for t, step in ((1e-4, low), (0.01, high)):
        k = curve.counts_at(t)
        text = step["title.text"]
        assert f"hits (TP) <b>{k['tp']:,}</b>" in text and f"(FN) <b>{k['fn']:,}</b>" in text
    # quakes: both in-grid ones hit at 1e-4, one at 0.01; the outside one is never drawn
    assert "2 quakes hit, 0 missed" in str(low) and "1 quakes hit, 1 missed" in str(high)
    assert not fig.layout.shapes and len(fig.layout.annotations) == 4  # the subplot titles

    def pixels(step: dict, k: int) -> np.ndarray:
        from PIL import Image

        raw = base64.b64decode(step[f"images[{k}].source"].split(",", 1)[1])
        return np.asarray(Image.open(io.BytesIO(raw)).convert("RGBA"), dtype=int)

    # the map: the cells in full colour, a white veil per threshold over those below it:
    # the cell of p 0.05 clear at both 1e-4 and 0.01, the cells of p 1e-4 veiled at 0.01
    a, b = pixels(low, 1), pixels(high, 1)
    row = SMALL.ny - 1 - 2  # north up
    assert a[row, 3, 3] == 0 and b[row, 3, 3] == 0
    assert a[0, 0, 3] == 0 and tuple(b[0, 0]) == (255, 255, 255, round(255 * 0.72))
    # the quake marks: the quake of cell (7, 7) blue (hit) at 1e-4, not at 0.01
    s = mark_scale(SMALL)
    y, x = (SMALL.ny - 7 - 0.5) * s, (7 + 0.5) * s
    ma, mb = pixels(low, 2), pixels(high, 2)
    assert tuple(ma[int(y), int(x)]) == (0, 114, 178, 255)
    assert tuple(mb[int(y), int(x)])[:3] != (0, 114, 178)
    assert ma[..., 3].any() and (ma[..., 3] > 0).sum() < ma[..., 3].size / 4
    # the operating points (images 2-4) move with the step, in paper coordinates
    assert 0 < high["images[3].x"] < low["images[3].x"] < 1  # fewer false alarms at 0.01
    json.dumps(fig.to_plotly_json(), default=str)  # serialisable


def test_the_narrow_explorer_is_one_column_with_the_same_steps():
    """A phone's layout (`narrow`): counts on top, then the map, its colour bar, legend and
    slider, then ROC, PR and Molchan one under another, each the whole width; the steps
    change the same things as the wide figure's (only the operating points' places differ)."""
    curve = _curve()
    probs = np.full(SMALL.shape, 1e-4)
    empty = pd.DataFrame({c: np.zeros(0) for c in ("latitude", "longitude", "magnitude")})
    empty["cell"] = np.zeros(0, dtype=np.int64)
    title = "forecast of a day: P(M≥5 in days T+10 … T+49)"
    mapped = MapInput(SMALL, probs, empty, [], title)
    wide = threshold_explorer(curve, THRESHOLDS, 40, "m", "#0072B2", mapped)
    narrow = threshold_explorer(curve, THRESHOLDS, 40, "m", "#0072B2", mapped, narrow=True)
    lay = narrow.layout
    assert [tuple(lay[f"xaxis{k}"].domain) for k in ("", 2, 3, 4)] == [(0, 1)] * 4
    tops = [lay[f"yaxis{k}"].domain for k in ("", 2, 3, 4)]
    assert all(a[0] > b[1] for a, b in zip(tops[:-1], tops[1:], strict=True)), (
        tops
    )  # stacked, no overlap
    (slider,) = lay.sliders
    assert tops[1][1] < slider.y < tops[0][0]  # between the map and the ROC panel
    assert lay.title.yref == "container" and lay.margin.t >= 9 * 14  # the counts on top
    for note, dom in zip(lay.annotations, tops, strict=True):  # each title over its panel
        assert note.y == dom[1]
    assert "<br>" in lay.annotations[0].text  # the map's title wrapped
    assert max(len(x) for x in lay.annotations[0].text.split("<br>")) <= 36
    w, n = (
        [
            {k for k in s.args[0] if not re.fullmatch(r"images\[[3-5]\]\.[xy]", k)}
            for s in f.layout.sliders[0].steps
        ]
        for f in (wide, narrow)
    )
    assert w == n
    assert [s.args[0]["title.text"] for s in wide.layout.sliders[0].steps] == [
        s.args[0]["title.text"] for s in slider.steps
    ]
    # the wide figure: two rows, three columns, as before
    assert wide.layout.xaxis2.domain[0] > 0.3 and wide.layout.title.yref == "paper"


def test_the_projector_explorer_puts_the_y_titles_over_its_panels():
    """Presentation mode at a laptop's 1280 px (sidebar open, ~820 px of page): the ROC's
    y title lay on the map's edge and Molchan's six decade labels turned sideways. With a
    projector's font the y titles join the panel titles, Molchan labels every other decade
    upright, and the two rows of curves stand further apart; the normal font keeps the y
    titles beside the axes."""
    curve = _curve()
    normal = threshold_explorer(curve, THRESHOLDS, 40, "m", "#0072B2").layout
    big = threshold_explorer(curve, THRESHOLDS, 40, "m", "#0072B2", presentation=True).layout
    assert normal.yaxis2.title.text == "true-positive rate"
    assert big.yaxis2.title.text is None and big.yaxis4.title.text is None
    titles = [a.text for a in big.annotations]
    assert "true-positive rate (ROC)" in titles and "miss rate ν (Molchan diagram)" in titles
    for lay in (normal, big):
        assert lay.xaxis4.tickangle == 0 and lay.xaxis4.dtick == 2
        assert lay.xaxis4.exponentformat == lay.yaxis3.exponentformat == "power"
    gap = big.yaxis2.domain[0] - big.yaxis4.domain[1]
    assert gap > normal.yaxis2.domain[0] - normal.yaxis4.domain[1]


def test_the_narrow_day_player_stacks_its_maps_and_widens_its_slider():
    """On a phone the player's maps go one under another and its slider takes the whole
    width under the Play buttons (beside them it had ~150 px); its title's lines get room."""
    img = grid_image(SMALL, np.zeros((SMALL.n_cells, 4), np.uint8))
    day = PanelDay(img, ([], [], []), ([], [], []), 0)
    title = "Forecast made on <b>2011-03-01</b><br>for …<br>a: 0 hit<br>b: 0 hit"
    frames = [PlayerFrame(f"2011-03-0{d}", title, (day, day)) for d in (1, 2)]
    two = [PlayerFrame(f.label, "Forecast …<br>a: 0 hit · b: 0 hit", f.panels) for f in frames]
    wide = day_player(SMALL, ["a", "b"], two, [])["layout"]
    narrow = day_player(SMALL, ["a", "b"], frames, [], height=1200, narrow=True)["layout"]
    assert narrow["xaxis"]["domain"] == narrow["xaxis2"]["domain"] == [0.0, 1.0]
    assert narrow["yaxis2"]["domain"][1] < narrow["yaxis"]["domain"][0]  # b under a
    assert wide["yaxis"]["domain"] == wide["yaxis2"]["domain"]  # side by side
    (slider,) = narrow["sliders"]
    assert slider["x"] < 0.05 and slider["len"] > 0.9
    assert slider["pad"]["t"] > narrow["updatemenus"][0]["pad"]["t"] + 30  # under the buttons
    assert narrow["margin"]["t"] > wide["margin"]["t"]  # four title lines, not two
    assert narrow_height(2, lines=4) > narrow_height(1, lines=3) > 480
    # one day: no buttons or slider, and no room left for them under the maps
    one = day_player(SMALL, ["a", "b"], frames[:1], [], height=1200, narrow=True)["layout"]
    assert not one.get("sliders") and one["margin"]["b"] < 40
    assert narrow_height(2, lines=4, controls=False) < narrow_height(2, lines=4) - 100


def test_wrap_breaks_at_spaces_within_the_width():
    text = "forecast of 2011-03-01: P(M≥5.0 in days T+10 … T+49)"
    for width in (10, 20, 36, 80):
        lines = wrap(text, width).split("<br>")
        assert " ".join(lines) == text
        assert all(len(x) <= width for x in lines if " " in x)
    assert wrap("a-very-long-word here", 5) == "a-very-long-word<br>here"


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
    image = fig["layout"]["images"][0]  # the map, one image per threshold in the steps
    assert image["source"].startswith("data:image/png;base64,")
    assert all("images[1].source" in s["args"][0] for s in steps)  # its veil per threshold


def test_forecast_map_is_a_day_player_with_play(dashboard_env):
    at = goto(app(), PATHS["map"])
    fig = player_spec(at)
    frames = fig["frames"]
    assert len(frames) > 1
    sources = {f["layout"]["images"][0]["source"] for f in frames}
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    (menu,) = fig["layout"]["updatemenus"]
    play, pause = menu["buttons"]
    assert "Play" in play["label"] and play["method"] == "animate" and play["args"][0] is None
    assert play["args"][1]["frame"]["duration"] <= 250  # at least four days a second
    assert "Pause" in pause["label"]
    steps = fig["layout"]["sliders"][0]["steps"]
    assert [s["args"][0] for s in steps] == [[f["name"]] for f in frames]
    assert not any(b.label.endswith("Play") for b in at.button)  # no rerun per frame


def test_the_figures_ask_up_front_for_the_margins_plotly_gives_them():
    """Margins at least as large as plotly's automatic margins measured in the dashboard
    (Chromium, Streamlit's font, font size 14): then plotly draws each figure once, not
    twice (docs/BROWSER.md, stop 21)."""
    fig = threshold_explorer(_curve(), THRESHOLDS, 40, "m", "#0072B2")
    m = fig.layout.margin
    assert m.l >= 21 and m.r >= 15 and m.b >= 176
    # one column on a phone (Chromium, 390 px): l 50 (the PR axis's ticks), b 69
    m = threshold_explorer(_curve(), THRESHOLDS, 40, "m", "#0072B2", narrow=True).layout.margin
    assert m.l >= 50 and m.r >= 15 and m.b >= 69
    img = grid_image(SMALL, np.zeros((SMALL.n_cells, 4), np.uint8))
    day = PanelDay(img, ([], [], []), ([], [], []), 0)
    frames = [PlayerFrame(f"2011-03-0{d}", "t", (day,)) for d in (1, 2)]
    assert day_player(SMALL, ["a"], frames, [])["layout"]["margin"]["b"] >= 112


def test_the_charts_ask_up_front_for_the_margins_plotly_gives_them():
    """The same for the curve charts: plotly's automatic margins in the dashboard at font
    14 were l 79 (ROC), 90 (precision-recall, log axis), r 14, and the legend's room +
    33 px below (docs/BROWSER.md, stop 21)."""
    from quake.viz import pr_figure, roc_figure

    curves = {f"m{k}": _curve() for k in range(6)}
    colors = {n: "#0072B2" for n in curves}
    roc, pr = roc_figure(curves, colors).layout.margin, pr_figure(curves, colors).layout.margin
    assert roc.l >= 79 and pr.l >= 90 and min(roc.r, pr.r) >= 14
    assert min(roc.b, pr.b) >= 223  # six legend rows below: 190 px, + 33
