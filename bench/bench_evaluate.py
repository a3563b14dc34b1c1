"""Benchmark of the measuring instrument (quake.scoring.evaluate) on the Japan protocol, Mc 5.

Cases (test period: 3,237 days x 50,000 cells = 161.85 M pairs, both masks at once):

  naive (per cell)   `evaluate` of the naive baseline: its per-cell fast path
  naive (per pair)   the same forecast streamed pair by pair (what any other model costs
                     in `evaluate` besides its own predict_days)
  ri, xgb-rtl,       `evaluate` of the saved model folders models/<kind>-m5 (skipped when
  xgb-indicator      absent; ``python -m quake fit --model KIND --mc 5 --out models/KIND-m5``)
  threshold query    confusion counts at one threshold from the ri curve (``counts_at``)
                     against recounting them from the raw scores of the active mask
                     (25 M pairs, materialised once, not timed)

The synthetic 50 M-pair benchmark of the curve itself (update ns/pair, query vs recount
on raw arrays) is bench/bench_metrics.py; this one measures the real models end to end.

Goals: naive per cell < 1 s; every baseline's evaluate < 300 s on 2 shared cores.

Usage: ``nice .venv/bin/python bench/bench_evaluate.py [--models naive,ri,...] [--json]``
(exit code 1 when a goal is missed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quake.data.forecast_data import ForecastData, load_reference  # noqa: E402
from quake.models import create, load_model  # noqa: E402
from quake.scoring.evaluate import evaluate  # noqa: E402

GOAL_S = {"naive (per cell)": 1.0}
GOAL_EVAL_S = 300.0
KINDS = ("naive", "ri", "xgb-rtl", "xgb-indicator")


class PerPair:
    """A model without its per-cell fast path."""

    def __init__(self, model):
        self.model, self.kind = model, model.kind

    def predict_days(self, data, start, stop, chunk=64):
        return self.model.predict_days(data, start, stop, chunk)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def threshold_query(model, data: ForecastData, curve) -> dict[str, float]:
    """Seconds per confusion-count query: from the curve vs from the raw active-mask scores."""
    start, stop = data.days("test")
    keep = data.mask("active")
    p = np.concatenate([b[:, keep] for _, b in model.predict_days(data, start, stop)])
    y = data.targets.dense(start, stop)[:, keep].astype(bool)
    # A protocol threshold (an exact bin edge), as float64: the curve compares float32
    # scores with it exactly, whereas NumPy would cast a Python float down to float32.
    t = np.float64(data.protocol.thresholds[0])
    raw_counts = (int((y & (p >= t)).sum()), int((~y & (p >= t)).sum()))
    got = curve.counts_at(t)
    assert (got["tp"], got["fp"]) == raw_counts, (got, raw_counts)
    n = 20
    curve_s = timeit.timeit(lambda: curve.counts_at(t), number=1000) / 1000
    raw_s = timeit.timeit(lambda: ((y & (p >= t)).sum(), (~y & (p >= t)).sum()), number=n) / n
    return {"pairs": int(p.size), "curve_query_s": curve_s, "raw_recount_s": raw_s}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(KINDS))
    ap.add_argument("--models-dir", type=Path, default=ROOT / "models")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    data = ForecastData.build(load_reference(), 5.0)
    out: dict[str, dict] = {}
    ri_curve = ri_model = None
    for kind in args.models.split(","):
        if kind == "naive":
            naive = create("naive").fit(data, final=True)
            c, s = timed(lambda m=naive: evaluate(m, data, "test"))
            out["naive (per cell)"] = {"seconds": s, "roc_auc_all": c["all"].roc_auc()}
            c, s = timed(lambda m=naive: evaluate(PerPair(m), data, "test"))
            out["naive (per pair)"] = {"seconds": s, "roc_auc_all": c["all"].roc_auc()}
            continue
        folder = args.models_dir / f"{kind}-m5"
        if not (folder / "model.json").is_file():
            print(f"skip {kind}: no {folder}", file=sys.stderr)
            continue
        model = load_model(folder)
        c, s = timed(lambda m=model: evaluate(m, data, "test"))
        out[kind] = {
            "seconds": s,
            "roc_auc_all": c["all"].roc_auc(),
            "pr_auc_all": c["all"].pr_auc(),
        }
        if kind == "ri":
            ri_model, ri_curve = model, c["active"]
    if ri_model is not None:
        out["threshold query (ri, active)"] = threshold_query(ri_model, data, ri_curve)
    ok = all(v.get("seconds", 0) <= GOAL_S.get(k, GOAL_EVAL_S) for k, v in out.items())
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for k, v in out.items():
            print(f"{k:<30} " + "  ".join(f"{a} {b:.4g}" for a, b in v.items()))
        print("goals met" if ok else "GOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
