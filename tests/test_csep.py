"""CSEP scores on arrays (quake.metrics.csep), cross-checked against pycsep 0.8 (a dev
dependency in requirements-dev.txt: the cross-checks fail, not skip, without it)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from quake.errors import MetricsError
from quake.metrics import csep
from quake.metrics.curves import OperatingCurve


def _pycsep():
    try:
        from csep.core import binomial_evaluations, poisson_evaluations
    except ImportError as err:  # pragma: no cover - the message is the point
        pytest.fail(f"pycsep is missing ({err}); pip install -r requirements-dev.txt")
    return binomial_evaluations, poisson_evaluations


@pytest.fixture
def forecasts() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    p1 = rng.beta(0.3, 30, size=5000)
    p2 = rng.beta(0.3, 30, size=5000)
    y = (rng.random(5000) < 3 * p1).astype(np.int64)
    return p1, p2, y


def _dp(p: np.ndarray) -> np.ndarray:
    pmf = np.array([1.0])
    for q in p:
        pmf = np.append(pmf * (1 - q), 0.0) + np.append(0.0, pmf * q)
    return pmf


def test_poisson_binomial_matches_exact_recursion() -> None:
    rng = np.random.default_rng(0)
    p = rng.beta(0.3, 20, size=2000)
    p[:6] = [0.5, 0.9, 0.99, 1.0, 0.0, 0.06]
    exact, got = _dp(p), csep.poisson_binomial_pmf(p)
    n = len(got)
    assert np.abs(got - exact[:n]).max() < 1e-12
    assert exact[n:].sum() < 1e-12
    small = csep.poisson_binomial_pmf([0.3, 0.5])
    assert np.allclose(small, [0.35, 0.5, 0.15], atol=1e-14)


def test_number_test_tails() -> None:
    p = np.full(1000, 0.01)  # binomial(1000, 0.01)
    from scipy import stats

    nt = csep.number_test(15, p)
    assert nt["expected"] == pytest.approx(10.0)
    assert nt["delta1"] == pytest.approx(stats.binom.sf(14, 1000, 0.01), abs=1e-12)
    assert nt["delta2"] == pytest.approx(stats.binom.cdf(15, 1000, 0.01), abs=1e-12)
    assert nt["q_low"] == stats.binom.ppf(0.025, 1000, 0.01)
    assert nt["q_high"] == stats.binom.ppf(0.975, 1000, 0.01)


def test_log_likelihood_agrees_with_pycsep(forecasts) -> None:
    binomial, _ = _pycsep()
    p1, _, y = forecasts
    ours = csep.binary_log_likelihood(p1, y)
    theirs = binomial.binary_joint_log_likelihood_ndarray(csep.rates(p1), y)
    assert abs(ours - theirs) < 1e-9
    from_sums = csep.log_likelihood_from_sums(p1[y > 0], float(csep.rates(p1).sum()))
    assert abs(from_sums - ours) < 1e-9


def test_t_and_w_tests_agree_with_pycsep(forecasts) -> None:
    _, poisson = _pycsep()
    p1, p2, y = forecasts
    r1, r2, t = csep.rates(p1), csep.rates(p2), y > 0
    n1, n2 = float(r1.sum()), float(r2.sum())
    ours = csep.paired_t_test(r1[t], r2[t], n1, n2)
    theirs = poisson._t_test_ndarray(r1[t], r2[t], int(t.sum()), n1, n2)
    assert abs(ours["gain"] - theirs["information_gain"]) < 1e-9
    assert abs(ours["lower"] - theirs["ig_lower"]) < 1e-9
    assert abs(ours["upper"] - theirs["ig_upper"]) < 1e-9
    assert abs(ours["t"] - theirs["t_statistic"]) < 1e-9
    # the binary version (information gain per active bin): pycsep 0.8.0's module uses `np`
    # without importing it, so it is given numpy here; the formula is the one above
    binomial, _ = _pycsep()
    if not hasattr(binomial, "np"):
        binomial.np = np

    class _Catalog:
        def spatial_magnitude_counts(self) -> np.ndarray:
            return y.reshape(-1, 1)

    b = binomial.matrix_binary_t_test(r1[t], r2[t], int(t.sum()), n1, n2, _Catalog())
    assert abs(ours["gain"] - b["information_gain"]) < 1e-9
    assert abs(ours["lower"] - b["ig_lower"]) < 1e-9 and abs(ours["upper"] - b["ig_upper"]) < 1e-9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = poisson._w_test_ndarray(np.log(r1[t]) - np.log(r2[t]), (n1 - n2) / t.sum())
    ow = csep.w_test(r1[t], r2[t], n1, n2)
    assert abs(ow["z"] - w["z_statistic"]) < 1e-9
    assert abs(ow["p_value"] - w["probability"]) < 1e-9


def test_gain_of_itself_is_zero_and_antisymmetric(forecasts) -> None:
    p1, p2, y = forecasts
    r1, r2, t = csep.rates(p1), csep.rates(p2), y > 0
    n1, n2 = float(r1.sum()), float(r2.sum())
    same = csep.paired_t_test(r1[t], r1[t], n1, n1)
    assert (same["gain"], same["lower"], same["upper"], same["p_value"]) == (0.0, 0.0, 0.0, 1.0)
    assert csep.w_test(r1[t], r1[t], n1, n1)["p_value"] == 1.0
    ab, ba = csep.paired_t_test(r1[t], r2[t], n1, n2), csep.paired_t_test(r2[t], r1[t], n2, n1)
    assert ab["gain"] == -ba["gain"] and ab["p_value"] == ba["p_value"]
    assert ab["gain"] > 0 and ab["p_value"] < 0.05  # y was drawn from p1


def test_brier_and_bad_input(forecasts) -> None:
    p1, _, y = forecasts
    direct = float(np.mean((p1 - (y > 0)) ** 2))
    assert csep.brier_score(float(np.sum(p1**2)), p1[y > 0], p1.size) == pytest.approx(
        direct, abs=1e-15
    )
    with pytest.raises(MetricsError, match="NaN"):
        csep.clip_prob(np.array([0.1, np.nan]))
    with pytest.raises(MetricsError, match="at least 2"):
        csep.paired_t_test(np.ones(1), np.ones(1), 1.0, 1.0)
    with pytest.raises(MetricsError, match=r"\[0, 1\]"):
        csep.poisson_binomial_pmf([0.5, 1.5])


def test_reliability_from_curve(forecasts) -> None:
    p1, _, y = forecasts
    curve = OperatingCurve.empty().update(y > 0, p1)
    rel = csep.reliability(curve)
    assert sum(rel["count"]) == p1.size and sum(rel["positives"]) == int((y > 0).sum())
    lo, hi, pred = map(np.array, (rel["bin_low"], rel["bin_high"], rel["predicted"]))
    assert np.all((pred >= lo) & (pred <= hi))
    # the mean prediction of a bin is close to the true mean of the scores in it
    k = np.searchsorted(rel["bin_low"], 0.01, side="right") - 1
    inside = (p1 >= lo[k]) & (p1 < hi[k])
    assert pred[k] == pytest.approx(p1[inside].mean(), rel=0.01)


def test_area_skill_is_the_molchan_one(forecasts) -> None:
    p1, _, y = forecasts
    curve = OperatingCurve.empty().update(y > 0, p1)
    assert csep.area_skill_score(curve) == pytest.approx(curve.roc_auc(), abs=0.02)
