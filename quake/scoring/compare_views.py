"""What the Compare page draws from stored scoring summaries, as plain data: no figures.

- `interval_points`: each model's score with its 95 % block-bootstrap interval (one score,
  one mask), for the dot-and-whisker charts;
- `gain_matrix`: information gain per target of every model over every other (T-test,
  W-test p-values), for the pairwise matrix;
- `gain_over_time`: the information gain of one model over another in each window;
- `ntest_windows`: observed against expected positive cells per window, with the band;
- `mainshock_columns`: Table II's mainshock-target columns (issue 11);
- `calibration_statement`: one sentence on how far a model's probabilities can be read as
  probabilities where it sets its alarms (from its operating curve).

Summaries come from `quake.scoring.compare.load_summaries`; models whose summaries cannot
be paired (another Mc, period or catalog) are left out of a pair, never an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from quake.metrics import csep
from quake.metrics.curves import OperatingCurve
from quake.models.store.summaries import ScoringSummary
from quake.scoring.compare import ALPHA, compare, gain_per_window, intervals
from quake.scoring.tables import threshold_for_alarm_fraction

SCORES = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC"}
"""The scores drawn with intervals, and their titles."""

ALARM_FRACTION = 0.01
"""Where alarms are set, for the calibration statement: the top 1 % of cell-days (the
protocol's probability gain is read there too)."""


def interval_points(
    summaries: dict[str, ScoringSummary], score: str, mask: str
) -> list[dict[str, Any]]:
    """``[{"model", "mc", "value", "lower", "upper"}]`` of ``score`` (``roc_auc`` or
    ``pr_auc``) for ``mask``, best first; models without that mask are left out."""
    if score not in SCORES:
        raise ValueError(f"score must be one of {sorted(SCORES)}, got {score!r}")
    rows = []
    for name, s in summaries.items():
        if mask not in s.block_hist:
            continue
        b = intervals(s, mask)
        lo, hi = b[f"{score}_ci"]
        rows.append({"model": name, "mc": s.mc, "value": float(b[score]), "lower": lo, "upper": hi})
    return sorted(rows, key=lambda r: -r["value"] if math.isfinite(r["value"]) else math.inf)


def n_targets(s: ScoringSummary) -> int:
    """Target cells of the summary's non-overlapping windows."""
    return int(s.target_offset[-1])


def gain_matrix(summaries: dict[str, ScoringSummary], mask: str = "all") -> dict[str, Any]:
    """Information gain per target of row model over column model, every pair.

    Returns ``names`` (sorted by their mean gain over the others, best first) and square
    arrays ``gain``, ``lower``, ``upper`` (the T-test's 95 % interval), ``p_t``, ``p_w``
    (NaN where the two cannot be paired, and on the diagonal), and ``significant``: both
    p-values below 0.05. Each unordered pair is computed once: B over A is the negative of
    A over B with the same p-values (`quake.scoring.compare.compare`).
    """
    names = list(summaries)
    n = len(names)
    out = {k: np.full((n, n), np.nan) for k in ("gain", "lower", "upper", "p_t", "p_w")}
    for i in range(n):
        for j in range(i + 1, n):
            a, b = summaries[names[i]], summaries[names[j]]
            if a.same_targets(b) or n_targets(a) < 2:
                continue  # cannot be paired, or nothing to compare on: left blank
            c = compare(a, b, mask)
            t, w = c["t_test"], c["w_test"]
            out["gain"][i, j], out["gain"][j, i] = t["gain"], -t["gain"]
            out["lower"][i, j], out["upper"][i, j] = t["lower"], t["upper"]
            out["lower"][j, i], out["upper"][j, i] = -t["upper"], -t["lower"]
            out["p_t"][i, j] = out["p_t"][j, i] = t["p_value"]
            out["p_w"][i, j] = out["p_w"][j, i] = w["p_value"]
    with np.errstate(invalid="ignore"):
        mean = np.array([np.nanmean(r) if np.isfinite(r).any() else -np.inf for r in out["gain"]])
    order = np.argsort(-mean, kind="stable")
    res: dict[str, Any] = {k: v[np.ix_(order, order)] for k, v in out.items()}
    with np.errstate(invalid="ignore"):
        res["significant"] = (res["p_t"] < ALPHA) & (res["p_w"] < ALPHA)
    res["names"] = [names[k] for k in order]
    return res


def gain_over_time(a: ScoringSummary, b: ScoringSummary) -> dict[str, Any]:
    """Information gain per target of A over B in each window: ``start`` (forecast days),
    ``gain`` (NaN in windows without targets), ``n_targets`` per window."""
    why = a.same_targets(b)
    if why:
        raise ValueError(f"the two models cannot be paired: {why}")
    return {
        "start": a.window["start"].astype(int).tolist(),
        "gain": gain_per_window(a, b).tolist(),
        "n_targets": np.diff(a.target_offset).astype(int).tolist(),
    }


def largest_windows(
    x: Sequence[Any],
    gain: Sequence[float],
    n_targets: Sequence[int],
    k: int = 3,
    total: bool = False,
) -> str:
    """The ``k`` windows with the largest absolute gain per target (``total``: per window,
    gain times targets), as text: ``"2011-03-01 (+1.23, 45 targets), ..."``; ``"none"``
    when no window has targets."""
    g = np.asarray([v if v is not None else np.nan for v in gain], dtype=float)
    if total:
        g = g * np.asarray(n_targets, dtype=float)
    ok = np.flatnonzero(np.isfinite(g))
    if ok.size == 0:
        return "none"
    top = ok[np.argsort(-np.abs(g[ok]), kind="stable")[:k]]
    return ", ".join(f"{x[i]} ({g[i]:+.2f}, {int(n_targets[i])} targets)" for i in top)


def ntest_windows(s: ScoringSummary) -> dict[str, Any]:
    """The N-test of each window: ``start``, ``observed``, ``expected`` (sum p), the
    2.5 % / 97.5 % quantiles ``q_low``, ``q_high`` of the Poisson-binomial count, and the
    number of windows where the forecast is too low / too high (delta1 / delta2 < 0.025)."""
    w = s.window
    return {
        "start": w["start"].astype(int).tolist(),
        "observed": w["n_obs"].astype(int).tolist(),
        "expected": w["sum_p"].astype(float).tolist(),
        "q_low": w["q_low"].astype(int).tolist(),
        "q_high": w["q_high"].astype(int).tolist(),
        "too_low": int(np.sum(w["delta1"] < ALPHA / 2)),
        "too_high": int(np.sum(w["delta2"] < ALPHA / 2)),
    }


def mainshock_columns(s: ScoringSummary) -> dict[str, float]:
    """``{"<score> (<mask>, mainshocks)": value}`` from the stored mainshock-target curves
    (empty when the summary has none)."""
    if not s.mainshocks:
        return {}
    out = {}
    for mask in ("all", "active"):
        c = s.mainshocks["curves"].get(mask)
        if c is None:
            continue
        out[f"ROC AUC ({mask}, mainshocks)"] = float(c.roc_auc())
        out[f"PR AUC ({mask}, mainshocks)"] = float(c.pr_auc())
    return out


def calibration_ratio(curve: OperatingCurve, threshold: float) -> dict[str, float] | None:
    """Cell-days with ``p >= threshold``: their count, mean forecast, observed frequency and
    ``ratio`` = mean forecast / observed frequency (inf when nothing was observed); None
    when no cell-day reaches the threshold."""
    rel = csep.reliability(curve, np.array([0.0, threshold, 1.0 + 1e-12]))
    for lo, pred, obs, n in zip(
        rel["bin_low"], rel["predicted"], rel["observed"], rel["count"], strict=True
    ):
        if lo >= threshold:
            ratio = pred / obs if obs > 0 else math.inf
            return {"count": n, "predicted": pred, "observed": obs, "ratio": ratio}
    return None


def rarity_statement(curve: OperatingCurve) -> str:
    """One sentence on how rare targets are, when they are (under 1 in 100 cell-days), and
    where a usable alarm therefore lies on the ROC curve; "" otherwise."""
    if not curve.n_positive or curve.n_positive * 100 >= curve.n_pairs:
        return ""
    return (
        f"With about one target in {curve.n_pairs / curve.n_positive:,.0f} cell-days here, a "
        "usable alarm lives at the left edge (a few % of quiet cells alarmed)."
    )


def calibration_statement(curve: OperatingCurve, fraction: float = ALARM_FRACTION) -> str:
    """One sentence: how far the curve's probabilities can be read as probabilities in the
    range where alarms are set: the cell-days at or above the threshold that alarms
    ``fraction`` of them (ties in a bin make the share a little larger)."""
    t = threshold_for_alarm_fraction(curve, fraction)
    r = calibration_ratio(curve, t)
    if r is None or r["count"] == 0:
        return f"Calibration: no cell-day reaches P ≥ {t:.2g}; nothing to say."
    share = r["count"] / curve.n_pairs if curve.n_pairs else 0.0
    where = f"the {share:.2%} of cell-days with the highest forecasts (P ≥ {t:.2g})"
    head = (
        f"Calibration: in {where}, the mean forecast is {r['predicted']:.2g} and the observed "
        f"frequency {r['observed']:.2g} ({r['count']:,} cell-days)"
    )
    ratio = r["ratio"]
    if not math.isfinite(ratio):
        return head + ": no target was observed there, so these numbers are not probabilities."
    if 0.8 <= ratio <= 1.25:
        return head + ": there the numbers can be read as probabilities (within 25 %)."
    if ratio > 1:
        return head + f": probabilities are about {ratio:.2g} times too high there."
    return head + f": probabilities are about {1 / ratio:.2g} times too low there."
