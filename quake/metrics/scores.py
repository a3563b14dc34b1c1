"""Scores of a probabilistic forecast over (day, cell) pairs (PROTOCOL.md, "Scores").

- `exact_scores`: ROC AUC and average precision on raw arrays (scikit-learn), for data
  that fits in memory and as the reference the streaming curve is tested against.
- `OperatingCurve` (in `quake.metrics.curves`): the same scores, confusion counts at any
  threshold and the Molchan diagram from score histograms, filled block by block.
- Molchan (1990) error diagram: miss rate nu against alarm fraction tau, with tau the
  fraction of pairs alarmed (area) or the share of a reference rate alarmed (weighted,
  the naive baseline's probability per pair). Its area skill and probability gain.
- `score_summary`: everything above as one JSON-ready dict for the model card.

References: Molchan, G. M. (1990), Strategies in strong earthquake prediction, Phys.
Earth Planet. Inter. 61, 84-98. Zechar, J. D. & Jordan, T. H. (2008), Testing alarm-based
earthquake predictions, Geophys. J. Int. 172, 715-724.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from quake.data.protocol import PROTOCOL_THRESHOLDS
from quake.errors import MetricsError
from quake.metrics.bins import DEFAULT_DESIGN, BinDesign
from quake.metrics.curves import OperatingCurve, thin

__all__ = [
    "DEFAULT_DESIGN",
    "PROTOCOL_THRESHOLDS",
    "PROBABILITY_GAIN_TAUS",
    "BinDesign",
    "MetricsError",
    "OperatingCurve",
    "curves_from_blocks",
    "exact_scores",
    "matched_tp_threshold",
    "molchan",
    "molchan_area",
    "molchan_area_skill",
    "probability_gain",
    "score_summary",
    "thin",
    "threshold_table",
]

PROBABILITY_GAIN_TAUS: tuple[float, ...] = (0.01, 0.05, 0.10)


def exact_scores(y: np.ndarray, p: np.ndarray, weight: np.ndarray | None = None) -> dict[str, Any]:
    """ROC AUC and average precision of scores p for labels y, computed on the raw values.

    y: labels, any shape, bool or 0/1; p: probabilities, same size; weight: optional
    per-pair sample weights, same size. Returns roc_auc, pr_auc (average precision),
    n_pairs, n_positive; both areas are NaN (no exception) when y holds one class only.
    """
    y = np.asarray(y).ravel().astype(bool)
    p = np.asarray(p, dtype=np.float64).ravel()
    if y.size != p.size:
        raise MetricsError(f"labels ({y.size}) and scores ({p.size}) differ in size")
    w = None if weight is None else np.asarray(weight, dtype=np.float64).ravel()
    n_pos = int(np.count_nonzero(y))
    roc = pr = math.nan
    if 0 < n_pos < y.size:
        roc = float(roc_auc_score(y, p, sample_weight=w))
        pr = float(average_precision_score(y, p, sample_weight=w))
    return {"roc_auc": roc, "pr_auc": pr, "n_pairs": int(y.size), "n_positive": n_pos}


def curves_from_blocks(
    blocks: Iterable[Sequence[np.ndarray]], design: BinDesign = DEFAULT_DESIGN
) -> OperatingCurve:
    """One curve from an iterable of (y_block, p_block) or (y_block, p_block, weight_block).

    Blocks are any-shape arrays (e.g. (days, ny, nx) windows of labels and probabilities).
    """
    curve = OperatingCurve.empty(design)
    for block in blocks:
        curve.update(*block)
    return curve


def threshold_table(
    curve: OperatingCurve, thresholds: Sequence[float] = PROTOCOL_THRESHOLDS
) -> list[dict[str, Any]]:
    """Confusion counts for "alarm = p >= threshold" at each threshold.

    Each row: threshold, tp, fn, fp, tn, alarm_fraction (alarmed pairs / all pairs) and
    edge, the bin edge the counts belong to (equal to threshold for the protocol
    thresholds, which are exact edges of the default design).
    """
    rows = []
    for t in thresholds:
        c = curve.counts_at(float(t))
        frac = (c["tp"] + c["fp"]) / curve.n_pairs if curve.n_pairs else math.nan
        rows.append(
            {
                "threshold": float(t),
                "tp": c["tp"],
                "fn": c["fn"],
                "fp": c["fp"],
                "tn": c["tn"],
                "alarm_fraction": frac,
                "edge": c["edge"],
            }
        )
    return rows


def molchan(curve: OperatingCurve, weighted: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Molchan (1990) error diagram: (tau, nu), each shape (m,), tau growing from 0 to 1.

    One point per alarm set "p >= bin edge": nu = missed targets / all targets and
    tau = alarmed pairs / all pairs (weighted=False), or tau = sum of the curve's per-pair
    weights over alarmed pairs / their total (weighted=True: the weights are a reference
    rate such as the naive baseline's probability). Points are joined by straight lines,
    i.e. ties within a bin are alarmed at random. A forecast no better than random
    (area) or than the reference (weighted) lies on nu = 1 - tau. Empty arrays when the
    curve has no targets or no (weighted) pairs.
    """
    pts = curve.operating_points()
    if weighted:
        if not curve.weighted:
            raise MetricsError("curve has no weights: update it with weight_block=reference rate")
        alarm = pts["alarm_weight"]
    else:
        alarm = (pts["tp"] + pts["fp"]).astype(np.float64)
    total = alarm[0]
    if curve.n_positive == 0 or not total > 0:
        return np.array([]), np.array([])
    tau = alarm[::-1] / total
    nu = 1.0 - pts["tp"][::-1] / curve.n_positive
    keep = np.ones(len(tau), dtype=bool)
    keep[1:] = (np.diff(tau) != 0) | (np.diff(nu) != 0)
    return tau[keep], nu[keep]


