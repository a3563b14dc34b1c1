"""Seed spread: the members of each seed sweep (`quake.scoring.sweeps`) with the mean and
sample standard deviation of each Table II score over the seeds.

A network's score moves from seed to seed (and from epoch to epoch: docs/NEURAL.md), so a
Table II row of a neural kind is read as ``mean ± sd`` over its seeds (`seed_table`,
`format_mean_sd`, `spread_text`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from quake.models.store import ModelCard
from quake.scoring.sweeps import by_first, member_names, seed_groups
from quake.scoring.tables import TABLE_COLUMNS

MASKS = ("all", "active")


def mean_sd(values: list[float]) -> tuple[float, float, int]:
    """``(mean, sample sd, n)`` of the finite values (sd NaN below two values)."""
    x = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if len(x) == 0:
        return math.nan, math.nan, 0
    sd = float(x.std(ddof=1)) if len(x) >= 2 else math.nan
    return float(x.mean()), sd, len(x)


def seed_table(cards: list[ModelCard], period: str = "test") -> pd.DataFrame:
    """One row per seed sweep: ``model, kind, Mc, seeds`` and for each Table II score and
    mask ``"<score> (<mask>)"`` (the mean) and ``"<score> (<mask>) sd"``."""
    rows = []
    for base, members in seed_groups(cards).items():
        first = members[0]
        row: dict = {"model": base, "kind": first.kind, "Mc": first.mc, "seeds": len(members)}
        for mask in MASKS:
            for key, title in TABLE_COLUMNS.items():
                mean, sd, _ = mean_sd([c.score(key, period, mask) for c in members])
                row[f"{title} ({mask})"] = mean
                row[f"{title} ({mask}) sd"] = sd
        rows.append(row)
    cols = ["model", "kind", "Mc", "seeds"] + [
        f"{t} ({m}){s}" for m in MASKS for t in TABLE_COLUMNS.values() for s in ("", " sd")
    ]
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values(["Mc", "model"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )


def format_mean_sd(mean: float, sd: float, digits: int = 4) -> str:
    """``"0.9312 ± 0.0041"`` (``"0.9312"`` without an sd, ``"–"`` without a mean)."""
    if not math.isfinite(mean):
        return "–"
    if not math.isfinite(sd):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def spread_text(
    cards: list[ModelCard], key: str, digits: int, period: str = "test", mask: str = "all"
) -> str:
    """``"0.8871 ± 0.0006"``: a score's mean ± sample sd over the cards (`format_mean_sd`)."""
    mean, sd, _ = mean_sd([c.score(key, period, mask) for c in cards])
    return format_mean_sd(mean, sd, digits)


def fold_seeds(table: pd.DataFrame, cards: list[ModelCard], period: str = "test") -> pd.DataFrame:
    """Table II (`quake.scoring.tables.scores_table`) with each seed sweep on one row: the
    members but the first dropped, the first's row given ``seeds`` (how many) and
    ``"<score> (all) over seeds"`` (``mean ± sd`` text) columns; the table unchanged when
    there is no sweep."""
    groups = by_first(seed_groups(cards))
    if not groups:
        return table
    members = member_names(cards)
    out = table[~table["model"].isin(members)].reset_index(drop=True)
    out["seeds"] = [len(groups[n]) if n in groups else 1 for n in out["model"]]
    for key, title in TABLE_COLUMNS.items():
        digits = 5 if key == "pr_auc" else 4
        out[f"{title} (all) over seeds"] = [
            spread_text(groups[n], key, digits, period) if n in groups else "" for n in out["model"]
        ]
    return out
