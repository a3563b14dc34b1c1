"""Coverage of the block-bootstrap intervals (`quake.metrics.bootstrap`) where the truth is
known: simulated cell-days with the protocol's target window, two fixed forecasts.

Each of ``--cells`` cells has a fixed rate of events; rare bursts multiply it for
``--burst`` days (clustering). The target of day T is "an event in [T + 10, T + 50)", so
targets of neighbouring days share most of their window, as in the real protocol. Model A
and model B are fixed noisy copies of the true rates. Their population ROC / PR AUC (and
the difference) come from one long run; each replicate is a test period of ``--days``
days, scored as the pipeline does (per-block histograms on the coarse bins, fine-bin point
values), and the 95 % intervals are checked for covering the truth. ``--runs``: the
bootstrap's blocks per run to compare (1: blocks drawn one by one); ``--plain``: also the
plain percentile intervals beside the expanded ones the pipeline uses (keys ``RUN-plain``).

    .venv/bin/python bench/bootstrap_coverage.py --replicates 200 \
        --out docs/bench_bootstrap_coverage.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _report import print_and_save  # bench/, beside this script

from quake.metrics import bootstrap
from quake.metrics.bins import BinDesign
from quake.metrics.curves import OperatingCurve
from quake.scoring.scorepass import BLOCK_DAYS, COARSE_DESIGN

FINE = BinDesign()
LEAD, HORIZON = 10, 50


def simulate(rates: np.ndarray, n_days: int, burst: int, rng: np.random.Generator) -> np.ndarray:
    """Targets ``(n_days, cells)``: an event in ``[T + LEAD, T + HORIZON)``."""
    n = n_days + HORIZON
    starts = rng.random((n, rates.size)) < 2e-4
    active = np.cumsum(starts, axis=0)
    active[burst:] -= active[:-burst].copy()  # bursts started in the last ``burst`` days
    events = rng.poisson(rates * (1.0 + (900.0 / burst) * active)) > 0
    csum = np.vstack([np.zeros((1, rates.size)), np.cumsum(events, axis=0)])
    t = np.arange(n_days)
    return (csum[t + HORIZON] - csum[t + LEAD]) > 0


def curve(y: np.ndarray, p: np.ndarray) -> OperatingCurve:
    return OperatingCurve(FINE).update(y, np.broadcast_to(p, y.shape))


def block_hists(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-block coarse histograms ``(n_blocks, 2, n_bins)``; the remainder joins the last."""
    nb = max(1, len(y) // BLOCK_DAYS)
    block = np.minimum(np.arange(len(y)) // BLOCK_DAYS, nb - 1)
    k = COARSE_DESIGN.bin_index(p)
    m = COARSE_DESIGN.n_bins
    out = np.zeros((nb, 2, m), dtype=np.int64)
    for b in range(nb):
        yy = y[block == b]
        idx = np.broadcast_to(k, yy.shape) + m * yy
        out[b] = np.bincount(idx.ravel(), minlength=2 * m).reshape(2, m)
    return out


def inside(ci: list[float], x: float) -> bool:
    return ci[0] <= x <= ci[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", type=int, default=300)
    ap.add_argument("--days", type=int, default=3200)
    ap.add_argument("--burst", type=int, default=1, help="days a burst lasts")
    ap.add_argument("--replicates", type=int, default=200)
    ap.add_argument("--runs", type=int, nargs="+", default=[1, bootstrap.RUN_BLOCKS])
    ap.add_argument(
        "--plain",
        action="store_true",
        help="also plain percentile intervals (keys RUN-plain) beside the expanded ones",
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    clock = time.perf_counter()
    rng = np.random.default_rng(7)
    rates = rng.lognormal(np.log(2e-4), 1.2, args.cells)
    pa, pb = (
        (1 - np.exp(-40 * rates * rng.lognormal(0, 0.7, args.cells))).astype(np.float32)
        for _ in range(2)
    )
    long = simulate(rates, 200_000, args.burst, np.random.default_rng(99))
    ta, tb = curve(long, pa), curve(long, pb)
    truth = {
        "roc_auc": ta.roc_auc(),
        "pr_auc": ta.pr_auc(),
        "roc_auc_diff": ta.roc_auc() - tb.roc_auc(),
        "pr_auc_diff": ta.pr_auc() - tb.pr_auc(),
    }
    keys = list(truth)
    ways = [(r, True) for r in args.runs] + ([(r, False) for r in args.runs] if args.plain else [])
    names = {(r, e): str(r) if e else f"{r}-plain" for r, e in ways}
    hits = {names[w]: dict.fromkeys(keys, 0) for w in ways}
    width = {names[w]: dict.fromkeys(keys, 0.0) for w in ways}
    estimates = {k: [] for k in keys}
    for i in range(args.replicates):
        y = simulate(rates, args.days, args.burst, np.random.default_rng(1000 + i))
        fa, fb = curve(y, pa), curve(y, pb)
        ha, hb = block_hists(y, pa), block_hists(y, pb)
        point = {"roc_auc": fa.roc_auc(), "pr_auc": fa.pr_auc()}
        diff = {"roc_auc": fa.roc_auc() - fb.roc_auc(), "pr_auc": fa.pr_auc() - fb.pr_auc()}
        for k in ("roc_auc", "pr_auc"):
            estimates[k].append(point[k])
            estimates[f"{k}_diff"].append(diff[k])
        for run, expand in ways:
            one = bootstrap.intervals(ha, point=point, run=run, expand=expand)
            two = bootstrap.paired_intervals(ha, hb, point_diff=diff, run=run, expand=expand)
            name = names[(run, expand)]
            cis = {
                "roc_auc": one["roc_auc_ci"],
                "pr_auc": one["pr_auc_ci"],
                "roc_auc_diff": two["roc_auc_diff_ci"],
                "pr_auc_diff": two["pr_auc_diff_ci"],
            }
            for k in keys:
                hits[name][k] += inside(cis[k], truth[k])
                width[name][k] += (cis[k][1] - cis[k][0]) / 3.92 / args.replicates
    n = args.replicates
    doc = {
        "command": "bench/bootstrap_coverage.py "
        + " ".join(f"--{k} {v}" for k, v in vars(args).items() if k != "out"),
        "truth": truth,
        "sd_across_replicates": {k: float(np.std(v, ddof=1)) for k, v in estimates.items()},
        # "bootstrap_sd": the mean interval width / 3.92 (the sd if it were normal)
        "by_run": {
            name: {"coverage": {k: hits[name][k] / n for k in keys}, "bootstrap_sd": width[name]}
            for name in hits
        },
        "seconds": round(time.perf_counter() - clock, 1),
    }
    print_and_save(doc, args.out)


if __name__ == "__main__":
    main()
