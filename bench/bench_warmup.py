"""What a shortened warm-up changes in a recurrent model's test-period forecasts.

A recurrent net's forecast of day T normally runs through every day from the protocol's day 0
(PROTOCOL.md). The map's first day instead starts ``W`` days before T from a zero state
(`NeuralForecaster.predict_days(warmup=W)`). This script runs both in lockstep over the whole
test period of a saved model and reports:

- the largest ``|p_full - p_short|`` over every (day, cell) of the test period (the short run
  warmed for ``W`` days before the period's first day, then carried on through the period);
- the test ROC / PR AUCs (masks all and active, pairs weighted by the naive prior as in
  `quake.scoring.evaluate`) of both runs, to 4 decimals;
- the same maximum for single days in the middle of the period, each forecast alone after
  ``W`` days of warm-up (what the map does for a day it has never seen);
- for other ``W`` the largest difference over the period's first block only.

Usage (about 25 minutes on a 2-core CPU for convlstm-paper-m5)::

    nice .venv/bin/python bench/bench_warmup.py --model convlstm-paper-m5 --warmup 512 \\
        --out docs/warmup_convlstm-paper-m5.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _report import print_and_save  # bench/, beside this script

from quake.data.forecast_data import ForecastData, load_reference
from quake.metrics.scores import OperatingCurve
from quake.models import Forecaster
from quake.scoring.evaluate import prior_for


def _curves(data: ForecastData) -> tuple[dict[str, np.ndarray], dict[str, OperatingCurve]]:
    masks = {m: data.mask(m) for m in ("all", "active")}
    return masks, {m: OperatingCurve.empty() for m in masks}


def _update(curves, masks, weight, y, p) -> None:
    for m, k in masks.items():
        pk = p[:, k]
        curves[m].update(y[:, k], pk, np.broadcast_to(weight[k], pk.shape))


def _aucs(curves: dict[str, OperatingCurve]) -> dict[str, float]:
    out = {}
    for m, c in curves.items():
        out[f"roc_auc_{m}"] = round(float(c.roc_auc()), 4)
        out[f"pr_auc_{m}"] = round(float(c.pr_auc()), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="convlstm-paper-m5")
    ap.add_argument("--warmup", type=int, default=512)
    ap.add_argument("--others", default="256,1024", help="W checked on the first block only")
    ap.add_argument("--samples", type=int, default=3, help="single days checked mid-period")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--test-days", type=int, default=None, help="only the period's first N days (a smoke run)"
    )
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    folder = Path("models") / a.model
    model = Forecaster.load(folder)
    if not getattr(model, "recurrent", False):
        print(f"{a.model} is not a recurrent model: nothing to warm up", file=sys.stderr)
        return 2
    data = ForecastData.build(load_reference(None), float(model.mc or 5.0))
    start, stop = data.days("test")
    if a.test_days:
        stop = min(stop, start + a.test_days)
    weight = prior_for(data, "test").astype(np.float64)
    masks, full_c = _curves(data)
    _, short_c = _curves(data)
    step = max(1, (stop - start) // (a.samples + 1))
    sample_days = [start + step * (i + 1) for i in range(a.samples)]
    kept: dict[int, np.ndarray] = {}
    first_block: np.ndarray | None = None

    def warm(done: int, total: int) -> None:
        if done % 1024 < 256 or done == total:
            print(f"{time.perf_counter() - t0:7.0f} s  warm-up {done}/{total}", file=sys.stderr)

    full = model.predict_days(data, start, stop, 64, on_warmup=warm)
    short = model.predict_days(data, start, stop, 64, warmup=a.warmup)
    dp_max, dp_day, n_days = 0.0, start, 0
    for (fa, pf), (sa, ps) in zip(full, short, strict=True):
        if fa != sa or pf.shape != ps.shape:
            raise RuntimeError(f"blocks out of step: {fa} vs {sa}")
        if first_block is None:
            first_block = pf.copy()
        d = np.abs(pf.astype(np.float64) - ps).reshape(len(pf), -1).max(axis=1)
        if d.max() > dp_max:
            dp_max, dp_day = float(d.max()), fa + int(d.argmax())
        y = data.targets.dense(fa, fa + len(pf)).view(bool)
        _update(full_c, masks, weight, y, pf)
        _update(short_c, masks, weight, y, ps)
        for t in sample_days:
            if fa <= t < fa + len(pf):
                kept[t] = pf[t - fa].copy()
        n_days += len(pf)
        print(
            f"{time.perf_counter() - t0:7.0f} s  day {fa + len(pf) - start}/{stop - start}"
            f"  max|dp| so far {dp_max:.3g}",
            file=sys.stderr,
            flush=True,
        )
    singles = []
    for t in sample_days:
        (_, p1), *_ = list(model.predict_days(data, t, t + 1, 1, warmup=a.warmup))
        singles.append(
            {"day": t, "max_abs_dp": float(np.abs(p1[0].astype(np.float64) - kept[t]).max())}
        )
    others = []
    assert first_block is not None
    for w in [int(x) for x in a.others.split(",") if x.strip()]:
        n = len(first_block)
        (_, p), *_ = list(model.predict_days(data, start, start + n, n, warmup=w))
        others.append(
            {"warmup": w, "first_block_days": n, "max_abs_dp": float(np.abs(p - first_block).max())}
        )
    result = {
        "model": a.model,
        "warmup_days": a.warmup,
        "test_days": n_days,
        "whole_test_period": n_days == data.days("test")[1] - start,
        "full_warmup_days": start,
        "max_abs_dp": dp_max,
        "max_abs_dp_day": dp_day,
        "full": _aucs(full_c),
        "short": _aucs(short_c),
        "single_days": singles,
        "other_warmups_first_block": others,
        "seconds": round(time.perf_counter() - t0, 1),
        "torch_threads": a.threads,
    }
    print_and_save(result, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
