"""Days per second of a recurrent net on the CPU: the input gates near each day's events
only (`quake.models.nets.ConvLSTMNet.sparse_inference`) against one batched convolution of
every day's input gates (the path training uses), in one run.

For each model: ``--days`` consecutive days of the reference catalog from ``--start`` (a
day index; default 7,000, the validation years), once as a warm-up (the state only, what a
first map runs through) and once with the head (the forecasts of a period), each path
``--repeat`` times alternately; the median seconds per day, the ratio, and the largest
difference of the state and of the forecasts between the two paths. Usage::

    .venv/bin/python bench/bench_recurrent_step.py convlstm-paper-m5 convlstm-resid-quick-m5 \\
        --out docs/bench_recurrent_step.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from quake.data.forecast_data import ForecastData, load_reference
from quake.models import Forecaster
from quake.models.nets import ConvLSTMNet

MODELS = Path(__file__).resolve().parent.parent / "models"


def _run(model, events, a: int, b: int, head: bool, sparse: bool):
    ConvLSTMNet.sparse_inference = sparse
    try:
        t0 = time.perf_counter()
        with torch.no_grad():
            delta, state = model.run_days(events, a, b, None, torch.device("cpu"), head=head)
        return time.perf_counter() - t0, delta, state
    finally:
        ConvLSTMNet.sparse_inference = True


def bench(name: str, data_for, start: int, days: int, repeat: int) -> dict:
    model = Forecaster.load(MODELS / name)
    if not getattr(model, "recurrent", False):
        raise SystemExit(f"{name}: not a recurrent net")
    data = data_for(float(model.mc))
    events = model.coarse_events(data)
    a, b = start, start + days
    out: dict = {"model": name, "start": a, "days": days, "grid": list(model.state_shape())}
    for head in (False, True):
        key = "forecast" if head else "warmup"
        times: dict[bool, list[float]] = {False: [], True: []}
        results = {}
        for _ in range(repeat):
            for sparse in (False, True):
                dt, delta, state = _run(model, events, a, b, head, sparse)
                times[sparse].append(dt / days)
                results[sparse] = (delta, state)
        before, after = (statistics.median(times[s]) for s in (False, True))
        pairs = zip(results[False][1], results[True][1], strict=True)
        d_state = max(float((x - y).abs().max()) for x, y in pairs)
        row = {
            "batched_ms_per_day": round(before * 1e3, 2),
            "sparse_ms_per_day": round(after * 1e3, 2),
            "ratio": round(before / after, 2),
            "max_abs_state_diff": d_state,
        }
        if head:
            row["max_abs_delta_diff"] = float((results[False][0] - results[True][0]).abs().max())
        out[key] = row
        print(name, key, row, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--start", type=int, default=7000)
    ap.add_argument("--days", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    catalog = load_reference(None)
    built: dict[float, ForecastData] = {}

    def data_for(mc: float) -> ForecastData:
        if mc not in built:
            built[mc] = ForecastData.build(catalog, mc)
        return built[mc]

    rows = [bench(n, data_for, args.start, args.days, args.repeat) for n in args.models]
    doc = {
        "machine": f"{platform.processor() or platform.machine()}, {args.threads} torch threads",
        "command": " ".join(
            ["bench/bench_recurrent_step.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "rows": rows,
    }
    if args.out:
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
