"""Scores and paired comparisons from stored scoring summaries: no forecasting, milliseconds.

`model_scores` gives one model's CSEP numbers (log-likelihood, Brier score, N-test) and
its bootstrap intervals; `compare` two models' paired results: information gain per target
of A over B (T- and W-test, pooled over the non-overlapping windows, and per window), the
log-likelihood and Brier differences, and the paired block bootstrap of the AUC
differences. Summaries come from `quake.models.store.summaries.load_summary`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from quake.data.protocol import PROTOCOL_THRESHOLDS
from quake.errors import ModelError
from quake.metrics import bootstrap, csep
from quake.models.store.summaries import ScoringSummary, has_summary, load_summary

ALPHA = 0.05


def _none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def per_window(values: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Sums of ``values`` over each window's targets ``values[offset[w]:offset[w + 1]]``;
    0 for a window without targets, wherever it lies (``np.add.reduceat`` fails on empty
    windows at the end)."""
    counts = np.diff(offset)
    which = np.repeat(np.arange(len(counts)), counts)
    return np.bincount(which, weights=values, minlength=len(counts)).astype(np.float64)


def window_log_likelihood(s: ScoringSummary) -> np.ndarray:
    """Bernoulli log-likelihood of each window ``(W,)``."""
    lp = np.log(csep.clip_prob(s.target_p)) - np.log1p(-csep.clip_prob(s.target_p))
    return per_window(lp, s.target_offset) - s.window["sum_rate"]


def intervals(s: ScoringSummary, mask: str = "all") -> dict[str, Any]:
    """Block-bootstrap intervals of ROC AUC, PR AUC and the threshold counts of one mask."""
    if mask not in s.block_hist:
        raise ModelError(f"the summary has no block histograms of mask {mask!r}")
    return bootstrap.intervals(
        s.block_hist[mask], s.design.edges, PROTOCOL_THRESHOLDS, point=s.fine.get(mask)
    )


def model_scores(s: ScoringSummary) -> dict[str, Any]:
    """One model's CSEP scores over the windows: log-likelihood (total, per target, per
    window), Brier score, N-test (windows where the forecast is too low / too high at
    alpha/2 each side, observed and expected totals), and the bootstrap intervals (all)."""
    ll = window_log_likelihood(s)
    n_t = int(s.target_offset[-1])
    w = s.window
    brier = csep.brier_score(float(w["sum_p2"].sum()), s.target_p, s.n_cells * s.n_windows)
    return {
        "n_windows": s.n_windows,
        "n_targets": n_t,
        "log_likelihood": float(ll.sum()),
        "log_likelihood_per_target": float(ll.sum() / n_t) if n_t else None,
        "log_likelihood_window": ll.tolist(),
        "brier": brier,
        "n_test": {
            "observed": int(w["n_obs"].sum()),
            "expected": float(w["sum_p"].sum()),
            "windows_too_low": int(np.sum(w["delta1"] < ALPHA / 2)),
            "windows_too_high": int(np.sum(w["delta2"] < ALPHA / 2)),
            "window_start": w["start"].tolist(),
            "window_observed": w["n_obs"].tolist(),
            "window_expected": w["sum_p"].tolist(),
            "window_q_low": w["q_low"].tolist(),
            "window_q_high": w["q_high"].tolist(),
            "window_delta1": w["delta1"].tolist(),
            "window_delta2": w["delta2"].tolist(),
        },
        "bootstrap": intervals(s, "all"),
    }


def fine_diff(a: ScoringSummary, b: ScoringSummary, mask: str) -> dict[str, float | None]:
    """Fine-bin AUC differences A - B of the whole period (None where either is missing)."""
    fa, fb = a.fine.get(mask, {}), b.fine.get(mask, {})
    return {
        k: fa[k] - fb[k] if fa.get(k) is not None and fb.get(k) is not None else None
        for k in ("roc_auc", "pr_auc")
    }


def gain_per_window(a: ScoringSummary, b: ScoringSummary) -> np.ndarray:
    """Information gain per target of A over B in each window (NaN without targets)."""
    d = np.log(csep.rates(a.target_p)) - np.log(csep.rates(b.target_p))
    n = np.diff(a.target_offset)
    s = per_window(d, a.target_offset)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (s - (a.window["sum_rate"] - b.window["sum_rate"])) / np.where(n > 0, n, np.nan)


