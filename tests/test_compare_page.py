"""The Compare page's intervals, CSEP tests and calibration (issue 12) and Table II's mainshock
columns (issue 11), under AppTest with saved models and their stored scoring summaries;
plus the plain-data views behind the figures (`quake.scoring.compare_views`).

The models are copies of the repository's naive-m5, ri-m5 and naive-m4.5 in a temporary
QUAKE_MODELS_DIR; a copy without a scoring summary gets one written here (one scoring pass
on the reference catalog), so the test never depends on what scripts/rescore.py has run.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_pages.ui.nav import PATHS
from quake.metrics.curves import OperatingCurve
from quake.models.store.summaries import SUMMARY_ARRAYS, SUMMARY_META, load_summary
from quake.scoring import compare_views as views
from quake.viz import compare_charts as charts
from tests.helpers import ROOT, app, goto

MODELS = ("naive-m5", "ri-m5", "naive-m4.5")
TIMEOUT = 300  # the first run reads the catalog and bootstraps the intervals


@pytest.fixture(scope="module")
def scored_models(tmp_path_factory, reference_catalog) -> Path:
    """Copies of saved models, each with its scoring summary."""
    from quake.scoring.rescore import DataCache, rescore

    root = tmp_path_factory.mktemp("compare_models")
    cache = None
    for name in MODELS:
        src = ROOT / "models" / name
        if not (src / "model.json").is_file():
            pytest.fail(f"the saved model {src} is missing: the Compare tests use it")
        shutil.copytree(src, root / name)
        if not (root / name / SUMMARY_META).is_file():
            cache = cache or DataCache(reference_catalog)
            rescore(root / name, cache)
    return root


@pytest.fixture
def compare_env(monkeypatch, tmp_path, scored_models) -> Path:
    models = tmp_path / "models"
    shutil.copytree(scored_models, models)
    monkeypatch.setenv("QUAKE_MODELS_DIR", str(models))
    monkeypatch.setenv("QUAKE_CACHE_DIR", str(tmp_path / "cache"))
    return models


def compare_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return goto(at, PATHS["compare"])


def shown(elements) -> str:
    """The texts of message elements with Markdown escapes (`plain`) removed."""
    return " ".join(re.sub(r"\\(.)", r"\1", e.value) for e in elements)


def figures(at: AppTest) -> dict[str, dict]:
    """The page's plotly figures by their title."""
    out = {}
    for p in at.get("plotly_chart"):
        spec = json.loads(p.proto.spec)
        out[(spec["layout"].get("title") or {}).get("text", "")] = spec
    return out


TABS = (
    "ROC",
    "Precision–recall",
    "Molchan",
    "Intervals",
    "Pairwise gains",
    "Gain over time",
    "Reliability",
    "N-test",
)
"""The page's lazy tabs: only the open one runs (the ROC curve by default)."""


def open_tab(at: AppTest, label: str) -> AppTest:
    at.session_state["cmp_tab"] = label
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def every_tab(at: AppTest) -> tuple[dict[str, dict], list[str], str]:
    """Every tab opened in turn: the figures by title, the download buttons' labels and
    the info messages of all of them (the table's download counted once)."""
    figs: dict[str, dict] = {}
    labels: list[str] = []
    infos: list[str] = []
    for k, label in enumerate(TABS):
        open_tab(at, label)
        figs.update(figures(at))
        here = [b.label for b in at.get("download_button")]
        labels += here if k == 0 else [x for x in here if x in ("Figure (HTML)", "Numbers (CSV)")]
        infos.append(shown(at.info))
    return figs, labels, " ".join(infos)


def one(figs: dict[str, dict], start: str) -> dict:
    (fig,) = [f for t, f in figs.items() if t.startswith(start)]
    return fig


