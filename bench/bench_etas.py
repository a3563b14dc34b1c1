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
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quake.data.forecast_data import ForecastData, load_reference  # noqa: E402
from quake.models import create  # noqa: E402
from quake.scoring.evaluate import evaluate  # noqa: E402

GOAL_S = 300.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mc", type=float, default=5.0)
    ap.add_argument("--json", action="store_true", help="print the timings as JSON")
    args = ap.parse_args()

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
