"""Plot helpers, completeness, the forecast cache and the workspace, on hand-made data."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk
import pytest

from quake.data.completeness import (
    b_value_aki,
    estimate_completeness,
    frequency_magnitude,
    mc_max_curvature,
)
from quake.data.forecast_data import ForecastData
from quake.data.grid import Grid
from quake.errors import CatalogError, ModelError
from quake.metrics.curves import OperatingCurve
from quake.models import create
from quake.models.store import ModelCard, read_card, save_scores
from quake.progress import Progress
from quake.scoring.tables import (
    alarm_budget_table,
    best_model,
    default_curves,
    full_resolution_net,
    operating_row,
    scores_table,
    threshold_for_alarm_fraction,
)
from quake.service.folders import delete_model
from quake.service.forecast_cache import (
    cached_forecast,
    drop_cached,
    lookup,
    mark_hits,
    target_events,
)
from quake.service.jobs import TrainingJob
from quake.service.workspace import list_models
from quake.viz import (
    events_deck,
    fmd_figure,
    forecast_deck,
    legend_html,
    mainshocks_deck,
    misses_figure,
    model_colors,
    molchan_figure,
    monthly_classes,
    monthly_counts,
    monthly_figure,
    operating_points,
    pr_figure,
    roc_figure,
    select_cells,
    swatch_legend_html,
    training_figure,
)
from quake.viz.style import BASELINE_COLOR, fmt_count, fmt_prob, ramp_colors


# -- completeness -------------------------------------------------------------------------
def gr_sample(n: int, b: float, m_min: float, seed: int = 0) -> np.ndarray:
    """Gutenberg-Richter magnitudes above m_min, rounded to 0.1 like a catalog."""
    rng = np.random.default_rng(seed)
    # Continuous magnitudes above m_min - 0.05 round to bins from m_min upwards.
    return np.round(m_min - 0.05 + rng.exponential(1 / (b * np.log(10)), n), 1)


def test_b_value_recovers_the_true_value():
    mags = gr_sample(20000, b=1.0, m_min=3.0)
    b, err, n = b_value_aki(mags, 3.0)
    assert n == 20000
    assert abs(b - 1.0) < 3 * err + 0.02
    assert 0 < err < 0.02


def test_maximum_curvature_finds_the_mode_of_an_incomplete_catalog():
    complete = gr_sample(20000, b=1.0, m_min=2.0, seed=1)
    # Complete from M3; below it each 0.1 step down detects half as many events.
    rng = np.random.default_rng(2)
    keep = rng.random(len(complete)) < 0.5 ** np.clip((3.0 - complete) / 0.1, 0, None)
    mags = complete[keep]
    assert mc_max_curvature(mags) == pytest.approx(3.0, abs=0.15)
    est = estimate_completeness(mags, correction=0.2)
    assert est.mc == pytest.approx(est.mc_maxc + 0.2)
    assert abs(est.b_value - 1.0) < 0.1
    assert est.expected_count(est.mc) == pytest.approx(est.n_above)


def test_frequency_magnitude_counts_and_cumulative():
    centres, counts, cum = frequency_magnitude(np.array([4.0, 4.0, 4.1, 4.3, 4.45]))
    assert centres.tolist() == [4.0, 4.1, 4.2, 4.3, 4.4, 4.5]
    assert counts.tolist() == [2, 1, 0, 1, 0, 1]  # 4.45 bins to 4.5
    assert cum.tolist() == [5, 3, 2, 2, 1, 1]
    assert frequency_magnitude(np.array([]))[0].size == 0


def test_completeness_refuses_too_few_events():
    with pytest.raises(CatalogError, match="at least"):
        estimate_completeness(np.array([4.0, 4.1, 4.2]))
    with pytest.raises(CatalogError):
        mc_max_curvature(np.array([]))


# -- style ----------------------------------------------------------------------------------
def test_model_colors_never_run_out():
    kinds = ["ri", "xgb-rtl", "xgb-indicator", "cnn", "convlstm", "cnn-resid", "convlstm-resid"]
    names = [f"{k}-{v}" for k in kinds for v in ("paper", "quick", "seed1")]  # 21 at one Mc
    c = model_colors(names, [n.rsplit("-", 1)[0] for n in names], [5.0] * len(names))
    assert len(c) == 21 and len(set(c.values())) == 21  # past the palette: EXTRA_COLORS
    for k in kinds:  # the first of each kind (by name) has the kind's own colour
        assert c[f"{k}-paper"] not in {c[n] for n in names if not n.startswith(f"{k}-")}


def test_reference_models_never_share_a_colour_with_other_runs():
    """Stop 27's audit: with the 23 committed Mc 5 models, etas-m5, ri-m5, xgb-rtl-m5 and
    xgb-indicator-m5 all came out wine: earlier names (seeds, presets) had taken the
    colours of kinds sorted later."""
    from quake.models.store import read_cards
    from quake.settings import PROJECT_ROOT

    cards = [c for c in read_cards(PROJECT_ROOT / "models") if c.error is None]
    c = model_colors([x.name for x in cards], [x.kind for x in cards], [x.mc for x in cards])
    at5 = [x.name for x in cards if x.mc == 5.0 and x.kind != "naive"]
    assert len(at5) > 17  # more than the palette holds
    assert len({c[n] for n in at5}) == len(at5)


def test_model_colors_grey_baseline_one_colour_per_kind():
    c = model_colors(
        ["zeta", "naive-m5", "alpha", "zeta-m4.5"],
        ["cnn", "naive", "ri", "cnn"],
        [5.0, 5.0, 5.0, 4.5],
    )
    assert c["naive-m5"] == BASELINE_COLOR
    assert c["alpha"] != c["zeta"]
    assert c["zeta"] == c["zeta-m4.5"]  # same kind, another Mc: same colour
    again = model_colors(["alpha", "zeta"], ["ri", "cnn"], [5.0, 5.0])
    assert again == {"alpha": c["alpha"], "zeta": c["zeta"]}
    twins = model_colors(["a", "b"], ["cnn", "cnn"], [5.0, 5.0])
    assert twins["a"] != twins["b"]  # two runs of one kind at one Mc stay apart


def test_ramp_colors_log_scale_ends():
    rgba = ramp_colors(np.array([1e-6, 1e-4, 1e-2, 1.0]), 1e-4, 1e-2)
    assert rgba.shape == (4, 4) and rgba.dtype == np.uint8
    assert (rgba[0] == rgba[1]).all() and (rgba[2] == rgba[3]).all()  # clipped
    assert not (rgba[1] == rgba[2]).all()


def test_formatting_helpers():
    assert fmt_prob(0.0123) == "1.23 %"
    assert fmt_prob(3.4e-5) == "3.4e-05"
    assert fmt_prob(float("nan")) == "n/a"
    assert fmt_count(11_631_400) == "11.6 M"
    assert fmt_count(144_420) == "144,420"
    html = legend_html("P", 1e-4, 0.1, extra=[("#000", "ring", "missed")])
    assert "linear-gradient" in html and "missed" in html and "<script" not in html


# -- plotly ---------------------------------------------------------------------------------
def toy_curve(seed: int = 0, skill: float = 2.0) -> OperatingCurve:
    rng = np.random.default_rng(seed)
    y = rng.random(200_000) < 0.002
    logit = rng.normal(-7, 1.5, y.size) + skill * y
    return OperatingCurve.empty().update(y, 1 / (1 + np.exp(-logit)))


def test_curve_figures_have_curves_and_points():
    curves = {"good": toy_curve(0, 3.0), "naive": toy_curve(1, 0.5)}
    colors = model_colors(list(curves), ["cnn", "naive"])
    pts = operating_points(curves, {"good": 1e-3, "naive": 1e-3})
    for fn, key in ((roc_figure, "roc"), (pr_figure, "pr"), (molchan_figure, "molchan")):
        fig = fn(curves, colors, pts[key], presentation=True)
        assert isinstance(fig, go.Figure)
        names = [t.name for t in fig.data]
        assert "good" in names and "naive" in names
        markers = [t for t in fig.data if t.mode == "markers"]
        assert len(markers) == 2
        assert fig.layout.font.size == 20  # presentation mode
    roc = pts["roc"]["good"]
    c = curves["good"].counts_at(1e-3)
    assert roc[1] == pytest.approx(c["tp"] / curves["good"].n_positive)


def test_pr_base_rate_label_sits_on_its_line():
    # plotly places an annotation on a log axis at the log10 of its y, a shape at y itself
    curves = {"good": toy_curve(0, 3.0), "naive": toy_curve(1, 0.5)}
    fig = pr_figure(curves, {})
    (line,), (label,) = fig.layout.shapes, fig.layout.annotations
    rate = min(c.n_positive / c.n_pairs for c in curves.values())  # the lower base rate
    assert line.y0 == line.y1 == pytest.approx(rate)
    assert label.y == pytest.approx(math.log10(rate)) and label.text.startswith("base rate")
    lo, hi = fig.layout.yaxis.range
    assert lo < label.y < hi  # on the plot, near its line (not at its top)


def test_pr_figure_of_a_curve_without_targets():
    quiet = OperatingCurve.empty().update(np.zeros(5000, bool), np.full(5000, 1e-4))
    fig = pr_figure({"quiet": quiet}, {})  # no base-rate line: log10(0) has no place
    assert not fig.layout.shapes and not fig.layout.annotations


def test_curve_legend_rows_follow_its_columns():
    curves = {f"m{i}": toy_curve(i, 2.0) for i in range(6)}
    one, two = (roc_figure(curves, {}, legend_columns=k).layout for k in (1, 2))
    assert one.legend.yref == "container" and two.legend.yref == "container"  # below the plot
    assert two.height < one.height and two.margin.b < one.margin.b  # 3 rows of room, not 6


def test_catalog_figures(aftershock_catalog):
    mags = aftershock_catalog.events["magnitude"].to_numpy()
    est = estimate_completeness(mags, correction=0.0, min_events=10)
    fig = fmd_figure(*frequency_magnitude(mags), est, chosen_mc=3.2)
    assert fig.layout.yaxis.type == "log"
    assert len(fig.layout.shapes) == 2  # estimated and chosen Mc
    ev = aftershock_catalog.events
    counts = monthly_counts(ev["time"], ev["magnitude"], [3.0, 4.0])
    assert list(counts.columns) == ["M≥3", "M≥4"]
    assert counts["M≥3"].sum() == (mags >= 3.0).sum()
    assert counts.index.is_monotonic_increasing
    assert len(monthly_figure(counts).data) == 2


def test_training_and_misses_figures():
    hist = [{"step": i, "loss": 1.0 / (i + 1), "lr": 1e-3, "epoch": 1} for i in range(5)]
    hist.append({"step": 5, "val_pr_auc_all": 0.01})
    fig = training_figure(hist)
    assert {t.name for t in fig.data} == {"loss", "validation pr auc all"}
    assert len(training_figure([]).data) == 0
    table = alarm_budget_table({"a": toy_curve(0, 3.0), "b": toy_curve(1, 0.5)}, 0.01)
    fig = misses_figure(table, {"a": "#000"}, 0.01)
    assert list(fig.data[0].x) == ["a", "b"]


# -- pydeck ---------------------------------------------------------------------------------
def deck_json(deck: pdk.Deck) -> dict:
    return json.loads(deck.to_json())


def test_forecast_deck_is_offline_bounded_and_has_distinct_layer_ids():
    grid = Grid(lat0=35.0, lon0=139.0, cell_km=10.0, nx=40, ny=30)
    rng = np.random.default_rng(0)
    probs = (rng.random(grid.shape) ** 8 * 0.2).astype(np.float32)
    prior = np.full(grid.shape, 1e-3, dtype=np.float32)
    window = pd.DataFrame(
        {
            "time": pd.to_datetime(["2011-03-11", "2011-03-12"], utc=True),
            "latitude": [35.2, 35.5],
            "longitude": [139.2, 139.6],
            "magnitude": [5.5, 6.1],
            "cell": [0, 5],
            "p": [0.1, np.nan],
            "hit": [True, False],
        }
    )
    deck, sel = forecast_deck(grid, probs, prior, "probability", 0.15, window, top_k=100)
    doc = deck_json(deck)
    assert doc.get("mapProvider") in (None, "") or deck.map_provider is None
    ids = [layer["id"] for layer in doc["layers"]]
    types = [layer["@@type"] for layer in doc["layers"]]
    assert len(set(ids)) == len(ids)
    assert "PathLayer" in types and "PolygonLayer" in types and "ScatterplotLayer" in types
    cells = next(layer for layer in doc["layers"] if layer["id"] == "forecast-cells-polygon")
    assert len(cells["data"]) == len(sel.cells) == 100
    assert len(cells["data"][0]["polygon"]) == 4
    # Cells below the threshold are faded by an accessor on p (data encoded once).
    assert cells["getFillColor"] == "@@=[r, g, b, (p >= 0.15 ? 215 : 50)]"
    ps = [d["p"] for d in cells["data"]]
    assert min(ps) < 0.15 < max(ps)
    assert "\n" not in deck.to_json()  # compact JSON
    assert deck.to_json() == deck.to_json()  # encoding leaves the deck as it was
    tips = [d["tip"] for d in cells["data"]]
    assert all("prior" in t for t in tips)
    pix = next(layer for layer in doc["layers"] if layer["id"] == "target-events-scatter")
    assert pix["radiusUnits"] == "pixels"


def test_cell_selection_and_gain_colours():
    grid = Grid(nx=10, ny=10, cell_km=10.0, lat0=35, lon0=139)
    probs = np.full(grid.shape, 1e-3)
    probs[0, 0] = 1e-1  # 100x the prior
    probs[9, 9] = 1e-5  # 1/100 of it
    prior = np.full(grid.shape, 1e-3)
    sel = select_cells(probs, floor=1e-4, top_k=1)
    assert sel.cells.tolist() == [0] and sel.n_above_floor == 99
    assert len(select_cells(probs, floor=1e-6, top_k=1000).cells) == 100
    deck, _ = forecast_deck(grid, probs, prior, "gain", top_k=100, floor=1e-6)
    cells = next(x for x in deck_json(deck)["layers"] if x["id"] == "forecast-cells-polygon")
    by_p = {d["p"]: (d["r"], d["g"], d["b"]) for d in cells["data"]}
    assert by_p[0.1][0] > by_p[0.1][2]  # gain 100: red
    assert by_p[1e-05][2] > by_p[1e-05][0]  # gain 0.01: blue
    assert "100× prior" in next(d["tip"] for d in cells["data"] if d["p"] == 0.1)


def test_events_deck(aftershock_catalog):
    deck = events_deck(aftershock_catalog.events, max_points=50)
    doc = deck_json(deck)
    scatter = next(layer for layer in doc["layers"] if layer["@@type"] == "ScatterplotLayer")
    assert len(scatter["data"]) == 50
    mags = [float(d["tip"].split("<")[0][1:]) for d in scatter["data"]]
    assert min(mags) >= np.sort(aftershock_catalog.events["magnitude"].to_numpy())[-50] - 1e-9


def test_mainshocks_deck_and_monthly_classes(aftershock_catalog):
    ev = aftershock_catalog.events
    main = np.zeros(len(ev), dtype=bool)
    main[::3] = True
    doc = deck_json(mainshocks_deck(ev, main, max_points=40))
    scatter = next(la for la in doc["layers"] if la["id"] == "mainshock-events-scatter")
    assert len(scatter["data"]) == 40
    largest = ev.assign(m=main).nlargest(40, "magnitude")
    n_main = sum(d["tip"].endswith("mainshock") for d in scatter["data"])
    assert n_main == int(largest["m"].sum())
    assert {tuple(d["c"][:3]) for d in scatter["data"]} <= {(213, 94, 0), (86, 180, 233)}
    counts = monthly_classes(ev["time"], {"mainshocks": main, "clustered": ~main})
    assert list(counts.columns) == ["mainshocks", "clustered"]
    assert counts["mainshocks"].sum() == main.sum() and counts.to_numpy().sum() == len(ev)
    fig = monthly_figure(counts, title="Mainshocks per month", colors=["#D55E00", "#56B4E9"])
    assert fig.layout.title.text == "Mainshocks per month"
    assert [t.line.color for t in fig.data] == ["#D55E00", "#56B4E9"]
    legend = swatch_legend_html("<b>x</b>", [("#D55E00", "dot", "main<shock>")])
    assert "<b>x" not in legend and "main&lt;shock&gt;" in legend


# -- forecast cache, hits -------------------------------------------------------------------
@pytest.fixture
def tiny_data(aftershock_catalog, tiny_protocol) -> ForecastData:
    return ForecastData.build(aftershock_catalog, 4.0, tiny_protocol)


def test_forecast_cache_round_trip(tiny_data, tmp_path):
    model = create("naive").fit(tiny_data, final=True)
    folder = model.save(tmp_path / "models" / "naive")
    root = tmp_path / "cache"
    assert lookup(folder, tiny_data, "test", root) is None
    calls = []
    got = cached_forecast(
        model,
        folder,
        tiny_data,
        "test",
        root,
        on_progress=lambda p: calls.append((p.step, p.total)),
        chunk=16,
    )
    start, stop = tiny_data.days("test")
    assert calls[-1] == (stop - start, stop - start)
    again = lookup(folder, tiny_data, "test", root)
    assert again is not None and again.path == got.path
    day = got.day(start + 3)
    assert day.dtype == np.float32 and day.shape == tiny_data.grid.shape
    np.testing.assert_allclose(day, model.prior, rtol=2e-3)
    with pytest.raises(ValueError):
        got.day(stop)
    # A retrained model (new model.json) gets new forecasts; the old ones are removed.
    model.meta["note"] = "retrained"
    model.save(folder)
    assert lookup(folder, tiny_data, "test", root) is None
    fresh = cached_forecast(model, folder, tiny_data, "test", root, chunk=16)
    assert fresh.path != got.path and not got.path.exists()
    assert len(list(root.glob("*.qfc"))) == 1
    assert drop_cached(folder, root) == 2  # the .qfc and its sidecar
    assert not list(root.glob(".*.tmp*"))


def test_drop_cached_removes_files(tiny_data, tmp_path):
    model = create("naive").fit(tiny_data, final=True)
    folder = model.save(tmp_path / "m")
    cached_forecast(model, folder, tiny_data, "test", tmp_path / "c")
    assert drop_cached(folder, tmp_path / "c") == 2
    assert not list((tmp_path / "c").glob("*.qfc"))


def test_target_events_window_and_hits(aftershock_catalog, tiny_data):
    t = tiny_data.days("test")[0] + 5
    win = target_events(aftershock_catalog.events, tiny_data, t)
    epoch = pd.Timestamp(tiny_data.protocol.epoch, tz="UTC")
    assert (win["time"] >= epoch + pd.Timedelta(days=t + 10)).all()
    assert (win["time"] < epoch + pd.Timedelta(days=t + 50)).all()
    assert (win["magnitude"] >= 4.0).all()
    probs = np.zeros(tiny_data.grid.shape, dtype=np.float32)
    inside = win["cell"].to_numpy()
    inside = inside[inside >= 0]
    if len(inside):
        probs.ravel()[inside[0]] = 0.5
    marked = mark_hits(win, probs, 0.1)
    assert marked["hit"].sum() == (win["cell"] == (inside[0] if len(inside) else -2)).sum()


# -- workspace ------------------------------------------------------------------------------
def save_naive(data: ForecastData, folder, curve: OperatingCurve | None = None):
    model = create("naive").fit(data, final=True)
    model.save(folder)
    if curve is not None:
        save_scores(
            folder, {"test": {"all": {"roc_auc": 0.7, "pr_auc": 0.01}}}, {"test": {"all": curve}}
        )
    return folder


def test_list_models_cards_table_and_delete(tiny_data, tmp_path):
    root = tmp_path / "models"
    save_naive(tiny_data, root / "a", toy_curve())
    save_naive(tiny_data, root / "b")
    (root / "broken").mkdir()
    (root / "broken" / "model.json").write_text("{not json")
    (root / "empty").mkdir()
    cards = list_models(root)
    assert [c.name for c in cards] == ["a", "b", "broken"]
    assert cards[2].error and "cannot read" in cards[2].error
    assert cards[0].kind == "naive" and cards[0].mc == 4.0 and cards[0].has_curves
    assert cards[0].score("roc_auc") == 0.7 and cards[1].score("roc_auc") is None
    table = scores_table(cards)
    assert list(table["model"]) == ["a", "b"]
    assert table.loc[0, "ROC AUC (all)"] == 0.7 and math.isnan(table.loc[1, "ROC AUC (all)"])
    assert best_model(cards, mc=4.0).name == "a"
    with pytest.raises(ModelError):
        delete_model(root / "empty", root)
    with pytest.raises(ModelError):
        delete_model(tmp_path, root)
    delete_model(root / "b", root)
    assert [c.name for c in list_models(root)] == ["a", "broken"]
    assert read_card(root / "nope").error


def test_alarm_budget_threshold_reaches_the_fraction():
    curve = toy_curve(3, 2.0)
    for frac in (0.001, 0.01, 0.1):
        thr = threshold_for_alarm_fraction(curve, frac)
        row = operating_row(curve, thr)
        assert row["alarm_fraction"] >= frac
        # One bin higher alarms less than the budget.
        k = np.searchsorted(curve.edges, thr)
        higher = operating_row(curve, float(curve.edges[k + 1]))
        assert higher["alarm_fraction"] < frac
    with pytest.raises(ValueError):
        threshold_for_alarm_fraction(curve, 0.0)


# -- training jobs --------------------------------------------------------------------------
def test_training_job_runs_reports_and_cancels(tmp_path):
    import threading

    from quake.service.folders import claim

    release = threading.Event()
    held = claim("done", tmp_path)

    def runner(on_progress, should_stop):
        for i in range(100):
            on_progress(Progress("train", i + 1, 100, {"loss": 1.0 / (i + 1)}))
            if i == 2:
                release.wait(5)
            if should_stop():
                return None
        (held.tmp / "model.json").write_text("{}")
        return None

    job = TrainingJob("done", held, runner).start()
    release.set()
    job.wait(10)
    assert job.status == "done" and job.history[0] == {"step": 1, "loss": 1.0}
    assert (tmp_path / "done" / "model.json").is_file() and job.folder == tmp_path / "done"

    gate = threading.Event()
    partial = claim("partial", tmp_path)

    def slow(on_progress, should_stop):
        (partial.tmp / "model.json").write_text("{}")
        for i in range(1000):
            gate.wait(5)
            on_progress(Progress("train", i, 1000, {"loss": 1.0}))

    job = TrainingJob("partial", partial, slow).start()
    job.cancel()
    gate.set()
    job.wait(10)
    assert job.status == "cancelled" and not (tmp_path / "partial").exists()
    assert not partial.tmp.exists()

    def broken(on_progress, should_stop):
        raise ValueError("no data")

    job = TrainingJob("z", claim("z", tmp_path), broken).start().wait(10)
    assert job.status == "failed" and "no data" in job.error
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["done"]


def test_map_default_passes_over_full_resolution_nets(tmp_path):
    def card(name, kind, pr, pool=None):
        args = {} if pool is None else {"pool": pool}
        scores = {"test": {"all": {"pr_auc": pr}}}
        return ModelCard(name, tmp_path / name, kind=kind, mc=5.0, model_args=args, scores=scores)

    cards = [
        card("naive", "naive", 0.001),
        card("xgb", "xgb-rtl", 0.004),
        card("net-paper", "convlstm", 0.008, pool=1),
        card("net-quick", "convlstm-resid", 0.003, pool=4),
    ]
    assert full_resolution_net(cards[2]) and not full_resolution_net(cards[3])
    assert not full_resolution_net(cards[1])
    assert best_model(cards).name == "net-paper"
    assert best_model(cards, prefer_fast=True).name == "xgb"
    assert best_model(cards[2:3], prefer_fast=True).name == "net-paper"  # nothing else
    # another seed of net-quick scored higher on test: still net-quick's sweep, not a default
    lucky = card("net-quick-s2", "convlstm-resid", 0.005, pool=4)
    assert best_model([*cards, lucky], prefer_fast=True).name == "xgb"

    # an ensemble with a full-resolution member is as slow as that member
    def ens(name, members, pr):
        c = card(name, "ensemble", pr)
        c.model_args["members"] = members
        return c

    slow = ens("ens-paper", ["net-paper", "xgb"], 0.009)
    fast = ens("ens-fast", ["xgb", "net-quick"], 0.0085)
    assert full_resolution_net(slow, [*cards, slow])
    assert not full_resolution_net(fast, [*cards, fast])
    assert full_resolution_net(ens("ens-x", ["gone"], 0.01), cards)  # an unknown member
    nested = ens("ens-nested", ["xgb", "ens-paper"], 0.0095)  # its paper net one level down
    assert full_resolution_net(nested, [*cards, slow, nested])
    assert not full_resolution_net(ens("ens-nf", ["ens-fast"], 0.0), [*cards, fast])
    loop = ens("ens-loop", ["xgb", "ens-loop"], 0.0)  # a hostile model.json: no recursion error
    assert full_resolution_net(loop, [*cards, loop])
    assert best_model([*cards, slow, fast]).name == "ens-paper"
    assert best_model([*cards, slow, fast], prefer_fast=True).name == "ens-fast"


def test_recurrent_forecast_progress_counts_the_warm_up(tiny_data, tmp_path):
    from quake.models.neural import build

    model = build("convlstm-resid", "quick", {"pool": 2, "embed": 2, "hidden": 2, "head": 2})
    model.set_base(tiny_data, final=True)
    model.bind(tiny_data)
    folder = model.save(tmp_path / "net")
    calls: list[tuple[int, int]] = []
    cached_forecast(
        model,
        folder,
        tiny_data,
        "test",
        tmp_path / "c",
        on_progress=lambda p: calls.append((p.step, p.total)),
        chunk=16,
    )
    start, stop = tiny_data.days("test")
    total = start + (stop - start)  # every day from day 0 is run through
    assert calls[0][1] == total and calls[-1] == (total, total)
    assert calls[0][0] <= 256 and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_eta_text():
    from quake.service.jobs import eta_text

    assert eta_text(100.0, 0.01) == ""  # too early to say
    assert eta_text(60.0, 0.5) == ", about 60 s left"
    assert eta_text(600.0, 0.25) == ", about 30 min left"


def test_default_curves_keep_the_baseline_and_the_best():
    curves = {f"m{i}": toy_curve(3, 0.3 * i) for i in range(8)}
    curves["naive-m5"] = toy_curve(3, 0.0)
    pr = {n: c.pr_auc() for n, c in curves.items()}
    got = default_curves(curves, best=3)
    best3 = sorted((n for n in pr if n != "naive-m5"), key=lambda n: -pr[n])[:3]
    assert set(got) == {"naive-m5", *best3} and len(got) == 4
    assert got == [n for n in curves if n in got]  # the given order


HOSTILE_NAME = '<b>BIG</b><a href="http://e">x</a> %{y} \u202egnp.exe'


def test_names_reach_plotly_as_text_never_markup() -> None:
    # Plotly renders <b>, <span style> and <a href> in legends, tick labels, titles and
    # hovers; a model's name must show as its characters (stop 24's audit: a folder named
    # with markup drew 60 px red text and a working link on Compare and the map).
    from quake.metrics.csep import reliability
    from quake.viz.compare_charts import (
        gain_matrix_figure,
        gain_time_figure,
        intervals_figure,
        reliability_figure,
    )
    from quake.viz.curve_charts import molchan_figure, pr_figure, roc_figure

    curve = toy_curve()
    one = {HOSTILE_NAME: curve}
    figs = [
        roc_figure(one, {}, points={HOSTILE_NAME: (0.1, 0.5)}),
        pr_figure(one, {}),
        molchan_figure(one, {}),
        intervals_figure(
            [{"model": HOSTILE_NAME, "value": 0.9, "lower": 0.8, "upper": 0.95}], {}, "ROC AUC"
        ),
        gain_matrix_figure(
            {
                "names": [HOSTILE_NAME, "naive"],
                **{k: [[0.0, 0.1], [-0.1, 0.0]] for k in ("gain", "lower", "upper")},
                **{k: [[1.0, 0.01], [0.01, 1.0]] for k in ("p_t", "p_w")},
                "significant": [[False, True], [True, False]],
            }
        ),
        gain_time_figure(["2011-01-01"], [0.1], [3], HOSTILE_NAME),
        reliability_figure({HOSTILE_NAME: reliability(curve)}, {}),
    ]
    for fig in figs:
        strings = list(_strings(json.loads(fig.to_json())))
        for s in strings:
            assert "<b>BIG" not in s and "<a href" not in s and "</a> %{y}" not in s, s
            assert "\u202e" not in s, s
        assert any("&lt;b&gt;BIG&lt;/b&gt;" in s and "\\u202egnp.exe" in s for s in strings)


def _strings(obj):
    """Every string inside a JSON value."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def test_read_only_messages_name_the_server_folders_instead_of_showing_them(
    tmp_path, monkeypatch
) -> None:
    """Stop 27's audit: a model that failed to load showed the models folder's absolute
    path to every visitor of a read-only server."""
    from quake.viz.text import plain

    models = tmp_path / "srv" / "models"
    monkeypatch.setenv("QUAKE_MODELS_DIR", str(models))
    err = ModelError(f"{models}/st/prior.safetensors: not a valid safetensors file; {models}")
    monkeypatch.setenv("QUAKE_READONLY", "1")
    shown = plain(err, 400)
    assert "srv" not in shown and "models/st/prior" in shown, shown  # plain escapes "-", "_"
    assert "srv" not in plain(f"missing (no model.json in {models}/nope)")
    monkeypatch.setenv("QUAKE_READONLY", "0")  # the owner, serving themselves, sees all
    assert "srv/models/st/prior" in plain(err, 400)


def test_downloaded_figures_carry_a_title_and_the_window_axis_says_forecast_day():
    """Stop 27's audit: downloaded HTML figures had an empty page title, and the gain per
    window was labelled by the window's start although it is placed at the forecast day."""
    import plotly.graph_objects as go

    from quake.viz import compare_charts

    page = compare_charts.figure_html(go.Figure(), "quake_roc_m5.0_<all>").decode()
    assert "<title>quake_roc_m5.0_&lt;all&gt;</title>" in page
    fig = compare_charts.gain_time_figure(
        ["2011-01-01", "2011-02-10"], [0.1, -0.2], [3, 4], "etas-m5", title="t"
    )
    assert fig.layout.xaxis.title.text.startswith("forecast day T")