def test_compare_page_draws_every_new_figure(compare_env):
    at = compare_page()
    figs, labels, _ = every_tab(at)
    # 1. dot-and-whisker per score and mask, the interval around each dot
    for score in ("ROC AUC", "PR AUC"):
        for mask in ("all", "active"):
            fig = figs[f"{score} — Mc 5.0, {mask} cells"]
            assert {t["y"][0] for t in fig["data"]} == {"naive-m5", "ri-m5"}
            for t in fig["data"]:
                x, plus, minus = t["x"][0], t["error_x"]["array"][0], t["error_x"]["arrayminus"][0]
                assert plus >= 0 and minus >= 0 and plus + minus > 0
                assert 0 < x - minus <= x + plus <= 1
    # the dot of naive's ROC AUC (all) is Table II's value
    table = at.dataframe[0].value
    roc = figs["ROC AUC — Mc 5.0, all cells"]
    naive_dot = next(t["x"][0] for t in roc["data"] if t["y"][0] == "naive-m5")
    naive_row = table.loc[table["model"] == "naive-m5"].iloc[0]
    assert naive_dot == pytest.approx(naive_row["ROC AUC (all)"], abs=1e-9)
    # 2. pairwise matrix: diverging, centred at 0, antisymmetric, blank diagonal
    (heat,) = one(figs, "Information gain per target")["data"]
    assert heat["type"] == "heatmap" and heat["zmid"] == 0 and heat["zmin"] == -heat["zmax"]
    z = heat["z"]
    assert z[0][0] is None and z[1][1] is None
    assert z[0][1] == pytest.approx(-z[1][0]) and z[0][1] != 0
    assert all(
        ("*" in s) == ("*" in heat["text"][j][i])
        for i, r in enumerate(heat["text"])
        for j, s in enumerate(r)
        if i != j
    )
    # 3. gain per window over time: one bar per 40-day window of the test period
    (bars,) = one(figs, "Information gain per window")["data"]
    assert bars["type"] == "bar" and 70 <= len(bars["x"]) <= 90
    assert str(bars["x"][0]).startswith("2011-01")
    assert any(v is not None and v != 0 for v in bars["y"])
    # whole-window gains (the default): the Tohoku window (targets 2011-02-20 … 2011-04-01)
    # is the largest; per target it is an ordinary window
    top = max(range(len(bars["y"])), key=lambda i: abs(bars["y"][i] or 0))
    assert str(bars["x"][top]).startswith("2011-02-10")
    open_tab(at, "Gain over time").radio(key="cmp_gain_total").set_value("per target").run()
    (per,) = one(figures(at), "Information gain per window")["data"]
    assert max(abs(v or 0) for v in per["y"]) < abs(bars["y"][top]) / 10
    # 4. reliability: a diagonal and one trace per model drawn on the curves
    rel = one(figs, "Reliability")
    names = {t["name"] for t in rel["data"]}
    assert {"perfect calibration", "naive-m5", "ri-m5"} <= names
    for t in rel["data"][1:]:
        assert all(c[0] > 0 for c in t["customdata"])  # every bin has cell-days
    # 5. N-test: band, expectation, observed in and out of the band
    nt = one(figs, "N-test per window")
    observed = [t for t in nt["data"] if str(t.get("name", "")).startswith("observed")]
    assert sum(len(t["y"]) for t in observed) == len(bars["x"])
    assert nt["layout"]["yaxis"]["type"] == "log"
    for t in observed:  # drawn at >= 0.5 on the log axis, the true counts in meta (CSV)
        assert all(y == max(c, 0.5) for y, c in zip(t["y"], t["meta"]["y"], strict=True))
    # 6. Table II's mainshock columns, lower than the all-target PR AUC of the same model
    for col in ("ROC AUC (all, mainshocks)", "PR AUC (active, mainshocks)"):
        assert table[col].notna().all() and ((table[col] > 0) & (table[col] < 1)).all()
    # 7. exports: HTML and CSV of every new figure (over the tabs)
    assert labels.count("Numbers (CSV)") == 8 and labels.count("Figure (HTML)") == 8


def test_no_summary_shows_how_to_write_it(compare_env):
    for f in (SUMMARY_META, SUMMARY_ARRAYS):
        (compare_env / "ri-m5" / f).unlink()
    at = compare_page()
    text = every_tab(at)[2]
    assert "No intervals yet for ri-m5" in text and "scripts/rescore.py" in text
    assert "needs two models" in text  # no pairwise matrix with one summary
    assert "ROC AUC — Mc 5.0, all cells" in figures(open_tab(at, "Intervals"))  # naive's


def test_a_seed_sweep_is_one_row_with_its_spread(compare_env):
    # ri-m5-s1: ri-m5 trained again with another seed (other scores, no scoring summary)
    shutil.copytree(compare_env / "ri-m5", compare_env / "ri-m5-s1")
    for f in (SUMMARY_META, SUMMARY_ARRAYS):
        (compare_env / "ri-m5-s1" / f).unlink()
    path = compare_env / "ri-m5-s1" / "model.json"
    doc = json.loads(path.read_text())
    rocs = [doc["scores"]["test"]["all"]["roc_auc"]]
    doc["scores"]["test"]["all"]["roc_auc"] = rocs[0] - 0.02
    rocs.append(rocs[0] - 0.02)
    path.write_text(json.dumps(doc))
    at = compare_page()
    table = at.dataframe[0].value
    assert "ri-m5-s1" not in set(table["model"])
    row = table[table["model"] == "ri-m5"].iloc[0]
    assert row["seeds"] == 2
    assert row["ROC AUC (all) over seeds"] == f"{np.mean(rocs):.4f} ± {np.std(rocs, ddof=1):.4f}"
    assert "No intervals yet" not in every_tab(at)[2]  # the member is not asked to be scored


@pytest.mark.parametrize(
    "damage",
    [
        lambda f: (f / SUMMARY_META).write_text("{ not json"),
        lambda f: (f / SUMMARY_ARRAYS).write_bytes(b"\x00" * 40),
        lambda f: (f / SUMMARY_META).write_text(
            json.dumps({**json.loads((f / SUMMARY_META).read_text()), "mc": "five"})
        ),
    ],
    ids=["json", "arrays", "field"],
)
def test_tampered_summary_is_refused_with_a_message(compare_env, damage):
    damage(compare_env / "ri-m5")
    at = compare_page()  # no exception
    warned = shown(at.warning)
    assert "ri-m5" in warned and "refused" in warned and "rescore.py" in warned
    assert "ROC AUC — Mc 5.0, all cells" in figures(open_tab(at, "Intervals"))


