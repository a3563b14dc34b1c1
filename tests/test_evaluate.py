"""The measuring instrument: streamed curves against sklearn, fast paths, model cards, CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from quake.cli import main
from quake.data.forecast_data import ForecastData
from quake.data.synthetic import synthetic_catalog, to_reference_csv
from quake.errors import ModelError
from quake.metrics.scores import OperatingCurve
from quake.models import create, load_model
from quake.models.store import load_curves, save_scores
from quake.scoring.evaluate import (
    check_compatible,
    counts_curve,
    evaluate,
    fit_score_save,
    naive_curves,
    prior_for,
    score_model,
)
from quake.scoring.report import paper_table2, write_report

MC = 3.5


@pytest.fixture
def tiny_data(aftershock_catalog, tiny_protocol) -> ForecastData:
    return ForecastData.build(aftershock_catalog, MC, tiny_protocol)


class _PerPair:
    """A model's forecasts without its per-cell fast path (forces the per-pair stream)."""

    def __init__(self, model):
        self.model, self.kind = model, model.kind

    def predict_days(self, data, start, stop, chunk=64):
        return self.model.predict_days(data, start, stop, chunk)


@pytest.mark.parametrize("period", ["test", "validation"])
def test_streamed_curve_equals_sklearn_on_materialised_arrays(tiny_data, period):
    model = create("ri", tau_days=30.0, radius=1, beta=0.05).fit(tiny_data, final=True)
    curves = evaluate(model, tiny_data, period, chunk=9)
    start, stop = tiny_data.days(period)
    p = model.predict(tiny_data, start, stop)
    y = tiny_data.targets.dense(start, stop).astype(bool)
    w = np.broadcast_to(prior_for(tiny_data, period), p.shape)
    for mask, curve in curves.items():
        keep = np.broadcast_to(tiny_data.mask(mask), p.shape)
        pk, yk, wk = p[keep], y[keep], w[keep]
        # Scores within one bin are ties for the curve: compare with sklearn on binned scores.
        binned = curve.edges[curve.design.bin_index(pk)]
        assert curve.n_pairs == pk.size and curve.n_positive == yk.sum()
        assert curve.roc_auc() == pytest.approx(roc_auc_score(yk, binned), abs=1e-12)
        assert curve.pr_auc() == pytest.approx(average_precision_score(yk, binned), abs=1e-12)
        # On raw scores only near (a tiny grid has many near-equal priors in one bin).
        assert curve.roc_auc() == pytest.approx(roc_auc_score(yk, pk), abs=1e-2)
        for t in map(np.float64, tiny_data.protocol.thresholds):  # exact, not cast to f32
            c = curve.counts_at(t)
            assert (c["tp"], c["fp"]) == ((yk & (pk >= t)).sum(), (~yk & (pk >= t)).sum())
        np.testing.assert_allclose(curve.whist.sum(axis=1), [wk[~yk].sum(), wk[yk].sum()])


def test_naive_fast_path_equals_the_per_pair_stream(tiny_data):
    naive = create("naive").fit(tiny_data, final=True)
    fast = evaluate(naive, tiny_data, "test")
    slow = evaluate(_PerPair(naive), tiny_data, "test", chunk=11)
    for mask in ("all", "active"):
        np.testing.assert_array_equal(fast[mask].hist, slow[mask].hist)
        np.testing.assert_allclose(fast[mask].whist, slow[mask].whist, rtol=1e-12)
    assert naive_curves(tiny_data, "test")["all"].roc_auc() == fast["all"].roc_auc()


def test_counts_curve_equals_updates():
    rng = np.random.default_rng(3)
    p = rng.random(6).astype(np.float32)
    pos, neg = np.array([0, 2, 1, 0, 5, 1]), np.array([4, 0, 3, 2, 1, 1])
    ref = OperatingCurve.empty()
    for i in range(6):
        y = np.r_[np.ones(pos[i], bool), np.zeros(neg[i], bool)]
        ref.update(y, np.full(y.size, p[i]), np.full(y.size, 0.1 * i))
    got = counts_curve(p, pos, neg, 0.1 * np.arange(6))
    np.testing.assert_array_equal(got.hist, ref.hist)
    np.testing.assert_allclose(got.whist, ref.whist)


def test_evaluate_checks_the_block_stream(tiny_data):
    class Short:
        kind = "short"

        def predict_days(self, data, start, stop, chunk=64):
            yield start, np.zeros((2, *data.grid.shape), np.float32)

    with pytest.raises(ModelError, match="stopped"):
        evaluate(Short(), tiny_data, "test")


