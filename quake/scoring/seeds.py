"""Seed spread: the saved members of a seed sweep (``NAME-s0``, ``NAME-s1``, ... as written by
``python -m quake train ... --seeds N``) grouped, with the mean and sample standard
deviation of each Table II score over the seeds.

A network's score moves from seed to seed (and from epoch to epoch: docs/NEURAL.md), so a
Table II row of a neural kind is read as ``mean ± sd`` over its seeds (`seed_table`,
`format_mean_sd`). Only members that agree on kind, Mc and preset are grouped.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

import numpy as np
import pandas as pd

from quake.models.store import ModelCard
from quake.scoring.tables import TABLE_COLUMNS

SEED_NAME = re.compile(r"(?P<base>.+)-s(?P<seed>\d{1,4})")
"""A seed member's folder name: the sweep's name, ``-s``, the seed's index."""

MASKS = ("all", "active")


def seed_member_names(name: str, n: int) -> list[str]:
    """The member folder names of an ``n``-seed sweep called ``name``."""
    return [f"{name}-s{i}" for i in range(n)]


def seed_groups(cards: list[ModelCard]) -> dict[str, list[ModelCard]]:
    """``{sweep name: member cards by seed index}`` for sweeps of two or more readable
    members that share kind, Mc and preset (members that disagree are left out)."""
    found: dict[tuple, list[tuple[int, ModelCard]]] = defaultdict(list)
    for c in cards:
        m = SEED_NAME.fullmatch(c.name)
        if c.error or m is None:
            continue
        found[(m["base"], c.kind, c.mc, c.preset)].append((int(m["seed"]), c))
    out: dict[str, list[ModelCard]] = {}
    for (base, *_), members in sorted(found.items(), key=lambda kv: str(kv[0])):
        if len(members) >= 2 and base not in out:
            out[base] = [c for _, c in sorted(members, key=lambda t: t[0])]
    return out


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
