"""Benchmark of the ``etas`` forecaster on the Japan protocol (reference catalog).

Stages, each timed once in one process on this machine:

  fit (train)        maximum likelihood on 1992-2006 events >= m0, the history triggering
  fit (final)        the same on train + validation (the test-period model)
  prepare            the events' cell footprints and window weights (`EtasCounts`), once
                     per catalog: the fixed cost of a first forecast
  forecast test      every test day (3,237 days x 50,000 cells) after the preparation
  evaluate test      `quake.scoring.evaluate` of the test period, both masks (prepare +
                     forecast + curves), the number in model.json's ``eval_seconds``

Goal: the whole test period scored in a few minutes on 2 shared cores (< 300 s).

Usage: ``nice .venv/bin/python bench/bench_etas.py [--mc 5] [--json]`` (exit 1 when the
goal is missed).

``--quadrature N [--model etas-m5]``: instead, the saved model's footprints by the fast rule
and by the polar reference (`quake.models.etas_forecast.cell_footprints`, ``fast=False``),
each timed, and over N test days spread evenly over the test period the largest change of
a cell's footprint (per unit of its event's mass), of its probability (absolute and
relative) and of the ROC/PR AUC of those days (exit 1 when max |dp| > 2e-5).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from quake.data.forecast_data import ForecastData, load_reference  # noqa: E402
from quake.metrics.curves import OperatingCurve  # noqa: E402
from quake.models import Forecaster, create  # noqa: E402
from quake.models.etas_forecast import EtasCounts, poisson_probability  # noqa: E402
from quake.scoring.evaluate import evaluate  # noqa: E402

GOAL_S = 300.0
DP_GOAL = 2e-5


def quadrature(name: str, n_days: int) -> int:
    """The fast footprints against the polar reference for a saved model (see above)."""
    model = Forecaster.load(ROOT / "models" / name)
    data = ForecastData.build(load_reference(), float(model.mc))
    start, stop = data.days("test")
    days = np.linspace(start, stop - 1, n_days).round().astype(np.int64)
    pts, p, proto = data.points, model.params, data.protocol
    kw = dict(mc=data.mc, last_day=stop - 1, lead_days=proto.lead_days)
    kw |= dict(horizon_days=proto.horizon_days, cascade=model.config.cascade)
    args = (p, pts.t_days, pts.x_km, pts.y_km, pts.magnitude, data.grid)
    engines, out = {}, {}
    for fast in (True, False):
        t0 = time.perf_counter()
        engines[fast] = EtasCounts(*args, model.background.reshape(-1), fast=fast, **kw)
        out[f"footprints {'fast' if fast else 'polar'} s"] = time.perf_counter() - t0
    diff = abs(engines[True].footprints - engines[False].footprints)
    out["max |dS| / event mass"] = float(diff.max())
    pf = poisson_probability(engines[True].counts(days))
    pp = poisson_probability(engines[False].counts(days))
    out["max |dp|"] = float(np.abs(pf - pp).max())
    out["max |dp| / p"] = float((np.abs(pf - pp) / pp).max())
    y = np.concatenate([data.targets.dense(int(t), int(t) + 1) for t in days]).reshape(
        len(days), -1
    )
    for label, probs in (("fast", pf), ("polar", pp)):
        curve = OperatingCurve().update(y != 0, probs)  # these days only, unweighted
        out[f"ROC AUC {label}"] = curve.roc_auc()
        out[f"PR AUC {label}"] = curve.pr_auc()
    out["days"] = float(n_days)
    for k, v in out.items():
        print(f"{k:<24} {v:.6g}")
    ok = out["max |dp|"] <= DP_GOAL
    print(f"goal: max |dp| <= {DP_GOAL:g}: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mc", type=float, default=5.0)
    ap.add_argument("--json", action="store_true", help="print the timings as JSON")
    ap.add_argument("--quadrature", type=int, default=0, metavar="N", help="see the docstring")
    ap.add_argument("--model", default="etas-m5", help="saved model for --quadrature")
    args = ap.parse_args()
    if args.quadrature:
        return quadrature(args.model, args.quadrature)

    data = ForecastData.build(load_reference(), args.mc)
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    create("etas").fit(data, final=False)
    out["fit (train)"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    model = create("etas").fit(data, final=True)
    out["fit (final)"] = time.perf_counter() - t0

    start, stop = data.days("test")
    t0 = time.perf_counter()
    model._engine(data, stop - 1)  # the footprints, once
    out["prepare"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in model.predict_days(data, start, stop):
        pass
    out["forecast test"] = time.perf_counter() - t0

    fresh = create("etas").fit(data, final=True)
    t0 = time.perf_counter()
    curves = evaluate(fresh, data, "test")
    out["evaluate test"] = time.perf_counter() - t0
    out["days"] = float(stop - start)
    out["pr_auc (all)"] = curves["all"].pr_auc()

    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for k, v in out.items():
            print(f"{k:<16} {v:10.4g}")
    ok = out["evaluate test"] < GOAL_S
    print(f"goal: evaluate test < {GOAL_S:.0f} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