def test_score_model_has_the_naive_tp_matched_threshold(tiny_data):
    model = create("ri", tau_days=30.0, radius=1, beta=0.05).fit(tiny_data, final=True)
    scores = score_model(evaluate(model, tiny_data, "test"), tiny_data, "test")
    naive = naive_curves(tiny_data, "test")["all"]
    m = scores["all"]["matched_tp"]
    assert m["baseline_tp"] == naive.counts_at(naive.best_f1_threshold())["tp"]
    assert m["tp"] >= m["baseline_tp"]
    assert [r["threshold"] for r in scores["all"]["thresholds"]] == [1e-4, 0.1, 0.5, 0.99]


def test_fit_score_save_and_load_curves(tiny_data, tmp_path):
    out = tmp_path / "ri-m3.5"
    scores = fit_score_save(create("ri", taus=[30.0], radii=[1]), tiny_data, out)
    doc = json.loads((out / "model.json").read_text())
    assert set(doc["scores"]) == {"test", "validation"}
    assert set(doc["scores"]["test"]) == {"all", "active"}
    assert doc["scores"] == json.loads(json.dumps(scores))
    assert doc["fit_seconds"] >= 0 and set(doc["eval_seconds"]) == {"test", "validation"}
    # Validation is scored by the train-only twin, never in-sample by the final model.
    assert doc["scored_by"]["validation"].startswith("same model fitted on train only")
    twin = create("ri", **doc["params"], taus=[30.0], radii=[1]).fit(tiny_data, final=False)
    val = evaluate(twin, tiny_data, "validation")["all"]
    assert scores["validation"]["all"]["pr_auc"] == pytest.approx(val.pr_auc(), rel=1e-12)
    curves = load_curves(out)
    assert curves["test"]["all"].roc_auc() == pytest.approx(scores["test"]["all"]["roc_auc"])
    model = load_model(out)
    again = evaluate(model, tiny_data, "test")
    np.testing.assert_array_equal(again["all"].hist, curves["test"]["all"].hist)
    save_scores(out, {"test": {"all": {"roc_auc": 0.5}}})  # merges, keeps the rest
    doc = json.loads((out / "model.json").read_text())
    assert doc["scores"]["test"]["all"] == {"roc_auc": 0.5} and "active" in doc["scores"]["test"]
    assert load_curves(tmp_path) == {}


def test_check_compatible_refuses_other_data(tiny_data, aftershock_catalog, tiny_protocol):
    model = create("naive").fit(tiny_data, final=True)
    check_compatible(model, tiny_data)
    with pytest.raises(ModelError, match="Mc"):
        check_compatible(model, ForecastData.build(aftershock_catalog, 4.0, tiny_protocol))


def test_report_from_saved_models(tiny_data, tmp_path):
    for kind in ("naive", "ri"):
        args = {"taus": [30.0], "radii": [1]} if kind == "ri" else {}
        fit_score_save(create(kind, **args), tiny_data, tmp_path / "models" / f"{kind}-m3.5")
    path = write_report(tmp_path / "models", tmp_path / "RESULTS.md", tmp_path / "none.json")
    text = path.read_text()
    assert "Table II" in text and "Table III" in text and tiny_data.protocol.name in text
    assert "| ri |" in text and "naive-TP match" in text and "tau 30 d" in text
    assert "Table I:" not in text
    rows = [{"weight": 1000.0, "roc_auc_all": 0.8251, "pr_auc_all": 0.001432}]
    (tmp_path / "table1.json").write_text(json.dumps({"period": "validation", "rows": rows}))
    text = write_report(
        tmp_path / "models", tmp_path / "R.md", tmp_path / "table1.json"
    ).read_text()
    assert "Table I:" in text and "| 1000 | 0.825 | 0.00143 |" in text


def test_paper_table2_is_parsed_from_the_paper():
    table = paper_table2()
    if not table:
        pytest.skip("../shared/paper.md not found")
    assert table["Baseline"]["roc_5"] == pytest.approx(0.674)
    assert table["CNN+LSTM, resid."]["pr_5"] == pytest.approx(0.00911)


@pytest.fixture
def synthetic_csv(tmp_path):
    df = synthetic_catalog(n_background=300, n_days=900, productivity=0.5, seed=11)
    path = tmp_path / "synthetic.csv"
    path.write_text(to_reference_csv(df))
    return path


