"""Tests of quake.metrics (scores, curves): hand-made cases and agreement with sklearn."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from quake.metrics.scores import (
    DEFAULT_DESIGN,
    PROTOCOL_THRESHOLDS,
    MetricsError,
    OperatingCurve,
    curves_from_blocks,
    exact_scores,
    matched_tp_threshold,
    molchan,
    molchan_area,
    molchan_area_skill,
    probability_gain,
    score_summary,
    threshold_table,
)

# Six pairs, every score in its own bin. Ranked: 0.9+ 0.8- 0.6- 0.3+ 0.2- 0.05+.
Y6 = np.array([1, 0, 1, 0, 0, 1], dtype=bool)
P6 = np.array([0.9, 0.8, 0.3, 0.2, 0.6, 0.05], dtype=np.float32)


def _curve6(weights: np.ndarray | None = None) -> OperatingCurve:
    return OperatingCurve.empty().update(Y6, P6, weights)


@pytest.fixture(scope="module")
def imbalanced() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """10^6 pairs, ~1:1000 positives; informative float32 scores; a noisy reference rate."""
    rng = np.random.default_rng(20240601)
    n = 1_000_000
    z = rng.normal(-9.0, 2.0, n)
    y = rng.random(n) < 1.0 / (1.0 + np.exp(-z))
    p = (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
    w = 1.0 / (1.0 + np.exp(-(z + rng.normal(0.0, 1.0, n))))
    return y, p, w


# ---- hand-computed ------------------------------------------------------------------
def test_tiny_counts_and_areas_by_hand() -> None:
    c = _curve6()
    assert (c.n_pairs, c.n_positive, c.n_negative) == (6, 3, 3)
    assert c.counts_at(0.5) == {"edge": 0.5, "tp": 1, "fn": 2, "fp": 2, "tn": 1}
    assert c.counts_at(0.1) == {"edge": 0.1, "tp": 2, "fn": 1, "fp": 3, "tn": 0}
    assert c.counts_at(0.0)["tp"] == 3 and c.counts_at(0.0)["fp"] == 3
    assert c.counts_at(1.5)["tp"] == 0 and c.counts_at(1.5)["fp"] == 0
    # positive > negative in 4 of 9 pairs; precision at each hit 1/1, 2/4, 3/6
    assert c.roc_auc() == pytest.approx(4 / 9, abs=1e-12)
    assert c.pr_auc() == pytest.approx(2 / 3, abs=1e-12)
    ex = exact_scores(Y6, P6)
    assert ex == pytest.approx({"roc_auc": 4 / 9, "pr_auc": 2 / 3, "n_pairs": 6, "n_positive": 3})


def test_perfect_and_tied_tiny_cases() -> None:
    perfect = OperatingCurve.empty().update([0, 0, 1, 1], np.array([0.1, 0.2, 0.8, 0.9]))
    assert perfect.roc_auc() == 1.0 and perfect.pr_auc() == 1.0
    tied = OperatingCurve.empty().update([0, 1], np.array([0.5, 0.5]))
    assert tied.roc_auc() == 0.5 and tied.pr_auc() == 0.5


def test_counts_vectorised_over_thresholds() -> None:
    t = np.array([[0.1, 0.5], [0.0, 2.0]])
    c = _curve6().counts_at(t)
    np.testing.assert_array_equal(c["tp"], [[2, 1], [3, 0]])
    np.testing.assert_array_equal(c["tn"], [[0, 1], [0, 3]])
    assert c["fp"].shape == (2, 2)


def test_threshold_table_rows() -> None:
    rows = threshold_table(_curve6(), (0.1, 0.5))
    assert rows[1] == {
        "threshold": 0.5,
        "tp": 1,
        "fn": 2,
        "fp": 2,
        "tn": 1,
        "alarm_fraction": 0.5,
        "edge": 0.5,
    }
    assert rows[0]["alarm_fraction"] == pytest.approx(5 / 6)


def test_best_f1_and_threshold_for_tp() -> None:
    y = np.array([1, 1, 0, 0, 0, 0, 0, 1], dtype=bool)
    p = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1, 0.05, 0.01])
    c = OperatingCurve.empty().update(y, p)
    # F1 of the top-k alarms: 0.5, 0.8, 0.667, ... : best with the top two
    t = c.best_f1_threshold()
    assert 0.7 < t <= 0.8
    assert c.counts_at(t)["tp"] == 2 and c.counts_at(t)["fp"] == 0
    assert c.threshold_for_tp(2) == t
    t3 = c.threshold_for_tp(3)
    assert t3 <= 0.01 and c.counts_at(t3)["fp"] == 5
    assert math.isnan(c.threshold_for_tp(4))
    assert c.counts_at(c.threshold_for_tp(0))["tp"] == 0
    m = matched_tp_threshold(c, c)
    assert m["baseline_tp"] == 2 and m["threshold"] == t


def test_molchan_by_hand() -> None:
    tau, nu = molchan(_curve6())
    np.testing.assert_allclose(tau, np.arange(7) / 6)
    np.testing.assert_allclose(nu, [1, 2 / 3, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 0])
    assert molchan_area(_curve6()) == pytest.approx(19 / 36)
    assert molchan_area_skill(_curve6()) == pytest.approx(1 - 38 / 72)
    assert probability_gain(_curve6(), (1 / 6, 0.5))[1 / 6] == pytest.approx(2.0)
    # equal weights: the weighted diagram is the area one
    tw, nw = molchan(_curve6(np.full(6, 0.25)), weighted=True)
    np.testing.assert_allclose(tw, tau)
    np.testing.assert_allclose(nw, nu)
    # weight 3 on the top pair: alarming it alone already costs half the reference rate
    tw, _ = molchan(_curve6(np.array([3.0, 1, 1, 1, 1, 1])), weighted=True)
    assert tw[1] == pytest.approx(3 / 8)


def test_probability_gain_takes_the_bottom_of_a_vertical_drop() -> None:
    # the second target sits on a zero-weight pair: nu drops 0.5 -> 0 at tau = 1/4
    c = OperatingCurve.empty().update(
        [1, 1, 0, 0], np.array([0.9, 0.8, 0.3, 0.2]), np.array([1.0, 0.0, 1.0, 2.0])
    )
    tau, nu = molchan(c, weighted=True)
    np.testing.assert_allclose(tau, [0, 0.25, 0.25, 0.5, 1])
    np.testing.assert_allclose(nu, [1, 0.5, 0, 0, 0])
    assert probability_gain(c, (0.25,), weighted=True)[0.25] == pytest.approx(4.0)


# ---- binning ----------------------------------------------------------------------
def test_protocol_thresholds_are_edges() -> None:
    assert set(PROTOCOL_THRESHOLDS) <= set(DEFAULT_DESIGN.edges.tolist())
    assert DEFAULT_DESIGN.n_bins == 4002 and np.all(np.diff(DEFAULT_DESIGN.edges) > 0)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_bin_index_is_exact(dtype: type) -> None:
    rng = np.random.default_rng(7)
    e = DEFAULT_DESIGN.edges[1:-1]
    e = e[e > 1e-7] if dtype == np.float16 else e
    e = e.astype(dtype)
    near = np.concatenate([e, np.nextafter(e, dtype(0)), np.nextafter(e, dtype(1))])
    p = np.concatenate(
        [
            near,
            rng.random(10_000).astype(dtype),
            (1 / (1 + np.exp(-rng.normal(0, 12, 10_000)))).astype(dtype),
            np.array([0, 1, -0.5, 1.5, 1e-30, 1 - 1e-12]).astype(dtype),
        ]
    )
    exact = np.clip(p.astype(np.float64), 0, 1)
    ref = np.searchsorted(DEFAULT_DESIGN.edges, exact, side="right") - 1
    np.testing.assert_array_equal(DEFAULT_DESIGN.bin_index(p), ref)


# ---- agreement with sklearn on raw scores -------------------------------------------
def test_agrees_with_sklearn_on_imbalanced_data(imbalanced) -> None:
    y, p, _ = imbalanced
    assert 500 < y.sum() < 2000
    c = OperatingCurve.empty().update(y, p)
    ex = exact_scores(y, p)
    assert (c.n_pairs, c.n_positive) == (ex["n_pairs"], ex["n_positive"])
    assert c.roc_auc() == pytest.approx(ex["roc_auc"], abs=1e-3)
    assert c.pr_auc() == pytest.approx(ex["pr_auc"], abs=1e-3)


def test_counts_exact_on_edges_and_within_one_bin_elsewhere(imbalanced) -> None:
    y, p, _ = imbalanced
    c = OperatingCurve.empty().update(y, p)
    p64 = p.astype(np.float64)
    edges = DEFAULT_DESIGN.edges
    rng = np.random.default_rng(3)
    on_edges = np.concatenate([PROTOCOL_THRESHOLDS, rng.choice(edges[1:-1], 20)])
    got = c.counts_at(on_edges)
    for i, t in enumerate(on_edges):
        alarm = p64 >= t
        assert got["tp"][i] == np.count_nonzero(alarm & y)
        assert got["fp"][i] == np.count_nonzero(alarm & ~y)
    between = rng.uniform(1e-6, 0.2, 20)
    got = c.counts_at(between)
    in_bin = c.hist.sum(axis=0)[np.searchsorted(edges, between, side="right") - 1]
    for i, t in enumerate(between):
        n_alarm = np.count_nonzero(p64 >= t)
        assert n_alarm - in_bin[i] <= got["tp"][i] + got["fp"][i] <= n_alarm


def test_float16_input(imbalanced) -> None:
    y, p, _ = imbalanced
    p16 = p.astype(np.float16)
    c16 = OperatingCurve.empty().update(y, p16)
    c32 = OperatingCurve.empty().update(y, p16.astype(np.float32))
    np.testing.assert_array_equal(c16.hist, c32.hist)
    assert c16.roc_auc() == pytest.approx(exact_scores(y, p16)["roc_auc"], abs=1e-3)


# ---- Molchan on synthetic forecasts ------------------------------------------------
def test_molchan_random_and_perfect(imbalanced) -> None:
    y, _, w = imbalanced
    rng = np.random.default_rng(11)
    random = OperatingCurve.empty().update(y, rng.random(y.size).astype(np.float32))
    assert abs(molchan_area_skill(random) - 0.5) < 0.03
    assert probability_gain(random, (0.1,))[0.1] == pytest.approx(1.0, abs=0.35)
    perfect = OperatingCurve.empty().update(y, y.astype(np.float32))
    assert molchan_area_skill(perfect) > 0.995
    gain = probability_gain(perfect, (0.01, 0.05))
    assert gain[0.01] == pytest.approx(100.0) and gain[0.05] == pytest.approx(20.0)


def test_weighted_molchan_of_the_reference_itself_has_no_skill() -> None:
    rng = np.random.default_rng(5)
    rate = 1.0 / (1.0 + np.exp(-rng.normal(-6.0, 1.5, 1_000_000)))
    y = rng.random(rate.size) < rate  # targets drawn from the reference rate
    c = OperatingCurve.empty().update(y, rate.astype(np.float32), rate)
    assert abs(molchan_area_skill(c, weighted=True) - 0.5) < 0.03
    assert molchan_area_skill(c) > 0.65  # yet it beats the uniform-area reference
    with pytest.raises(MetricsError, match="no weights"):
        molchan(OperatingCurve.empty().update(y, rate), weighted=True)


# ---- streaming, merging, serialisation -----------------------------------------------
def test_merge_equals_single_pass(imbalanced) -> None:
    y, p, w = imbalanced
    whole = OperatingCurve.empty().update(y, p, w)
    cuts = [0, 123_457, 600_000, y.size]
    blocks = [(y[a:b], p[a:b], w[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    streamed = curves_from_blocks(blocks)
    summed = curves_from_blocks(blocks[:1]) + curves_from_blocks(blocks[1:])
    for other in (streamed, summed):
        np.testing.assert_array_equal(other.hist, whole.hist)
        np.testing.assert_allclose(other.whist, whole.whist, rtol=1e-12)
    assert OperatingCurve.empty().merge(whole).n_pairs == whole.n_pairs


def test_dict_round_trip_is_exact_and_small(imbalanced) -> None:
    y, p, w = imbalanced
    for weights in (None, w):
        c = OperatingCurve.empty().update(y, p, weights)
        text = json.dumps(c.to_dict())
        back = OperatingCurve.from_dict(json.loads(text))
        assert len(text) < (30_000 if weights is None else 120_000)
        for key, h in c.histograms().items():
            if h is None:
                assert back.histograms()[key] is None
            else:
                np.testing.assert_array_equal(back.histograms()[key], h)
        assert back.roc_auc() == c.roc_auc() and back.pr_auc() == c.pr_auc()
    with pytest.raises(MetricsError):
        OperatingCurve.from_dict({"format": "something else"})


def test_plot_curves_are_thinned_and_span_the_square(imbalanced) -> None:
    y, p, _ = imbalanced
    c = OperatingCurve.empty().update(y, p)
    fpr, tpr, thr = c.roc_curve(max_points=200)
    assert len(fpr) <= 200 and (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0) and np.all(np.diff(thr) <= 0)
    rec, prec, _ = c.pr_curve(max_points=200)
    assert len(rec) <= 200 and rec[-1] == 1.0 and np.all((prec >= 0) & (prec <= 1))


# ---- degenerate and bad input ------------------------------------------------------
def test_no_positives_gives_nan_without_raising() -> None:
    y = np.zeros(1000, dtype=bool)
    p = np.random.default_rng(0).random(1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ex = exact_scores(y, p)
        c = OperatingCurve.empty().update(y, p)
        summary = score_summary(c, baseline=c)
        ex_all = exact_scores(~y, p)
    assert math.isnan(ex["roc_auc"]) and math.isnan(ex["pr_auc"]) and ex["n_positive"] == 0
    assert math.isnan(ex_all["roc_auc"]) and ex_all["n_positive"] == 1000
    assert math.isnan(c.roc_auc()) and math.isnan(c.pr_auc()) and math.isnan(c.best_f1_threshold())
    assert summary["roc_auc"] is None and summary["molchan_area_skill"] is None
    json.dumps(summary, allow_nan=False)


def test_score_summary_is_json_ready(imbalanced) -> None:
    y, p, w = imbalanced
    c = OperatingCurve.empty().update(y, p, w)
    s = json.loads(json.dumps(score_summary(c, baseline=c), allow_nan=False))
    assert [row["threshold"] for row in s["thresholds"]] == list(PROTOCOL_THRESHOLDS)
    assert set(s["probability_gain"]) == {"0.01", "0.05", "0.1"}
    assert s["molchan_area_skill_weighted"] is not None and s["probability_gain"]["0.01"] > 1
    assert s["matched_tp"]["tp"] >= s["matched_tp"]["baseline_tp"] == s["best_f1"]["tp"]
    assert score_summary(OperatingCurve.empty().update(y, p))["probability_gain_weighted"] is None


def test_bad_input_raises_metrics_error() -> None:
    c = OperatingCurve.empty()
    with pytest.raises(MetricsError, match="NaN"):
        c.update([0, 1], np.array([0.1, np.nan]))
    with pytest.raises(MetricsError, match="differ in size"):
        c.update([0, 1, 0], np.array([0.1, 0.2]))
    with pytest.raises(MetricsError, match="0/1"):
        c.update(np.array([0, 2]), np.array([0.1, 0.2]))
    assert c.n_pairs == 0
    c.update([0, 1], np.array([0.1, 0.2]))
    with pytest.raises(MetricsError, match="without weights"):
        c.update([0, 1], np.array([0.1, 0.2]), np.array([1.0, 1.0]))
    with pytest.raises(MetricsError, match="weighted"):
        c + OperatingCurve.empty().update([1], np.array([0.3]), np.array([1.0]))
