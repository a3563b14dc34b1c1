"""Host-side costs around a paper-preset net (issue #14, part 1): what the CPU does per
training step and per 64 forecast days besides the net itself.

On a GPU the net's step is short (~50 ms for the paper preset on an H100, docs/NEURAL.md),
so anything the host does per step or per day can dominate. Measured here on the Japan
protocol at Mc 5 and the paper preset's 200 x 250 cells, median of ``--repeats`` runs:

- ``inputs_step_ms``: the input maps of one training step (2 streams x 30 days, numpy);
- ``targets_step_ms``: its labels;
- ``bin_host_ms`` / ``bin_torch_ms``: binning 64 days of scores of one mask (every cell)
  into an `OperatingCurve` with numpy, and with `quake.models.device_curves` (torch, here
  on the CPU: the code a GPU runs);
- ``sigmoid_numpy_ms`` / ``sigmoid_torch_ms``: 64 days of 10 km probabilities from float64
  logits, the host formula predict_days used before and the torch one it uses now.

Usage: ``.venv/bin/python bench/bench_host_costs.py [--repeats 7] [--out FILE.json]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from _report import print_and_save  # bench/, beside this script

ROOT = Path(__file__).resolve().parents[1]


def _ms(f, repeats: int) -> float:
    f()  # one-off allocations
    times = []
    for _ in range(repeats):
        a = time.perf_counter()
        f()
        times.append(time.perf_counter() - a)
    return round(1e3 * statistics.median(times), 2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import torch

    from quake.data.forecast_data import ForecastData, load_reference
    from quake.metrics.curves import OperatingCurve
    from quake.models.device_curves import DeviceCurve
    from quake.models.neural import build

    torch.set_num_threads(1)
    data = ForecastData.build(load_reference(), 5.0)
    model = build("convlstm-resid", "paper")
    model.set_base(data, final=False)
    events = model.coarse_events(data)
    starts = [3000, 6000]
    n = 64
    rng = np.random.default_rng(0)
    p = (rng.random((n, data.grid.n_cells), dtype=np.float32) * 1e-3).astype(np.float32)
    y = data.targets.dense(7000, 7000 + n).reshape(n, -1).astype(bool)
    pt, yt = torch.from_numpy(p), torch.from_numpy(y)
    z = model.base_logit() + rng.normal(0.0, 1.0, (n, *data.grid.shape))
    zt = torch.from_numpy(z)

    def sigmoid_numpy():
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.float32)

    r = args.repeats
    out = {
        "inputs_step_ms": _ms(
            lambda: np.stack([model.inputs(events, s, s + 30) for s in starts]), r
        ),
        "targets_step_ms": _ms(
            lambda: np.stack([data.targets.dense(s, s + 30) for s in starts]), r
        ),
        "bin_host_ms": _ms(lambda: OperatingCurve.empty().update(y, p), r),
        "bin_torch_ms": _ms(lambda: DeviceCurve("cpu").update(yt, pt).curve(), r),
        "sigmoid_numpy_ms": _ms(sigmoid_numpy, r),
        "sigmoid_torch_ms": _ms(lambda: torch.sigmoid(zt).float().numpy(), r),
        "days": n,
        "cells": data.grid.n_cells,
        "threads": 1,
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print_and_save(out, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
