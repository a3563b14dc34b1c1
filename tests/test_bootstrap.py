"""Block bootstrap over stored per-block histograms (quake.metrics.bootstrap) and the
block observer of the scoring pass (quake.scoring.scorepass)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from quake.data.forecast_data import ForecastData
from quake.errors import MetricsError
from quake.metrics import bootstrap
from quake.metrics.curves import OperatingCurve
from quake.models import create
from quake.scoring.evaluate import evaluate
from quake.scoring.scorepass import BlockHistograms, WindowStats

MC = 3.5


def _blocks(seed: int, n_blocks: int = 40, shift: float = 1.0) -> tuple[np.ndarray, list]:
    """Per-block histograms of random scores (positives shifted up by ``shift`` logits)."""
    rng = np.random.default_rng(seed)
    curves = []
    for _ in range(n_blocks):
        y = rng.random(4000) < 0.02
        z = rng.normal(-4, 1.5, 4000) + shift * y
        curves.append(OperatingCurve.empty().update(y, 1 / (1 + np.exp(-z))))
    return np.stack([c.hist for c in curves]), curves


def test_rows_agree_with_operating_curve() -> None:
    hist, curves = _blocks(1)
    total = curves[0]
    for c in curves[1:]:
        total = total + c
    assert bootstrap.roc_auc_rows(hist.sum(axis=0)) == pytest.approx(total.roc_auc(), abs=1e-12)
    assert bootstrap.pr_auc_rows(hist.sum(axis=0)) == pytest.approx(total.pr_auc(), abs=1e-12)
    c = bootstrap.counts_rows(hist.sum(axis=0), total.edges, [1e-4, 0.1, 0.5])
    for i, t in enumerate((1e-4, 0.1, 0.5)):
        assert c["tp"][i] == total.counts_at(t)["tp"] and c["fp"][i] == total.counts_at(t)["fp"]


def test_intervals_cover_the_point_and_shrink_with_more_blocks() -> None:
    hist, _ = _blocks(2)
    t0 = time.perf_counter()
    r = bootstrap.intervals(hist, OperatingCurve.empty().edges, [0.1])
    assert time.perf_counter() - t0 < 10  # seconds, not minutes
    for key in ("roc_auc", "pr_auc"):
        lo, hi = r[f"{key}_ci"]
        assert lo < r[key] < hi
    assert (
        r["thresholds"][0]["tp_ci"][0] <= r["thresholds"][0]["tp"] <= r["thresholds"][0]["tp_ci"][1]
    )
    wide = bootstrap.intervals(hist[:8])["roc_auc_ci"]
    assert np.diff(wide)[0] > np.diff(r["roc_auc_ci"])[0]
    assert bootstrap.intervals(hist) == bootstrap.intervals(hist)  # seeded
    assert bootstrap.intervals(hist, seed=1)["roc_auc_ci"] != r["roc_auc_ci"]


def test_paired_difference_is_zero_for_itself_and_antisymmetric() -> None:
    a, _ = _blocks(3, shift=2.0)
    b, _ = _blocks(3, shift=0.5)  # same labels (same seed), weaker scores
    same = bootstrap.paired_intervals(a, a)
    assert same["roc_auc_diff"] == 0 and same["roc_auc_diff_ci"] == [0.0, 0.0]
    assert same["roc_auc_p"] == 1.0
    ab, ba = bootstrap.paired_intervals(a, b), bootstrap.paired_intervals(b, a)
    assert ab["roc_auc_diff"] == -ba["roc_auc_diff"] > 0
    assert ab["roc_auc_diff_ci"][0] > 0 and ab["roc_auc_p"] < 0.01
    assert ab["pr_auc_diff_ci"] == pytest.approx([-x for x in ba["pr_auc_diff_ci"][::-1]])


def test_resamples_draw_runs_of_consecutive_blocks_circularly() -> None:
    """Stop 27's audit: blocks drawn one by one lost the covariance of neighbouring blocks
    (intervals ~15 % narrow on simulated days); runs of `RUN_BLOCKS` keep it."""
    assert [bootstrap.run_length(n) for n in (2, 7, 8, 11, 12, 65)] == [1, 1, 2, 2, 3, 3]
    n_blocks = 65
    w = bootstrap.resample_weights(n_blocks, 1000, seed=3)
    assert w.shape == (1000, n_blocks) and (w.sum(axis=1) == n_blocks).all()
    # circular: every block is drawn equally often on average, the ends included
    assert np.abs(w.mean(axis=0) - 1).max() < 0.15
    # a run of 3 makes a block's neighbours drawn with it: weights of adjacent blocks are
    # positively correlated (drawn one by one they are slightly negatively correlated)
    lag1 = np.mean([np.corrcoef(w[:, b], w[:, b + 1])[0, 1] for b in range(n_blocks - 1)])
    iid = bootstrap.resample_weights(n_blocks, 1000, seed=3, run=1)
    lag1_iid = np.mean([np.corrcoef(iid[:, b], iid[:, b + 1])[0, 1] for b in range(n_blocks - 1)])
    assert lag1 > 0.4 and lag1_iid < 0.05
    hist, _ = _blocks(0, n_blocks=n_blocks)
    out = bootstrap.intervals(hist)
    assert out["run_blocks"] == 3 and out["n_blocks"] == n_blocks


def test_bad_input() -> None:
    hist, _ = _blocks(4, n_blocks=3)
    with pytest.raises(MetricsError, match="at least 2 blocks"):
        bootstrap.resample_weights(1)
    with pytest.raises(MetricsError, match="1,000"):
        bootstrap.intervals(hist, n=100)
    with pytest.raises(MetricsError, match="same blocks"):
        bootstrap.paired_intervals(hist, hist[:2])


def test_a_period_of_one_block_gets_point_values_and_no_interval() -> None:
    """Stop 27's audit: a derived protocol's short period (an 86-day test period of a
    450-day catalog) made `evaluate` and `compare` fail with no score at all."""
    hist, curves = _blocks(4, n_blocks=1)
    one = bootstrap.intervals(hist, np.linspace(0, 1, hist.shape[2] + 1), [0.5])
    assert one["roc_auc"] == pytest.approx(bootstrap.roc_auc_rows(hist[0]))
    assert all(np.isnan(one["roc_auc_ci"])) and all(np.isnan(one["pr_auc_ci"]))
    assert one["n_blocks"] == 1 and "shorter than two blocks" in one["note"]
    assert one["thresholds"][0]["tp"] >= 0 and all(np.isnan(one["thresholds"][0]["tp_ci"]))
    other, _ = _blocks(5, n_blocks=1, shift=0.5)
    two = bootstrap.paired_intervals(hist, other)
    want = bootstrap.roc_auc_rows(hist[0]) - bootstrap.roc_auc_rows(other[0])
    assert two["roc_auc_diff"] == pytest.approx(want)
    assert np.isnan(two["roc_auc_p"]) and all(np.isnan(two["pr_auc_diff_ci"]))


def test_block_observer_matches_the_period_curve(aftershock_catalog, tiny_protocol) -> None:
    data = ForecastData.build(aftershock_catalog, MC, tiny_protocol)
    model = create("ri").fit(data, final=True)
    start, stop = data.days("test")
    blocks = BlockHistograms(data, "test", ("all", "active"), block_days=20)
    windows = WindowStats(data, "test")
    curves = evaluate(model, data, "test", chunk=7, observers=[blocks, windows])
    assert blocks.n_blocks == (stop - start) // 20
    for m in ("all", "active"):
        h = blocks.hist[m]
        assert h.sum() == curves[m].n_pairs and h[:, 1].sum() == curves[m].n_positive
        assert bootstrap.roc_auc_rows(h.sum(axis=0)) == pytest.approx(curves[m].roc_auc(), abs=3e-3)
    # the last block takes the remainder
    assert h[-1].sum() == (stop - start - 20 * (blocks.n_blocks - 1)) * data.mask("active").sum()
    window, off, cells, p = windows.arrays()
    assert list(window["start"]) == list(range(start, stop, 40))
    day = int(window["start"][1])
    y = data.targets.dense(day, day + 1).ravel()
    assert list(cells[off[1] : off[2]]) == list(np.flatnonzero(y))
    forecast = model.predict(data, day, day + 1).ravel()
    assert np.allclose(p[off[1] : off[2]], forecast[y > 0])
    assert window["sum_p"][1] == pytest.approx(forecast.astype(np.float64).sum(), rel=1e-6)


def test_expanded_percentiles_widen_for_few_draws_and_vanish_for_many() -> None:
    """Hesterberg's expanded percentile level: 22 runs (the test period's 64 blocks in runs
    of 3) ask for the 96.7 % percentiles to give a 95 % interval; the correction shrinks
    towards none as the draws grow, and is none below 2 draws."""
    assert bootstrap.runs_per_resample(64) == 22
    assert bootstrap.expanded_level(0.95, 22) == pytest.approx(0.96671, abs=1e-4)
    levels = [bootstrap.expanded_level(0.95, u) for u in (3, 10, 22, 100, 10_000)]
    assert all(a > b for a, b in zip(levels, levels[1:], strict=False))
    assert levels[-1] == pytest.approx(0.95, abs=1e-4)
    assert bootstrap.expanded_level(0.95, 1) == 0.95
    hist, _ = _blocks(5)
    plain = bootstrap.intervals(hist, expand=False)
    wide = bootstrap.intervals(hist)
    assert wide["percentile_level"] > plain["percentile_level"] == 0.95
    for key in ("roc_auc_ci", "pr_auc_ci"):
        assert wide[key][0] < plain[key][0] and wide[key][1] > plain[key][1]


def _pair(seed: int, n_blocks: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Two models' block histograms on the same labels, each with its own noise, equally
    good on average: their difference is noise, so its p-value falls anywhere."""
    rng = np.random.default_rng(seed)
    a, b = [], []
    for _ in range(n_blocks):
        y = rng.random(2000) < 0.02
        for out in (a, b):
            z = rng.normal(-4, 1.5, y.size) + 1.0 * y
            out.append(OperatingCurve.empty().update(y, 1 / (1 + np.exp(-z))).hist)
    return np.stack(a), np.stack(b)


def test_a_paired_interval_excludes_zero_exactly_when_p_is_below_five_percent() -> None:
    """The p-value is mapped as the interval is expanded, so the two verdicts agree (up to
    the quantiles' interpolation between resamples, hence the margin around 0.05)."""
    ps = []
    for seed in range(40):
        d = bootstrap.paired_intervals(*_pair(seed))
        for key in ("roc_auc", "pr_auc"):
            lo, hi = d[f"{key}_diff_ci"]
            p = d[f"{key}_p"]
            ps.append(p)
            if p < 0.045:
                assert lo > 0 or hi < 0, (seed, key, p, lo, hi)
            elif p > 0.055:
                assert lo <= 0 <= hi, (seed, key, p, lo, hi)
    assert min(ps) < 0.045 and max(ps) > 0.5  # both verdicts were put to the test
    assert bootstrap.expanded_p(0.0, 22) == 0.0 and bootstrap.expanded_p(1.0, 22) == 1.0
    assert bootstrap.expanded_p(0.0333, 22) == pytest.approx(0.05, abs=0.002)
