"""Benchmark of a trained model's final scoring (what ``train`` does after training): the
validation period, then the test period with its scoring summary, in one run of the model
(`quake.scoring.train.OnePass`, `quake.scoring.scorepass.summary_pass`).

Two cases per code tree, each timed in a fresh child process (data and model loading not
timed), alternating the trees ``--repeats`` times so that a shared machine's load falls on
both alike:

- ``model``: a saved model folder (default ``models/convlstm-resid-quick-m5``), with
  ``--threads`` torch threads: the net's forecasts and the host's counting together;
- ``host``: a stand-in model that hands out ready-made probabilities (no compute), so
  only the host's counting is timed: the days/s a scoring run can never exceed, however
  fast the model (a net on a GPU) is.

Each child prints a digest of its curves and summary arrays; the trees must agree on
every integer count (``digest_int``); the weighted sums may differ in the last bits when a
tree adds them in another order (``digest_weights``, rounded to 12 significant digits).

Usage: ``.venv/bin/python bench/bench_scoring.py --code OLD_TREE . [--repeats 3]
[--threads 1] [--model FOLDER] [--out FILE.json]`` (``OLD_TREE``: e.g. a ``git worktree`` of
the commit before).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _report import print_and_save  # bench/, beside this script

ROOT = Path(__file__).resolve().parents[1]


def _digests(curves: dict, summary) -> tuple[str, str]:
    import numpy as np

    ints, floats = hashlib.sha256(), hashlib.sha256()
    for period in sorted(curves):
        for mask in sorted(curves[period]):
            c = curves[period][mask]
            ints.update(c.hist.tobytes())
            if c.whist is not None:
                floats.update(np.array([float(f"{x:.12g}") for x in c.whist.ravel()]).tobytes())
    for m in sorted(summary.block_hist):
        ints.update(summary.block_hist[m].tobytes())
    ints.update(summary.target_p.tobytes())
    for k in sorted(summary.window):
        floats.update(np.round(summary.window[k].astype(np.float64), 9).tobytes())
    return ints.hexdigest()[:16], floats.hexdigest()[:16]


def child(code: str, case: str, folder: str, threads: int) -> dict:
    sys.path.insert(0, code)
    import numpy as np
    import torch

    from quake.data.forecast_data import ForecastData, load_reference
    from quake.models import Forecaster
    from quake.scoring.evaluate import evaluate
    from quake.scoring.scorepass import summary_pass
    from quake.scoring.train import OnePass

    torch.set_num_threads(threads)
    model = Forecaster.load(folder)
    data = ForecastData.build(load_reference(), float(model.mc))
    if case == "host":
        rng = np.random.default_rng(0)
        pool = (rng.random((64, *data.grid.shape), dtype=np.float32) * 0.01).astype(np.float32)

        class Ready:
            kind = "ready-made"

            def predict_days(self, data, start, stop, chunk=64, **kw):
                for a in range(start, stop, chunk):
                    yield a, pool[: min(chunk, stop - a)].copy()

        scorer = Ready()
    else:
        scorer = OnePass(model, data)
    t0, c0 = time.perf_counter(), time.process_time()
    curves = {"validation": evaluate(scorer, data, "validation")}
    curves["test"], summary = summary_pass(scorer, data)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    days = sum(data.days(p)[1] - data.days(p)[0] for p in ("validation", "test"))
    ints, floats = _digests(curves, summary)
    c = curves["test"]["all"]
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "scored_days": days,
        "days_per_s": round(days / wall, 1),
        "digest_int": ints,
        "digest_weights": floats,
        "test_roc_pr_all": [round(c.roc_auc(), 7), c.pr_auc()],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", nargs="+", default=[str(ROOT)], help="code trees to compare")
    ap.add_argument("--model", default=str(ROOT / "models" / "convlstm-resid-quick-m5"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cases", nargs="+", default=["host", "model"], choices=["host", "model"])
    ap.add_argument("--out", default=None)
    ap.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.model, args.threads)))
        return 0
    codes = [str(Path(c).resolve()) for c in args.code]
    runs: dict[str, dict[str, list]] = {c: {k: [] for k in args.cases} for c in codes}
    for r in range(args.repeats):
        order = codes if r % 2 == 0 else codes[::-1]
        for case in args.cases:
            for code in order:
                cmd = [sys.executable, __file__, "--child", code, case, "--model", args.model]
                cmd += ["--threads", str(args.threads)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if out.returncode:
                    print(out.stderr[-3000:], file=sys.stderr)
                    return 1
                runs[code][case].append(json.loads(out.stdout.strip().splitlines()[-1]))
    summary = {}
    for code in codes:
        summary[code] = {
            case: {
                "wall_s": [x["wall_s"] for x in rs],
                "cpu_s": [x["cpu_s"] for x in rs],
                "best_days_per_s": max(x["days_per_s"] for x in rs),
                "digest_int": sorted({x["digest_int"] for x in rs}),
                "digest_weights": sorted({x["digest_weights"] for x in rs}),
                "test_roc_pr_all": rs[0]["test_roc_pr_all"],
            }
            for case, rs in runs[code].items()
        }
    if len(codes) == 2:
        old, new = codes
        summary["ratio_best_wall_new_over_old"] = {
            case: round(min(summary[new][case]["wall_s"]) / min(summary[old][case]["wall_s"]), 3)
            for case in args.cases
        }
    summary["threads"] = args.threads
    summary["model"] = Path(args.model).name
    summary["load_average"] = os.getloadavg()
    print_and_save(summary, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