def molchan_area(curve: OperatingCurve, weighted: bool = False) -> float:
    """Area under the Molchan trajectory nu(tau): 0.5 for a random forecast, ~0 for a perfect one.

    Zechar & Jordan's (2008) area skill score is 1 - molchan_area; NaN without targets.
    """
    tau, nu = molchan(curve, weighted)
    return float(np.trapezoid(nu, tau)) if len(tau) else math.nan


def molchan_area_skill(curve: OperatingCurve, weighted: bool = False) -> float:
    """Zechar & Jordan's (2008) area skill score: 1 - area under nu(tau).

    0.5 for a random forecast (relative to the reference that defines tau: cell area,
    or with ``weighted=True`` the naive baseline's rate), 1 for a perfect one, below
    0.5 for one worse than the reference. Without weights it is close to the ROC AUC
    when targets are rare.
    """
    return 1.0 - molchan_area(curve, weighted)


def probability_gain(
    curve: OperatingCurve, taus: Sequence[float] = PROBABILITY_GAIN_TAUS, weighted: bool = False
) -> dict[float, float]:
    """Probability gain G(tau) = (1 - nu(tau)) / tau at each alarm fraction tau in (0, 1].

    nu(tau) is read off the Molchan trajectory by linear interpolation (at a tau where
    the trajectory drops vertically, its lowest nu). G = 1 for a random forecast; a
    perfect one reaches 1 / tau once tau exceeds the share of pairs that are targets.
    """
    if any(not 0.0 < t <= 1.0 for t in taus):
        raise MetricsError(f"alarm fractions must lie in (0, 1], got {list(taus)}")
    tau, nu = molchan(curve, weighted)
    if not len(tau):
        return {float(t): math.nan for t in taus}
    last = np.append(np.diff(tau) != 0, True)  # last point of each equal-tau run: lowest nu
    nu_at = np.interp(np.asarray(taus, dtype=np.float64), tau[last], nu[last])
    return {float(t): float((1.0 - n) / t) for t, n in zip(taus, nu_at, strict=True)}


def matched_tp_threshold(curve: OperatingCurve, baseline: OperatingCurve) -> dict[str, Any]:
    """The threshold where `curve` catches as many targets as `baseline` at its best F1.

    Returns baseline_threshold, baseline_tp and threshold (the sparsest alarm set of
    `curve` with tp >= baseline_tp; NaN if unreachable), the view of the paper's Table III.
    """
    t_base = baseline.best_f1_threshold()
    tp_base = baseline.counts_at(t_base)["tp"] if not math.isnan(t_base) else 0
    t = curve.threshold_for_tp(tp_base) if not math.isnan(t_base) else math.nan
    return {"baseline_threshold": t_base, "baseline_tp": tp_base, "threshold": t}


def _jsonable(x: Any) -> Any:
    """Plain Python types for json.dumps: numpy scalars unwrapped, NaN/inf -> None."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple | np.ndarray):
        return [_jsonable(v) for v in x]
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(x) else None
    return x


def score_summary(
    curve: OperatingCurve,
    thresholds: Sequence[float] = PROTOCOL_THRESHOLDS,
    taus: Sequence[float] = PROBABILITY_GAIN_TAUS,
    baseline: OperatingCurve | None = None,
) -> dict[str, Any]:
    """All protocol scores of one (model, mask) curve as a JSON-ready dict (NaN -> None).

    Keys: n_pairs, n_positive, roc_auc, pr_auc, thresholds (`threshold_table` rows),
    best_f1 (a row at the best-F1 edge), molchan_area, molchan_area_skill,
    probability_gain ({str(tau): gain}), their *_weighted twins (None for an
    unweighted curve) and, given the naive baseline's curve, matched_tp (a row at the
    threshold catching as many targets as the baseline at its best F1).
    """
    out: dict[str, Any] = {
        "n_pairs": curve.n_pairs,
        "n_positive": curve.n_positive,
        "roc_auc": curve.roc_auc(),
        "pr_auc": curve.pr_auc(),
        "thresholds": threshold_table(curve, thresholds),
    }
    t_f1 = curve.best_f1_threshold()
    out["best_f1"] = None if math.isnan(t_f1) else threshold_table(curve, [t_f1])[0]
    for suffix, weighted in (("", False), ("_weighted", True)):
        ok = curve.weighted or not weighted
        out["molchan_area" + suffix] = molchan_area(curve, weighted) if ok else None
        out["molchan_area_skill" + suffix] = molchan_area_skill(curve, weighted) if ok else None
        out["probability_gain" + suffix] = probability_gain(curve, taus, weighted) if ok else None
    if baseline is not None:
        m = matched_tp_threshold(curve, baseline)
        row = threshold_table(curve, [m["threshold"]])[0] if not math.isnan(m["threshold"]) else {}
        out["matched_tp"] = {**m, **row, "threshold": m["threshold"]}
    return _jsonable(out)
