"""Where a network's training and forecasting spend their time (issue #14, part 1: profile first).

Builds the Japan protocol's data at Mc 5 and a fresh model of ``--kind`` with ``--preset``,
then profiles, in one process:

- ``--steps`` training steps of the real loop (`quake.models.training.fit_network`, stopped
  through ``should_stop``; the first step's one-off set-up included, as an epoch pays it),
- ``predict_days`` over ``--infer-days`` days from day 0 (the 10 km probabilities included),

under ``torch.profiler`` (CPU, and CUDA kernels on ``--device cuda``) and ``cProfile`` at the
same time. The report: wall seconds of each part, the torch operators by self time (device
time first on a GPU), and the Python functions of ``quake/`` by cumulative time, which show
the host-side work torch does not see (building the dense day maps, the 10 km upsampling,
the targets). Text to stdout or ``--out``; ``--json`` adds the rows as JSON.

Usage::

    .venv/bin/python bench/profile_train.py --preset quick --out docs/profile_quick_cpu.txt
    python bench/profile_train.py --preset paper --device cuda --steps 40 --out OUT.txt
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def quake_functions(prof: cProfile.Profile, top: int) -> list[dict]:
    """The ``top`` functions defined under ``quake/`` by cumulative seconds."""
    stats = pstats.Stats(prof, stream=io.StringIO())
    rows = []
    for (path, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():
        p = Path(path)
        if "quake" not in p.parts or ".venv" in p.parts:
            continue
        where = "/".join(p.parts[p.parts.index("quake") :])
        rows.append(
            {
                "function": f"{where}:{line}({name})",
                "calls": calls,
                "self_s": round(tottime, 3),
                "cumulative_s": round(cumtime, 3),
            }
        )
    rows.sort(key=lambda r: -r["cumulative_s"])
    return rows[:top]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", default="convlstm-resid")
    ap.add_argument("--preset", default="quick", choices=["quick", "paper"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=20, help="training steps profiled")
    ap.add_argument("--infer-days", type=int, default=256, help="days forecast, profiled")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--rows", type=int, default=25, help="rows of each table")
    ap.add_argument("--out", type=Path, default=None, help="write the report here too")
    ap.add_argument("--json", action="store_true", help="append the rows as JSON")
    a = ap.parse_args(argv)

    import torch
    from torch.profiler import ProfilerActivity, profile

    from quake.data.forecast_data import ForecastData, load_reference
    from quake.models.neural import build
    from quake.models.training import fit_network

    if a.threads:
        torch.set_num_threads(a.threads)
    cuda = a.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device here")
    data = ForecastData.build(load_reference(), 5.0)
    model = build(a.kind, a.preset, train_args={"epochs": 1, "device": a.device})
    steps: list[float] = []
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    py = cProfile.Profile()
    wall: dict[str, float] = {}
    with profile(activities=activities) as prof:
        py.enable()
        t0 = time.perf_counter()
        fit_network(
            model,
            data,
            model.train_config,
            lambda _e: steps.append(time.perf_counter()),
            should_stop=lambda: len(steps) >= a.steps,
        )
        if cuda:
            torch.cuda.synchronize()
        wall["train"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        n = sum(len(p) for _, p in model.predict_days(data, 0, a.infer_days, chunk=64))
        if cuda:
            torch.cuda.synchronize()
        wall["forecast"] = time.perf_counter() - t0
        py.disable()
    sort = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    step_s = (steps[-1] - steps[0]) / max(1, len(steps) - 1) if len(steps) >= 2 else float("nan")
    head = [
        f"# profile: {a.kind}, preset {a.preset}, device {a.device}"
        + (f" ({torch.cuda.get_device_name(0)})" if cuda else "")
        + f", torch {torch.__version__}, {torch.get_num_threads()} CPU threads",
        f"training: {len(steps)} steps in {wall['train']:.2f} s (set-up included; "
        f"{step_s:.3f} s a step after the first)",
        f"forecast: {n} days in {wall['forecast']:.2f} s ({n / wall['forecast']:.1f} days/s, "
        "from day 0, 10 km probabilities included)",
        "",
        f"## torch operators by {sort.replace('_', ' ')}",
        "",
        prof.key_averages().table(sort_by=sort, row_limit=a.rows),
        "## quake/ functions by cumulative seconds (cProfile; host-side work included)",
        "",
    ]
    funcs = quake_functions(py, a.rows)
    width = max(len(r["function"]) for r in funcs) if funcs else 10
    lines = [f"{'function':{width}}  {'calls':>8}  {'self s':>8}  {'cum s':>8}"]
    for r in funcs:
        name, calls, own, cum = r["function"], r["calls"], r["self_s"], r["cumulative_s"]
        lines.append(f"{name:{width}}  {calls:8d}  {own:8.3f}  {cum:8.3f}")
    text = "\n".join(head + lines) + "\n"
    if a.json:
        ops = [
            {
                "op": e.key,
                "calls": e.count,
                "self_cpu_s": round(e.self_cpu_time_total / 1e6, 4),
                "self_device_s": round(getattr(e, "self_device_time_total", 0.0) / 1e6, 4),
            }
            for e in sorted(
                prof.key_averages(), key=lambda e: -getattr(e, sort.replace("cuda", "device"), 0)
            )[: a.rows]
        ]
        text += "\n" + json.dumps({"wall_s": wall, "ops": ops, "quake": funcs}, indent=1) + "\n"
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