def test_cli_evaluate_json_keys(synthetic_csv, tmp_path, capsys):
    out = tmp_path / "eval.json"
    args = ["evaluate", "--model", "naive", "--catalog", str(synthetic_csv), "--mc", "3.5"]
    assert main([*args, "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == doc
    for key in (
        "model", "protocol", "mc", "mask", "roc_auc", "pr_auc", "n_pairs", "n_positive",
        "thresholds", "molchan_area_skill", "probability_gain",
    ):  # fmt: skip
        assert key in doc
    assert set(doc["thresholds"][0]) == {"threshold", "tp", "fn", "fp", "tn"}
    assert doc["mc"] == 3.5 and doc["mask"] == "all" and doc["period"] == "test"
    for key in ("roc_auc_ci", "pr_auc_ci"):  # block bootstrap (quake.metrics.bootstrap)
        lo, hi = doc[key]
        assert lo <= hi and lo <= doc[key[:-3]] + 0.01 and hi >= doc[key[:-3]] - 0.01


def test_cli_fit_then_evaluate_the_folder(synthetic_csv, tmp_path, capsys):
    folder = tmp_path / "naive-m3.5"
    common = ["--catalog", str(synthetic_csv), "--mc", "3.5"]
    assert main(["fit", "--model", "naive", "--out", str(folder), *common]) == 0
    assert (folder / "curves.json").is_file()
    capsys.readouterr()
    assert main(["evaluate", "--model", str(folder), "--mask", "active", *common]) == 0
    doc = json.loads(capsys.readouterr().out)
    saved = json.loads((folder / "model.json").read_text())["scores"]["test"]["active"]
    assert doc["roc_auc"] == saved["roc_auc"]
    # without --mc: the folder's own Mc (3.5)
    assert main(["evaluate", "--model", str(folder), "--catalog", str(synthetic_csv)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["mc"] == 3.5
    assert (
        doc["roc_auc"]
        == json.loads((folder / "model.json").read_text())["scores"]["test"]["all"]["roc_auc"]
    )
    args = ["evaluate", "--model", str(folder), "--catalog", str(synthetic_csv), "--mc", "4"]
    assert main(args) == 2
    assert "does not match" in capsys.readouterr().err


def test_naive_on_the_reference_catalog_reproduces_the_known_scores(reference_catalog):
    """End-to-end check of the instrument (NOTES.md): Mc 5, all cells, test period."""
    data = ForecastData.build(reference_catalog, 5.0)
    assert data.protocol.name == "japan-usgs-v1"
    curve = evaluate(create("naive").fit(data, final=True), data, "test")["all"]
    assert curve.n_pairs == 161_850_000 and curve.n_positive == 55_291
    assert round(curve.roc_auc(), 4) == 0.6135
    assert curve.pr_auc() == pytest.approx(0.00133, abs=5e-6)


def test_fit_score_save_stores_the_scoring_summary(tiny_data, tmp_path):
    """A folder saved by fit/train (CLI or dashboard) gets its summary from the same run: its
    intervals and CSEP windows need no rescoring, and its summary's point scores are the
    saved test scores."""
    from quake.models.store import has_summary, load_summary
    from quake.scoring.scorepass import summary_pass

    out = tmp_path / "ri-m3.5"
    model = create("ri", taus=[30.0], radii=[1])
    scores = fit_score_save(model, tiny_data, out, test_pass=summary_pass)
    assert has_summary(out)
    summary = load_summary(out)
    for mask in ("all", "active"):
        assert summary.fine[mask]["roc_auc"] == pytest.approx(scores["test"][mask]["roc_auc"])
        assert summary.fine[mask]["pr_auc"] == pytest.approx(scores["test"][mask]["pr_auc"])
    assert summary.mc == tiny_data.mc and summary.mainshocks is None
    assert not has_summary(fit_score_save_plain(tiny_data, tmp_path / "plain"))


def fit_score_save_plain(data, out):
    fit_score_save(create("naive"), data, out, periods=("test",))
    return out


def test_report_folds_a_seed_sweep_into_one_row(tiny_data, tmp_path):
    root = tmp_path / "models"
    fit_score_save(create("naive"), tiny_data, root / "naive-m3.5")
    for k in (1, 2):  # NAME-s1, NAME-s2 beside NAME (seed 0): another seed's scores
        shutil.copytree(root / "naive-m3.5", root / f"naive-m3.5-s{k}")
        path = root / f"naive-m3.5-s{k}" / "model.json"
        doc = json.loads(path.read_text())
        doc["scores"]["test"]["all"]["roc_auc"] += 0.01 * k
        path.write_text(json.dumps(doc))
    rocs = [
        json.loads((root / n / "model.json").read_text())["scores"]["test"]["all"]["roc_auc"]
        for n in ("naive-m3.5", "naive-m3.5-s1", "naive-m3.5-s2")
    ]
    text = write_report(root, tmp_path / "R.md", tmp_path / "none.json").read_text()
    table2 = text.split("## Table II: ROC AUC and PR AUC")[1].split("\n## ")[0]
    assert "naive-m3.5-s1" not in table2  # the members fold into their sweep's row
    assert f"| naive | {np.mean(rocs):.3f} ± {np.std(rocs, ddof=1):.3f} |" in table2
    seeds = text.split("## Seed spread of the networks")[1].split("\n## ")[0]
    assert f"| naive-m3.5 | 3.5 | 3 | {np.mean(rocs):.4f} ± {np.std(rocs, ddof=1):.4f} |" in seeds
    table3 = text.split("## Table III")[1].split("\n## ")[0]
    assert "naive-m3.5-s1" not in table3 and "| naive-m3.5 |" in table3