def compare(a: ScoringSummary, b: ScoringSummary, mask: str = "all") -> dict[str, Any]:
    """Paired results of A against B (positive: A better). A against itself gives gain 0
    exactly; B against A gives the negatives (and the same p-values)."""
    why = a.same_targets(b)
    if why:
        raise ModelError(f"the two models cannot be paired: {why}")
    n_t = int(a.target_offset[-1])
    if n_t < 2:
        raise ModelError(
            f"the {a.n_windows} test windows hold {n_t} target cell(s) of M ≥ {a.mc:g}: two "
            "forecasts are compared on at least 2 (the catalog has too few events at this "
            "Mc in the test period)"
        )
    ra, rb = csep.rates(a.target_p), csep.rates(b.target_p)
    na, nb = float(a.window["sum_rate"].sum()), float(b.window["sum_rate"].sum())
    t = csep.paired_t_test(ra, rb, na, nb, ALPHA)
    w = csep.w_test(ra, rb, na, nb)
    lla, llb = window_log_likelihood(a), window_log_likelihood(b)
    n_pairs = a.n_cells * a.n_windows
    ba = csep.brier_score(float(a.window["sum_p2"].sum()), a.target_p, n_pairs)
    bb = csep.brier_score(float(b.window["sum_p2"].sum()), b.target_p, n_pairs)
    boot = bootstrap.paired_intervals(
        a.block_hist[mask], b.block_hist[mask], point_diff=fine_diff(a, b, mask)
    )
    return {
        "mask": mask,
        "n_windows": a.n_windows,
        "n_targets": t["n_targets"],
        "t_test": {k: t[k] for k in ("gain", "lower", "upper", "t", "p_value")},
        "w_test": {k: w[k] for k in ("z", "p_value", "median")},
        "gain_per_window": [_none(x) for x in gain_per_window(a, b)],
        "log_likelihood_diff": float(lla.sum() - llb.sum()),
        "brier_diff": ba - bb,
        "n_test": {
            "a_windows_rejected": int(
                np.sum((a.window["delta1"] < ALPHA / 2) | (a.window["delta2"] < ALPHA / 2))
            ),
            "b_windows_rejected": int(
                np.sum((b.window["delta1"] < ALPHA / 2) | (b.window["delta2"] < ALPHA / 2))
            ),
            "a_expected": float(a.window["sum_p"].sum()),
            "b_expected": float(b.window["sum_p"].sum()),
            "observed": int(a.window["n_obs"].sum()),
        },
        "bootstrap": boot,
    }


# -- tables over many models (the report and the Compare page) ------------------------------
def load_summaries(
    folders: list[Path],
) -> tuple[dict[str, ScoringSummary], dict[str, str]]:
    """The summaries of model folders by folder name, and an error text for each folder
    whose summary is missing or refused (never raises for a bad folder)."""
    out: dict[str, ScoringSummary] = {}
    errors: dict[str, str] = {}
    for folder in folders:
        if not has_summary(folder):
            errors[folder.name] = "no scoring summary (python scripts/rescore.py FOLDER)"
            continue
        try:
            out[folder.name] = load_summary(folder)
        except ModelError as err:
            errors[folder.name] = str(err)
    return out, errors


def interval_rows(summaries: dict[str, ScoringSummary]) -> list[dict[str, Any]]:
    """Per model and mask: point ROC/PR AUC (coarse bins) and their 95 % intervals."""
    rows = []
    for name, s in summaries.items():
        row: dict[str, Any] = {"model": name, "mc": s.mc}
        for mask in s.block_hist:
            b = intervals(s, mask)
            row[mask] = {k: b[k] for k in ("roc_auc", "roc_auc_ci", "pr_auc", "pr_auc_ci")}
        rows.append(row)
    return rows


def pairwise_gains(summaries: dict[str, ScoringSummary], reference: str) -> list[dict[str, Any]]:
    """Each other model against ``reference`` (same Mc and targets): gain per target with
    its interval and the T- and W-test p-values, LL and Brier differences."""
    ref = summaries[reference]
    rows = []
    for name, s in summaries.items():
        if name == reference or s.same_targets(ref):
            continue
        c = compare(s, ref)
        rows.append(
            {
                "model": name,
                "reference": reference,
                "gain": c["t_test"]["gain"],
                "lower": c["t_test"]["lower"],
                "upper": c["t_test"]["upper"],
                "p_t": c["t_test"]["p_value"],
                "p_w": c["w_test"]["p_value"],
                "log_likelihood_diff": c["log_likelihood_diff"],
                "brier_diff": c["brier_diff"],
            }
        )
    return rows


def adjacent_orderings(
    summaries: dict[str, ScoringSummary], score: str = "roc_auc", mask: str = "all"
) -> list[dict[str, Any]]:
    """Models of one Mc ranked by ``score`` (coarse-bin point value), and for each adjacent
    pair the paired-bootstrap difference (higher - lower) with interval and p;
    ``significant`` when the interval excludes 0."""
    pts = {
        n: float(intervals(s, mask)[score]) for n, s in summaries.items() if mask in s.block_hist
    }
    order = sorted(pts, key=lambda n: -pts[n])
    rows = []
    for hi, lo in zip(order, order[1:], strict=False):
        a, b = summaries[hi], summaries[lo]
        if a.same_targets(b):
            continue
        d = bootstrap.paired_intervals(
            a.block_hist[mask], b.block_hist[mask], point_diff=fine_diff(a, b, mask)
        )
        ci = d[f"{score}_diff_ci"]
        rows.append(
            {
                "higher": hi,
                "lower": lo,
                "diff": d[f"{score}_diff"],
                "ci": ci,
                "p": d[f"{score}_p"],
                "significant": bool(ci[0] > 0 or ci[1] < 0),
            }
        )
    return rows
