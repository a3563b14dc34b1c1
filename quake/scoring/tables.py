"""Tables that compare saved models: Table II scores, the alarm budget, the default picks.

Read from model cards (`quake.models.store.ModelCard`) and operating curves
(`quake.metrics.curves.OperatingCurve`); nothing here reads a file or imports streamlit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from quake.metrics.curves import OperatingCurve
from quake.models.registry import NEURAL_KINDS
from quake.models.store import ModelCard
from quake.scoring.sweeps import member_names


# -- picking models -------------------------------------------------------------------------
def full_resolution_net(
    card: ModelCard, cards: list[ModelCard] | None = None, _seen: frozenset = frozenset()
) -> bool:
    """A neural model run on the 10 km cells (``pool`` 1, the paper preset): forecasting the
    whole test period takes it minutes on a CPU (about 30 days/s on 2 cores). An ensemble
    counts as one when a member does (nested ensembles too), or when a member is not among
    ``cards`` or leads back to an ensemble on the way (a cycle: unusable, so not fast)."""
    if card.kind == "ensemble":
        members = card.model_args.get("members") or []
        by_name = {c.name: c for c in cards or []}
        seen = _seen | {card.name}
        return any(
            m not in by_name or m in seen or full_resolution_net(by_name[m], cards, seen)
            for m in members
        )
    return (card.kind or "") in NEURAL_KINDS and int(card.model_args.get("pool", 1) or 1) == 1


def best_model(
    cards: list[ModelCard], mc: float = 5.0, prefer_fast: bool = False
) -> ModelCard | None:
    """The model with the highest test PR AUC (all cells) at ``mc``; else the first card.

    ``prefer_fast``: pass over full-resolution nets when another model is scored (the map
    page: their first forecast of the test period takes many minutes on a CPU). A seed
    sweep's other members are passed over (`quake.scoring.seeds`): the best of several
    seeds by a test score is a choice made on the test period.
    """
    apart = member_names([c for c in cards if c.error is None])
    ok = [c for c in cards if c.error is None and c.name not in apart]
    fast = [c for c in ok if not full_resolution_net(c, cards)] if prefer_fast else []
    if fast:
        ok = fast
    scored = [c for c in ok if c.mc == mc and c.score("pr_auc") is not None]
    if scored:
        return max(scored, key=lambda c: c.score("pr_auc") or 0.0)
    return ok[0] if ok else None


def default_curves(curves: dict[str, OperatingCurve], best: int = 5) -> list[str]:
    """Names to draw by default: the naive baselines and the ``best`` others by PR AUC
    (in the given order)."""
    naive = {n for n in curves if n.startswith("naive")}
    others = sorted((n for n in curves if n not in naive), key=lambda n: -curves[n].pr_auc())
    keep = naive | set(others[:best])
    return [n for n in curves if n in keep]


# -- the comparison table -----------------------------------------------------------------
def _float(x: Any) -> float | None:
    try:
        return float(x) if x is not None else None
    except (TypeError, ValueError):
        return None


TABLE_COLUMNS = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC"}
"""The paper's Table II scores (the Molchan diagram is drawn, not tabulated: its area skill
is close to the ROC AUC when targets are rare)."""


def scores_table(cards: list[ModelCard], period: str = "test") -> pd.DataFrame:
    """Table II: one row per model, ROC and PR AUC for each mask.

    Columns: ``model, kind, Mc`` then ``"<score> (<mask>)"`` for masks all and active,
    then ``probability gain @1% (all)``. Missing scores are NaN.
    """
    rows = []
    for c in cards:
        if c.error:
            continue
        row: dict[str, Any] = {"model": c.name, "kind": c.kind, "Mc": c.mc}
        for mask in ("all", "active"):
            for key, title in TABLE_COLUMNS.items():
                v = c.score(key, period, mask)
                row[f"{title} ({mask})"] = math.nan if v is None else v
        gain = c.scores.get(period, {}).get("all", {}).get("probability_gain") or {}
        g1 = gain.get("0.01") if isinstance(gain, dict) else None
        row["gain @1% (all)"] = _float(g1) if g1 is not None else math.nan
        rows.append(row)
    cols = (
        ["model", "kind", "Mc"]
        + [f"{t} ({m})" for m in ("all", "active") for t in TABLE_COLUMNS.values()]
        + ["gain @1% (all)"]
    )
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values(["Mc", "model"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )


# -- alarm budget -------------------------------------------------------------------------
def threshold_for_alarm_fraction(curve: OperatingCurve, fraction: float) -> float:
    """The highest bin edge whose alarms (p >= edge) cover at least ``fraction`` of the pairs.

    That is the sparsest alarm set with alarm fraction >= ``fraction`` (ties within a bin
    are alarmed together, so the fraction reached may be a little higher). O(log n_bins).
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"alarm fraction must lie in (0, 1], got {fraction}")
    pts = curve.operating_points()
    alarms = (pts["tp"] + pts["fp"]).astype(np.float64)  # non-increasing in the edge index
    need = fraction * curve.n_pairs
    r = int(np.searchsorted(alarms[::-1], need, side="left"))
    k = max(0, len(alarms) - 1 - r)
    return float(curve.edges[k])


def operating_row(curve: OperatingCurve, threshold: float) -> dict[str, float | int]:
    """Counts at ``threshold`` plus alarm fraction, miss rate, precision and recall."""
    c = curve.counts_at(float(threshold))
    tp, fn, fp, tn = c["tp"], c["fn"], c["fp"], c["tn"]
    n = curve.n_pairs
    return {
        "threshold": float(threshold),
        "edge": c["edge"],
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "tn": tn,
        "alarm_fraction": (tp + fp) / n if n else math.nan,
        "miss_rate": fn / (tp + fn) if tp + fn else math.nan,
        "precision": tp / (tp + fp) if tp + fp else math.nan,
        "recall": tp / (tp + fn) if tp + fn else math.nan,
    }


def alarm_budget_table(curves: dict[str, OperatingCurve], fraction: float) -> pd.DataFrame:
    """For each model's curve, the operating point at a fixed alarm fraction (misses compared)."""
    rows = []
    for name, curve in curves.items():
        thr = threshold_for_alarm_fraction(curve, fraction)
        rows.append({"model": name, **operating_row(curve, thr)})
    cols = [
        "model",
        "threshold",
        "edge",
        "tp",
        "fn",
        "fp",
        "tn",
        "alarm_fraction",
        "miss_rate",
        "precision",
        "recall",
    ]
    return pd.DataFrame(rows, columns=cols)