def test_summaries_are_reread_when_written(compare_env):
    for f in (SUMMARY_META, SUMMARY_ARRAYS):
        shutil.move(compare_env / "ri-m5" / f, compare_env / f)
    at = compare_page()
    assert "No intervals yet for ri-m5" in shown(at.info)
    for f in (SUMMARY_META, SUMMARY_ARRAYS):
        shutil.move(compare_env / f, compare_env / "ri-m5" / f)
    at.run()
    assert not at.exception
    assert "No intervals yet for ri-m5" not in shown(at.info)
    figs = figures(open_tab(at, "Pairwise gains"))
    assert any(t.startswith("Information gain per target") for t in figs)


def test_threshold_page_states_calibration(compare_env):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    goto(at, PATHS["threshold"])
    cap = [shown([c]) for c in at.caption if "Calibration" in c.value]
    assert len(cap) == 1 and ("times too" in cap[0] or "read as probabilities" in cap[0])


def test_home_page_names_the_protocol_settings(compare_env):
    at = app()
    assert "for Japan" in at.title[0].value
    assert "Mc 5.0 and 4.5" in shown(at.caption)


# -- the plain data behind the figures -------------------------------------------------------
def test_gain_matrix_and_time_agree_with_the_pairwise_test(scored_models):
    from quake.scoring.compare import compare

    s = {n: load_summary(scored_models / n) for n in ("naive-m5", "ri-m5")}
    m = views.gain_matrix(s)
    i, j = m["names"].index("ri-m5"), m["names"].index("naive-m5")
    c = compare(s["ri-m5"], s["naive-m5"])
    assert m["gain"][i, j] == c["t_test"]["gain"] == -m["gain"][j, i]
    assert m["lower"][j, i] == pytest.approx(-c["t_test"]["upper"])
    assert m["p_t"][i, j] == m["p_t"][j, i] == c["t_test"]["p_value"]
    assert np.isnan(m["gain"][i, i])
    g = views.gain_over_time(s["ri-m5"], s["naive-m5"])
    assert [None if math.isnan(v) else v for v in g["gain"]] == c["gain_per_window"]
    assert sum(g["n_targets"]) == c["n_targets"]
    text = views.largest_windows(list(range(len(g["gain"]))), g["gain"], g["n_targets"], k=2)
    assert text.count("targets") == 2
    # a summary of another Mc is not paired: blank cells, never an error
    s["naive-m4.5"] = load_summary(scored_models / "naive-m4.5")
    m = views.gain_matrix(s)
    k = m["names"].index("naive-m4.5")
    assert np.isnan(m["gain"][k]).all() and not m["significant"][k].any()


def _curve(p: np.ndarray, y: np.ndarray) -> OperatingCurve:
    return OperatingCurve().update(y, p)


def test_calibration_statement_reads_the_curve() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.001, 0.2, 400_000)
    y = rng.uniform(size=p.size) < p  # calibrated by construction
    assert "can be read as probabilities" in views.calibration_statement(_curve(p, y))
    y4 = rng.uniform(size=p.size) < p / 4  # forecasts 4 times too high
    r = views.calibration_ratio(_curve(p, y4), 0.1)
    assert r is not None and 3.5 < r["ratio"] < 4.5
    assert "times too high" in views.calibration_statement(_curve(p, y4))
    y_low = rng.uniform(size=p.size) < np.minimum(3 * p, 1)
    assert "times too low" in views.calibration_statement(_curve(p, y_low))


def test_figure_csv_keeps_intervals_and_blocks_formulas() -> None:
    rows = [{"model": "=cmd", "mc": 5.0, "value": 0.8, "lower": 0.7, "upper": 0.85}]
    fig = charts.intervals_figure(rows, {}, "ROC AUC")
    lines = charts.figure_csv(fig).splitlines()
    assert lines[0] == "series,x,y,x_low,x_high"  # the interval's bounds, not whisker lengths
    assert lines[1].startswith("'=cmd,0.8,'=cmd,")
    low, high = map(float, lines[1].split(",")[3:])
    assert low == pytest.approx(0.7) and high == pytest.approx(0.85)


def test_home_page_follows_a_catalog_outside_japan(compare_env):
    from quake.data.synthetic import synthetic_catalog, to_reference_csv

    df = synthetic_catalog(
        n_background=3000, n_days=4000, lat=(36.0, 38.0), lon=(-122.0, -119.0), seed=5
    )
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    goto(at, PATHS["catalog"])
    at.radio(key="w_catalog_choice").set_value("Upload a CSV").run()
    at.file_uploader[0].upload("ca.csv", to_reference_csv(df).encode(), "text/csv").run()
    assert not at.exception
    goto(at, PATHS["home"])
    title = at.title[0].value
    assert "Japan" not in title and "the loaded catalog's region" in title
    protocol = shown(at.caption)
    assert "(headline)" not in protocol and "by default (offered:" in protocol
